"""API keys: create, list, revoke, rotate, bootstrap (``parktwin apikey ...``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.apikeys import repository
from app.core.auth import Role, generate_key
from app.core.errors import NotFound, Unprocessable
from app.parks.repository import enterprise_exists


async def create(
    session: AsyncSession,
    *,
    role: Role,
    park_id: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
    created_by: str | None = None,
    enterprise_id: str | None = None,
) -> str:
    """Store a new key (hashed) and return its token: the only time it is seen. An
    ``enterprise`` key needs its park and enterprise; no other role takes an enterprise."""
    if (role is Role.enterprise) != (enterprise_id is not None) or (
        enterprise_id is not None and park_id is None
    ):
        raise Unprocessable("the enterprise role needs both a park and an enterprise, and only it")
    if park_id is not None and not await repository.park_exists(session, park_id):
        raise NotFound(f"park {park_id!r} not found: create it first (POST /api/v1/parks)")
    if enterprise_id is not None and not await enterprise_exists(
        session, str(park_id), enterprise_id
    ):
        raise NotFound(f"enterprise {enterprise_id!r} not found in park {park_id!r}")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise Unprocessable(f"the expiry {expires_at.isoformat()} is not in the future")
    key = generate_key()
    await repository.insert(
        session,
        key.id,
        key.secret_hash,
        role.name,
        park_id,
        name,
        expires_at=expires_at,
        created_by=created_by,
        enterprise_id=enterprise_id,
    )
    return key.token


async def list_(session: AsyncSession) -> list[dict[str, Any]]:
    """Every key with its state (``active``, ``revoked``, ``expired``); never a secret."""
    now = datetime.now(UTC)
    keys = []
    for row in await repository.list_(session):
        key = dict(row)
        expired = key["expires_at"] is not None and key["expires_at"] <= now
        key["state"] = "revoked" if key["revoked_at"] else "expired" if expired else "active"
        keys.append(key)
    return keys


async def revoke(session: AsyncSession, *, key_id: str) -> None:
    """From now on the key answers 401 (after at most ``PARKTWIN_API_KEY_CACHE_TTL`` in an API
    process that saw it just before)."""
    if not await repository.revoke(session, key_id):
        raise NotFound(f"API key {key_id!r} not found")


async def rotate(session: AsyncSession, *, key_id: str) -> str:
    """A new secret for the live key ``key_id`` (same id, role, park, expiry); the old secret
    stops working. The new token is returned: the only time it is seen."""
    key = generate_key(key_id)
    if not await repository.set_secret(session, key_id, key.secret_hash):
        raise NotFound(f"API key {key_id!r} not found, revoked or expired")
    return key.token


BOOTSTRAP = "bootstrap"


async def bootstrap(session: AsyncSession) -> str | None:
    """The first admin key, made once per database (``parktwin apikey bootstrap``, the compose
    file's ``bootstrap`` step); None when it was made before, even if revoked since: running
    the step again never mints another admin key."""
    await repository.lock_bootstrap(session)
    if await repository.any_created_by(session, BOOTSTRAP):
        return None
    return await create(session, role=Role.admin, name=BOOTSTRAP, created_by=BOOTSTRAP)


async def replace_created_by(session: AsyncSession, *, created_by: str, role: Role) -> str:
    """Revoke the live keys made by ``created_by`` and make a new one (``parktwin demo``)."""
    await repository.revoke_created_by(session, created_by)
    return await create(session, role=role, name=created_by, created_by=created_by)
