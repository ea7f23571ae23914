"""MQTT accounts through Mosquitto 2's dynamic-security plugin.

Commands go to ``$CONTROL/dynamic-security/v1`` as JSON and the answers come back on
``.../response`` with our ``correlationData``. Each device gets an account named
``{park_id}:{device_id}`` (``:`` is outside the identifier alphabet, so the name is unambiguous)
and a role of its own allowing it to publish only on ``parks/{park_id}/devices/{device_id}/
telemetry`` and ``.../status``, and to subscribe only within ``parks/{park_id}/devices/
{device_id}/#``. The broker's default ACL denies every other publish and subscribe.

Device accounts carry no client id: devices connect with any. The listeners devices reach use
the username as the client id (``use_username_as_clientid``, app/embedded/mosquitto.py,
deploy/mosquitto.conf), so a device's session is always its own and it can never present the
ingestor's (or any other client's) id. The service accounts (ingest, api) and their roles are in
app/broker/accounts.py.
"""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from app.core.mqtt import MqttTarget, new_client

logger = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
# commands per control message: a message must stay under the broker's max_packet_size
COMMANDS_PER_MESSAGE = 200
ACL_EXISTS = "ACL with this topic already exists"
ACL_NOT_FOUND = "ACL not found"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"

Command = dict[str, Any]


class DynsecError(RuntimeError):
    """The broker refused a dynamic-security command, or did not answer."""


def device_username(park_id: str, device_id: str) -> str:
    return f"{park_id}:{device_id}"


def is_device_username(username: str) -> bool:
    """A device account's name (identifiers never hold ``:``, so a device's has exactly one)."""
    return username.count(":") == 1


def device_role(park_id: str, device_id: str) -> str:
    return f"device:{park_id}:{device_id}"


def device_topics(park_id: str, device_id: str) -> list[str]:
    """The only topics a device may publish on."""
    prefix = f"parks/{park_id}/devices/{device_id}"
    return [f"{prefix}/telemetry", f"{prefix}/status"]


def new_password() -> str:
    return secrets.token_urlsafe(18)


class DynsecClient:
    """A connected control client; thread-safe, one command batch at a time."""

    def __init__(self, target: MqttTarget, timeout: float = 5.0) -> None:
        self._target = target
        self._timeout = timeout
        self._client = new_client(target, client_id=f"parktwin-ctl-{uuid.uuid4().hex[:10]}")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[str, Command | None] = {}
        self._answered = threading.Condition()

    @property
    def target(self) -> MqttTarget:
        return self._target

    # -- connection -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho's loop reconnects by itself after a loss."""
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.connect_async(self._target.host, self._target.port, keepalive=30)
        self._client.loop_start()

    def connect(self) -> None:
        """Connect and wait until the broker has accepted us."""
        self.start()
        if not self._ready.wait(self._timeout):
            self.close()
            raise DynsecError(f"no answer from the broker at {self._target.redacted()}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def is_connected(self) -> bool:
        return self._ready.is_set() and self._client.is_connected()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("broker refused the control client: %s", reason)
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)
        self._ready.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            responses = orjson.loads(message.payload).get("responses", [])
        except (orjson.JSONDecodeError, AttributeError):
            logger.warning("unreadable dynamic-security answer: %.200r", message.payload)
            return
        with self._answered:
            for response in responses:
                key = response.get("correlationData")
                if key in self._pending:
                    self._pending[key] = response
            self._answered.notify_all()

    # -- commands ---------------------------------------------------------------------------

    def execute(self, commands: Iterable[Command], ignore: Iterable[str] = ()) -> list[Command]:
        """Send ``commands`` and return their answers; raise on errors not in ``ignore``."""
        commands = list(commands)
        answers: list[Command] = []
        for i in range(0, len(commands), COMMANDS_PER_MESSAGE):
            answers.extend(self._execute_one(commands[i : i + COMMANDS_PER_MESSAGE]))
        allowed = set(ignore)
        for answer in answers:
            error = answer.get("error")
            if error and error not in allowed:
                raise DynsecError(f"{answer.get('command')}: {error}")
        return answers

    def _execute_one(self, commands: list[Command]) -> list[Command]:
        batch = [{**c, "correlationData": uuid.uuid4().hex} for c in commands]
        keys = [c["correlationData"] for c in batch]
        with self._lock, self._answered:
            self._pending.update(dict.fromkeys(keys))
            self._client.publish(CONTROL_TOPIC, orjson.dumps({"commands": batch}), qos=1)
            done = self._answered.wait_for(
                lambda: all(self._pending[k] for k in keys), self._timeout
            )
            answers = [self._pending.pop(k) or {} for k in keys]
        if not done:
            raise DynsecError("the broker did not answer a dynamic-security command in time")
        return answers

    def ensure_device(self, park_id: str, device_id: str, password: str) -> None:
        """Create (or re-create) the device's role and account with ``password``."""
        self.ensure_devices(park_id, [(device_id, password)])

    def ensure_devices(self, park_id: str, accounts: Iterable[tuple[str, str]]) -> None:
        """``ensure_device`` for many (device id, password) pairs, in as few control messages
        as the packet limit allows (``execute`` splits them).

        Two commands per device (a role created with its ACLs, an account created with its
        role): the plugin saves its whole configuration after every command, so with
        thousands of devices each command costs more than the one before it."""
        accounts = list(accounts)
        commands: list[Command] = []
        for device_id, password in accounts:
            commands.extend(_device_commands(park_id, device_id, password))
        answers = self.execute(commands, ignore=("Role already exists", "Client already exists"))
        repairs: list[Command] = []
        for (device_id, password), role, client in zip(
            accounts, answers[0::2], answers[1::2], strict=True
        ):
            if role.get("error") == "Role already exists":  # it may predate today's ACLs
                repairs.extend(_role_repairs(park_id, device_id))
            if client.get("error") == "Client already exists":
                username = device_username(park_id, device_id)
                repairs.append(
                    {"command": "setClientPassword", "username": username, "password": password}
                )
                repairs.append(_unpin(username))
        if repairs:
            self.execute(repairs, ignore=(ACL_EXISTS, ACL_NOT_FOUND))

    def upgrade_devices(self) -> int:
        """Bring every existing device account to today's rules: its role's ACLs exactly
        ``role_acls``, no client id (the previous version pinned it to the username, which
        refused devices connecting with any other). Idempotent: only what differs is changed.
        Returns how many commands that took."""
        clients = self._list("listClients", "clients")
        roles = {r["rolename"]: r.get("acls", []) for r in self._list("listRoles", "roles")}
        commands: list[Command] = []
        for client in clients:
            username = client.get("username", "")
            park_id, _, device_id = username.partition(":")
            if not device_id:
                continue
            if client.get("clientid"):
                commands.append(_unpin(username))
            role = device_role(park_id, device_id)
            if role in roles:
                commands.extend(_acl_changes(role, roles[role], role_acls(park_id, device_id)))
        if commands:
            self.execute(commands)
            logger.info("upgraded device accounts to the current ACLs (%d commands)", len(commands))
        return len(commands)

    def _list(self, command: str, key: str) -> list[Command]:
        answer = self.execute([{"command": command, "verbose": True, "count": -1}])[0]
        items = answer.get("data", {}).get(key, [])
        return [item for item in items if isinstance(item, dict)]

    def set_password(self, park_id: str, device_id: str, password: str) -> None:
        """New password; the broker also disconnects sessions opened with the old one."""
        username = device_username(park_id, device_id)
        self.execute([{"command": "setClientPassword", "username": username, "password": password}])

    def delete_device(self, park_id: str, device_id: str) -> None:
        self.execute(
            [
                {"command": "deleteClient", "username": device_username(park_id, device_id)},
                {"command": "deleteRole", "rolename": device_role(park_id, device_id)},
            ],
            ignore=("Client not found", "Role not found"),
        )


