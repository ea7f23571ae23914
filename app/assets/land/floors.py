"""Floors of a building: create, get, list, update, delete (keyed by building and number)."""

from __future__ import annotations

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import checks, repository
from app.assets.land.repository import FLOOR
from app.assets.land.schemas import FloorCreate, FloorRead, FloorUpdate
from app.core.errors import NotFound
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext


def _key(ctx: ParkContext, building_id: str, number: int) -> dict[str, object]:
    return {"park_id": ctx.park_id, "building_id": building_id, "number": number}


async def load(
    session: AsyncSession, ctx: ParkContext, building_id: str, number: int
) -> RowMapping:
    row = await repository.get(session, FLOOR, _key(ctx, building_id, number))
    if row is None:
        raise NotFound(f"floor {number} of building {building_id!r} not found")
    return row


async def create(session: AsyncSession, *, ctx: ParkContext, data: FloorCreate) -> FloorRead:
    building = await checks.building(session, ctx, data.building_id, "building_id")
    checks.floor_number(data.number, building["floors"], "number")
    values = {**data.model_dump(), "park_id": ctx.park_id}
    await repository.insert(
        session, FLOOR, values, f"floor {data.number} of building {data.building_id!r}"
    )
    return FloorRead.model_validate(dict(await load(session, ctx, data.building_id, data.number)))


async def get(
    session: AsyncSession, *, ctx: ParkContext, building_id: str, number: int
) -> FloorRead:
    return FloorRead.model_validate(dict(await load(session, ctx, building_id, number)))


async def list_(
    session: AsyncSession, *, ctx: ParkContext, building_id: str, page: PageParams
) -> Page[FloorRead]:
    await checks.building(session, ctx, building_id)
    after = page.after(1, (int,))
    key = {"park_id": ctx.park_id, "building_id": building_id}
    rows = await repository.list_(
        session, FLOOR, key, {}, after[0] if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["number"]])
    return Page[FloorRead](
        items=[FloorRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def update(
    session: AsyncSession, *, ctx: ParkContext, building_id: str, number: int, data: FloorUpdate
) -> FloorRead:
    await load(session, ctx, building_id, number)
    changes = data.model_dump(exclude_unset=True)
    await repository.update(session, FLOOR, _key(ctx, building_id, number), changes)
    return FloorRead.model_validate(dict(await load(session, ctx, building_id, number)))


async def delete(session: AsyncSession, *, ctx: ParkContext, building_id: str, number: int) -> None:
    await load(session, ctx, building_id, number)
    what = f"floor {number} of building {building_id!r}"
    await repository.delete(session, FLOOR, _key(ctx, building_id, number), what)
