"""Creating API keys (``parktwin apikey create``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.apikeys import repository
from app.core.auth import Role, generate_key
from app.core.errors import NotFound


async def create(
    session: AsyncSession, *, role: Role, park_id: str | None = None, name: str | None = None
) -> str:
    """Store a new key (hashed) and return its token: the only time it is seen."""
    if park_id is not None and not await repository.park_exists(session, park_id):
        raise NotFound(f"park {park_id!r} not found: create it first (POST /api/v1/parks)")
    key = generate_key()
    await repository.insert(session, key.id, key.secret_hash, role.name, park_id, name)
    return key.token
