"""``parktwin apikey create``: one transaction on a short-lived engine."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.apikeys import service
from app.core.auth import Role
from app.core.config import Settings
from app.core.db import create_engine_for


async def create_key(settings: Settings, role: str, park_id: str | None, name: str | None) -> str:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        async with AsyncSession(engine) as session, session.begin():
            return await service.create(session, role=Role[role], park_id=park_id, name=name)
    finally:
        await engine.dispose()
