"""``parktwin apikey create | list | revoke | rotate``: one transaction each, on a short-lived
engine."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.apikeys import service
from app.core.auth import Role
from app.core.config import Settings
from app.core.db import create_engine_for

T = TypeVar("T")

_DURATION = re.compile(r"(\d{1,6})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(expires_in: str | None, expires_at: str | None) -> datetime | None:
    """``--expires-in 30d`` (s, m, h, d, w) or ``--expires-at`` an ISO 8601 time (UTC if it
    carries no offset) as an aware datetime; ValueError for anything else."""
    if expires_in is not None:
        match = _DURATION.fullmatch(expires_in.strip())
        if match is None:
            raise ValueError(f"--expires-in {expires_in!r}: a number and s, m, h, d or w (30d)")
        amount, unit = int(match[1]), _UNITS[match[2]]
        return datetime.now(UTC) + timedelta(**{unit: amount})
    if expires_at is not None:
        moment = datetime.fromisoformat(expires_at)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


async def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        async with AsyncSession(engine) as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


async def create_key(
    settings: Settings,
    role: str,
    park_id: str | None,
    name: str | None,
    expires_at: datetime | None = None,
    created_by: str | None = "cli",
    enterprise_id: str | None = None,
) -> str:
    return await in_transaction(
        settings,
        lambda session: service.create(
            session,
            role=Role[role],
            park_id=park_id,
            name=name,
            expires_at=expires_at,
            created_by=created_by,
            enterprise_id=enterprise_id,
        ),
    )


async def replace_demo_key(settings: Settings) -> str:
    """Revoke the keys earlier ``parktwin demo`` runs made, and make a new admin key."""
    return await in_transaction(
        settings,
        lambda session: service.replace_created_by(session, created_by="demo", role=Role.admin),
    )


async def bootstrap_key(settings: Settings) -> str | None:
    return await in_transaction(settings, service.bootstrap)


async def list_keys(settings: Settings) -> list[dict[str, object]]:
    return await in_transaction(settings, service.list_)


async def revoke_key(settings: Settings, key_id: str) -> bool:
    async def revoke(session: AsyncSession) -> bool:
        await service.revoke(session, key_id=key_id)
        return True

    return await in_transaction(settings, revoke)


async def rotate_key(settings: Settings, key_id: str) -> str:
    return await in_transaction(settings, lambda session: service.rotate(session, key_id=key_id))
