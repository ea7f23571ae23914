"""API keys: ``Authorization: Bearer <key>``, roles viewer < operator < admin, park binding;
and the ``enterprise`` role, below viewer, bound to one enterprise of one park.

A key reads ``ptk_<id>_<secret>``: the id finds the row, the secret (256 random bits) is
stored only as its SHA-256 (a slow hash adds nothing for a random secret of that size).
Without a key, or with an unknown, revoked or expired one: 401. A role too low: 403. A key bound to
a park sees only that park: every other park, and everything in it, is 404.

An enterprise key (role ``enterprise``) is refused by every park-wide route (403: its role is
below viewer) and admitted only by the enterprise-scoped routes (``enterprise_access`` in
``app/parks/deps.py``), and there only for its own enterprise: any other is 404.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.appstate import app_state
from app.core.auth_repository import find_active
from app.core.db import SessionDep, on_primary_or_replica
from app.core.errors import Forbidden, NotFound, Unauthorized

PREFIX = "ptk"


class Role(enum.IntEnum):
    enterprise = 0  # one enterprise's own data only; no park-wide route admits it
    viewer = 1
    operator = 2
    admin = 3


@dataclass(frozen=True)
class ApiKey:
    """The caller: its key id, role, the park it is bound to (None: every park) and, for the
    ``enterprise`` role, its enterprise."""

    id: str
    role: Role
    park_id: str | None
    enterprise_id: str | None = None

    def sees(self, park_id: str | None) -> bool:
        return self.park_id is None or self.park_id == park_id

    def check_park(self, park_id: str) -> None:
        """404 for a park outside the key's reach: its existence is not revealed."""
        if not self.sees(park_id):
            raise NotFound(f"park {park_id!r} not found")

    def check_role(self, role: Role) -> None:
        if self.role < role:
            raise Forbidden(f"this needs the {role.name} role; the key has {self.role.name}")

    def check_enterprise(self, enterprise_id: str, staff_role: Role) -> None:
        """An enterprise key sees only its own enterprise (any other: 404, as another park);
        park staff need ``staff_role``."""
        if self.role is Role.enterprise:
            if self.enterprise_id != enterprise_id:
                raise NotFound(f"enterprise {enterprise_id!r} not found")
            return
        self.check_role(staff_role)


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


def generate_key(key_id: str | None = None) -> NewKey:
    """A new key, or a new secret for the key ``key_id`` (rotation)."""
    secret = secrets.token_urlsafe(32)
    key_id = key_id or secrets.token_hex(8)
    return NewKey(id=key_id, secret=secret, secret_hash=hash_secret(secret))


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


CACHE_TTL_S = 10.0


class TtlCache:
    """A small per-process cache of recent lookups (keys, parks), each kept ``ttl`` seconds.

    Dashboards poll with the same key all day: this spares a database round trip per request.
    A key revoked by another process (the CLI) stops working here within ``ttl``
    (``PARKTWIN_API_KEY_CACHE_TTL``; 0 keeps nothing).
    """

    def __init__(self, ttl: float = CACHE_TTL_S, size: int = 10_000) -> None:
        self._ttl, self._size = ttl, size
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Keep ``value`` for the cache's ttl, or for ``ttl`` if that is shorter."""
        ttl = self._ttl if ttl is None else min(ttl, self._ttl)
        if ttl <= 0:
            return
        if len(self._items) >= self._size:
            self._items.clear()
        self._items[key] = (time.monotonic() + ttl, value)


bearer = HTTPBearer(auto_error=False, description="an API key from `parktwin apikey create`")


async def current_key(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API key as `Authorization: Bearer <key>`")
    cache = app_state(request).api_keys
    token_hash = hash_secret(credentials.credentials).hex()
    key = cache.get(token_hash)
    if key is None:
        key, expires_in = await on_primary_or_replica(
            request,
            session,
            lambda s, writable: _lookup(s, credentials.credentials, touch=writable),
        )
        cache.put(token_hash, key, expires_in)  # an expiring key is not kept past its expiry
    assert isinstance(key, ApiKey)
    return key


async def _lookup(
    session: AsyncSession, token: str, *, touch: bool = True
) -> tuple[ApiKey, float | None]:
    """The key and the seconds until it expires (None: never)."""
    parsed = parse_token(token)
    row = await find_active(session, parsed[0], touch=touch) if parsed else None
    if (
        parsed is None
        or row is None
        or not hmac.compare_digest(row.secret_hash, hash_secret(parsed[1]))
    ):
        raise Unauthorized("unknown, revoked or expired API key")
    key = ApiKey(
        id=row.id, role=Role[row.role], park_id=row.park_id, enterprise_id=row.enterprise_id
    )
    return key, row.expires_in


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
