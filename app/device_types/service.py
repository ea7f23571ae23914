"""The device type catalogue."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import ApiKey
from app.device_types import repository
from app.device_types.schemas import DeviceTypeList, DeviceTypeRead


async def list_(session: AsyncSession, *, key: ApiKey) -> DeviceTypeList:
    rows = await repository.list_(session, park_id=key.park_id)
    return DeviceTypeList(items=[DeviceTypeRead.model_validate(dict(r)) for r in rows])
