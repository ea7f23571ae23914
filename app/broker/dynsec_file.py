"""Device accounts written straight into the dynamic-security plugin's file, in bulk.

Why: Mosquitto 2.0's plugin (2.0.11 is Debian 12's) saves its whole configuration after every
command that changes it (``dynsec__config_save()`` at the end of ``createClient``,
``createRole``, ``setClientPassword``, ``deleteClient`` ... in plugins/dynamic-security/*.c),
not once per control message: it builds the whole JSON tree, prints it and rewrites the file.
So each command costs time proportional to the accounts already there, and batching commands
in one message saves only the round trips (docs/benchmarks.md, "Park at 100,000 devices").
The plugin reads its file only at start (no reload on SIGHUP in 2.0), so the bulk path is:
stop the broker, edit the file here, start it again (``bulk_apply`` in app/broker/bulk.py).

The file's format, as ``dynsec__config_load`` reads it: ``roles`` (``rolename``, ``acls``:
``acltype``, ``topic``, ``priority``, ``allow``) and ``clients`` (``username``, ``roles``,
``password``, ``salt``, ``iterations``). A password is PBKDF2-HMAC-SHA512 with a 12-byte
random salt and 101 iterations (``PW_DEFAULT_ITERATIONS``, src/password_mosq.h), the 64-byte
hash and the salt each in standard base64 with padding, exactly what ``createClient`` stores.
Accounts and roles are the same as the live path makes (app/broker/dynsec.py).

Never edit the file of a running broker: its next change would overwrite the edit from memory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from app.broker.dynsec import device_role, device_username, role_acls

SALT_BYTES = 12  # SALT_LEN in Mosquitto 2.0's src/password_mosq.h
ITERATIONS = 101  # PW_DEFAULT_ITERATIONS there

Entry = dict[str, Any]


def hash_password(password: str, salt: bytes | None = None) -> Entry:
    """The ``password``, ``salt`` and ``iterations`` fields of a dynsec client."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


def check_password(client: Entry, password: str) -> bool:
    """Whether ``password`` matches the client's stored hash (as the broker checks it)."""
    salt = base64.b64decode(client["salt"])
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(client["iterations"]))
    return secrets.compare_digest(base64.b64encode(digest).decode(), client["password"])


class DynsecFile:
    """The plugin's file in memory, indexed by username and role name; ``save`` writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree: Entry = orjson.loads(path.read_bytes()) if path.exists() else {}
        self.clients: dict[str, Entry] = {c["username"]: c for c in self.tree.get("clients", [])}
        self.roles: dict[str, Entry] = {r["rolename"]: r for r in self.tree.get("roles", [])}

    def ensure_devices(self, park_id: str, accounts: Iterable[tuple[str, str]]) -> int:
        """Create or re-create each device's role (today's ACLs) and account with its
        password (the account's other roles are kept); returns how many."""
        count = 0
        for device_id, password in accounts:
            role = device_role(park_id, device_id)
            self.roles[role] = {"rolename": role, "acls": role_acls(park_id, device_id)}
            username = device_username(park_id, device_id)
            client = self.clients.get(username) or {"username": username, "roles": []}
            client.pop("clientid", None)  # any client id, as the live path leaves it
            if not any(r.get("rolename") == role for r in client["roles"]):
                client["roles"].append({"rolename": role})
            client.update(hash_password(password))
            self.clients[username] = client
            count += 1
        return count

    def set_passwords(self, park_id: str, accounts: Iterable[tuple[str, str]]) -> int:
        """New passwords for existing accounts (missing ones are made); returns how many."""
        return self.ensure_devices(park_id, accounts)

    def delete_devices(self, park_id: str, device_ids: Iterable[str]) -> int:
        """Remove each device's account and role; returns how many accounts were there."""
        removed = 0
        for device_id in device_ids:
            removed += self.clients.pop(device_username(park_id, device_id), None) is not None
            self.roles.pop(device_role(park_id, device_id), None)
        return removed

    def device_count(self) -> int:
        return sum(":" in name for name in self.clients)

    def save(self) -> None:
        """Write atomically (``.new`` then rename, as the plugin does), keeping the file's
        owner and mode (the broker's user reads it; nobody else may)."""
        self.tree["clients"] = list(self.clients.values())
        self.tree["roles"] = list(self.roles.values())
        self.tree.setdefault("groups", [])
        tmp = self.path.with_name(self.path.name + ".bulk")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(self.tree))
        if self.path.exists():
            stat = self.path.stat()
            tmp.chmod(stat.st_mode & 0o777)
            if os.geteuid() == 0:
                os.chown(tmp, stat.st_uid, stat.st_gid)
        tmp.replace(self.path)
