"""API keys: ``Authorization: Bearer <key>``, roles viewer < operator < admin, park binding.

A key reads ``ptk_<id>_<secret>``: the id finds the row, the secret (256 random bits) is
stored only as its SHA-256 (a slow hash adds nothing for a random secret of that size).
Without a key, or with an unknown or revoked one: 401. A role too low: 403. A key bound to
a park sees only that park: every other park, and everything in it, is 404.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.db import SessionDep
from app.core.errors import Forbidden, NotFound, Unauthorized

PREFIX = "ptk"


class Role(enum.IntEnum):
    viewer = 1
    operator = 2
    admin = 3


@dataclass(frozen=True)
class ApiKey:
    """The caller: its key id, role and the park it is bound to (None: every park)."""

    id: str
    role: Role
    park_id: str | None

    def sees(self, park_id: str | None) -> bool:
        return self.park_id is None or self.park_id == park_id

    def check_park(self, park_id: str) -> None:
        """404 for a park outside the key's reach: its existence is not revealed."""
        if not self.sees(park_id):
            raise NotFound(f"park {park_id!r} not found")

    def check_role(self, role: Role) -> None:
        if self.role < role:
            raise Forbidden(f"this needs the {role.name} role; the key has {self.role.name}")


@dataclass(frozen=True)
class NewKey:
    id: str
    secret: str
    secret_hash: bytes

    @property
    def token(self) -> str:
        return f"{PREFIX}_{self.id}_{self.secret}"


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def generate_key() -> NewKey:
    secret = secrets.token_urlsafe(32)
    return NewKey(id=secrets.token_hex(8), secret=secret, secret_hash=hash_secret(secret))


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


bearer = HTTPBearer(auto_error=False, description="an API key from `parktwin apikey create`")


async def current_key(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    from app.apikeys.repository import find_active

    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API key as `Authorization: Bearer <key>`")
    parsed = parse_token(credentials.credentials)
    row = await find_active(session, parsed[0]) if parsed else None
    if (
        parsed is None
        or row is None
        or not hmac.compare_digest(row.secret_hash, hash_secret(parsed[1]))
    ):
        raise Unauthorized("unknown or revoked API key")
    return ApiKey(id=row.id, role=Role[row.role], park_id=row.park_id)


def require_role(role: Role) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency admitting keys with at least ``role``; it carries ``required_role``."""

    async def dependency(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        key.check_role(role)
        return key

    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency


ViewerKey = Annotated[ApiKey, Depends(require_role(Role.viewer))]
OperatorKey = Annotated[ApiKey, Depends(require_role(Role.operator))]
AdminKey = Annotated[ApiKey, Depends(require_role(Role.admin))]
