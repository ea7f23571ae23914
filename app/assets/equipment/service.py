"""Equipment register: create, get, list, update, delete.

Equipment sits in a building and/or a space (a space fills in its building) or at a point,
and may be watched by a device; its ``maintenance_status`` feeds the twin's roll-up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.equipment import repository
from app.assets.equipment.schemas import (
    EquipmentCreate,
    EquipmentFilters,
    EquipmentRead,
    EquipmentUpdate,
)
from app.assets.land import checks
from app.core.errors import NotFound
from app.core.pagination import Page, PageParams, paginate
from app.devices import links
from app.parks.deps import ParkContext

REQUIRED = ("name", "category", "maintenance_status")


def to_read(row: RowMapping) -> EquipmentRead:
    values = dict(row)
    lon, lat = values.pop("lon"), values.pop("lat")
    values["location"] = None if lon is None else {"lon": lon, "lat": lat}
    return EquipmentRead.model_validate(values)


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    """``location`` as the table's lon/lat columns."""
    if "location" in values:
        location = values.pop("location") or {"lon": None, "lat": None}
        values.update(lon=location["lon"], lat=location["lat"])
    return values


async def load(session: AsyncSession, ctx: ParkContext, equipment_id: str) -> RowMapping:
    row = await repository.get(session, ctx.park_id, equipment_id)
    if row is None:
        raise NotFound(f"equipment {equipment_id!r} not found in park {ctx.park_id!r}")
    return row


async def _check(session: AsyncSession, ctx: ParkContext, values: dict[str, Any]) -> None:
    await links.check_place(session, ctx, values)
    await links.check_device(session, ctx, values.get("device_id"))


async def create(
    session: AsyncSession, *, ctx: ParkContext, data: EquipmentCreate
) -> EquipmentRead:
    values = _flat({**data.model_dump(), "park_id": ctx.park_id})
    await _check(session, ctx, values)
    await repository.insert(session, values)
    return await get(session, ctx=ctx, equipment_id=data.id)


async def get(session: AsyncSession, *, ctx: ParkContext, equipment_id: str) -> EquipmentRead:
    return to_read(await load(session, ctx, equipment_id))


async def list_(
    session: AsyncSession, *, ctx: ParkContext, filters: EquipmentFilters, page: PageParams
) -> Page[EquipmentRead]:
    after = page.after(1)
    rows = await repository.list_(
        session, ctx.park_id, filters.model_dump(), after[0] if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[EquipmentRead](items=[to_read(r) for r in items], next_cursor=cursor)


async def update(
    session: AsyncSession, *, ctx: ParkContext, equipment_id: str, data: EquipmentUpdate
) -> EquipmentRead:
    row = await load(session, ctx, equipment_id)
    changes = checks.patch(_flat(data.model_dump(exclude_unset=True)), *REQUIRED)
    if "space_id" in changes and "building_id" not in changes and changes["space_id"]:
        changes["building_id"] = None  # taken from the new space
    merged = {**dict(row), **changes}
    await _check(session, ctx, merged)
    changed = {c: merged[c] for c in (*changes, "building_id")}
    await repository.update(session, ctx.park_id, equipment_id, changed)
    return await get(session, ctx=ctx, equipment_id=equipment_id)


async def delete(session: AsyncSession, *, ctx: ParkContext, equipment_id: str) -> None:
    await load(session, ctx, equipment_id)
    await repository.delete(session, ctx.park_id, equipment_id)
