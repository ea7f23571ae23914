"""Spaces (rooms, units) of a building: create, get, list, update, delete.

A space's floor must be one the building has (1..floors, or a basement); its area is the
leasable area that occupancy (出租率) counts. A space held by a lease cannot be deleted.
"""

from __future__ import annotations

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import checks, repository
from app.assets.land.repository import SPACE
from app.assets.land.schemas import SpaceCreate, SpaceFilters, SpaceRead, SpaceUpdate
from app.core.errors import NotFound
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext


async def load(session: AsyncSession, ctx: ParkContext, space_id: str) -> RowMapping:
    row = await repository.get(session, SPACE, {"park_id": ctx.park_id, "id": space_id})
    if row is None:
        raise NotFound(f"space {space_id!r} not found in park {ctx.park_id!r}")
    return row


def to_read(row: RowMapping) -> SpaceRead:
    return SpaceRead.model_validate(dict(row))


async def create(session: AsyncSession, *, ctx: ParkContext, data: SpaceCreate) -> SpaceRead:
    building = await checks.building(session, ctx, data.building_id, "building_id")
    checks.floor_number(data.floor, building["floors"], "floor")
    values = {**data.model_dump(), "park_id": ctx.park_id}
    await repository.insert(session, SPACE, values, f"space {data.id!r}")
    return to_read(await load(session, ctx, data.id))


async def get(session: AsyncSession, *, ctx: ParkContext, space_id: str) -> SpaceRead:
    return to_read(await load(session, ctx, space_id))


async def list_(
    session: AsyncSession, *, ctx: ParkContext, filters: SpaceFilters, page: PageParams
) -> Page[SpaceRead]:
    after = page.after(1)
    rows = await repository.list_(
        session,
        SPACE,
        {"park_id": ctx.park_id},
        filters.model_dump(),
        after[0] if after else None,
        page.fetch_limit,
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[SpaceRead](items=[to_read(r) for r in items], next_cursor=cursor)


async def update(
    session: AsyncSession, *, ctx: ParkContext, space_id: str, data: SpaceUpdate
) -> SpaceRead:
    row = await load(session, ctx, space_id)
    changes = checks.patch(
        data.model_dump(exclude_unset=True), "building_id", "name", "area_m2", "status"
    )
    if "building_id" in changes or "floor" in changes:
        merged = {**dict(row), **changes}
        building = await checks.building(session, ctx, merged["building_id"], "building_id")
        checks.floor_number(merged["floor"], building["floors"], "floor")
    await repository.update(session, SPACE, {"park_id": ctx.park_id, "id": space_id}, changes)
    return to_read(await load(session, ctx, space_id))


async def delete(session: AsyncSession, *, ctx: ParkContext, space_id: str) -> None:
    await load(session, ctx, space_id)
    key = {"park_id": ctx.park_id, "id": space_id}
    await repository.delete(session, SPACE, key, f"space {space_id!r}")