def device_subtree(park_id: str, device_id: str) -> str:
    """The only filter (and the filters within it) a device may subscribe to."""
    return f"parks/{park_id}/devices/{device_id}/#"


def _unpin(username: str) -> Command:
    """``setClientId`` without a client id removes the account's client-id restriction."""
    return {"command": "setClientId", "username": username}


def role_acls(park_id: str, device_id: str) -> list[Command]:
    """The device role's ACLs: publish on its telemetry and status topics, subscribe within its
    own subtree, nothing else."""
    publish: list[Command] = [
        {"acltype": "publishClientSend", "topic": topic, "allow": True, "priority": 0}
        for topic in device_topics(park_id, device_id)
    ]
    subtree = device_subtree(park_id, device_id)
    return [
        *publish,
        {"acltype": "subscribePattern", "topic": subtree, "allow": True, "priority": 0},
    ]


def _role_repairs(park_id: str, device_id: str) -> list[Command]:
    """Without reading the role: drop the ACLs of earlier versions (publish and subscribe on
    the whole ``.../{device_id}/#``), add today's (the subscription comes back)."""
    role = device_role(park_id, device_id)
    old = device_subtree(park_id, device_id)
    return [
        {"command": "removeRoleACL", "rolename": role, "acltype": t, "topic": old}
        for t in ("publishClientSend", "subscribePattern")
    ] + [
        {"command": "addRoleACL", "rolename": role, **acl} for acl in role_acls(park_id, device_id)
    ]


def _acl_changes(role: str, current: list[Command], wanted: list[Command]) -> list[Command]:
    """removeRoleACL / addRoleACL commands that turn ``current`` into ``wanted``."""

    def key(acl: Command) -> tuple[str, str, bool]:
        return (str(acl.get("acltype")), str(acl.get("topic")), bool(acl.get("allow")))

    have, want = {key(a) for a in current}, {key(a) for a in wanted}
    changes: list[Command] = [
        {"command": "removeRoleACL", "rolename": role, "acltype": t, "topic": topic}
        for t, topic, _allow in sorted(have - want)
    ]
    changes.extend(
        {"command": "addRoleACL", "rolename": role, **acl} for acl in wanted if key(acl) not in have
    )
    return changes


def _device_commands(park_id: str, device_id: str, password: str) -> list[Command]:
    """A device's role (with its ACLs) and account (with that role, any client id)."""
    role, username = device_role(park_id, device_id), device_username(park_id, device_id)
    return [
        {"command": "createRole", "rolename": role, "acls": role_acls(park_id, device_id)},
        {
            "command": "createClient",
            "username": username,
            "password": password,
            "roles": [{"rolename": role}],
        },
    ]
