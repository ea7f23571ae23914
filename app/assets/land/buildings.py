"""Buildings: create, get, list, update, delete.

A footprint must be valid, inside the park's boundary and, when the building names a parcel,
inside that parcel. Lowering ``floors`` below a floor or space that exists is refused.
Deleting a building deletes its floors and spaces (refused while a lease holds one of them)
and leaves its devices in no building.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import checks, repository
from app.assets.land.repository import BUILDING, FLOOR, PARCEL, SPACE
from app.assets.land.schemas import BuildingCreate, BuildingFilters, BuildingRead, BuildingUpdate
from app.core import geodesy as geo
from app.core.errors import Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext


def to_read(row: RowMapping) -> BuildingRead:
    return BuildingRead.model_validate(dict(row))


async def load(session: AsyncSession, ctx: ParkContext, building_id: str) -> RowMapping:
    return await checks.building(session, ctx, building_id)


async def _area(session: AsyncSession, ctx: ParkContext, values: dict[str, Any]) -> float:
    """Check the footprint (valid, in the park, in its parcel) and return its area in m²."""
    shape = checks.polygon(values["footprint"], "footprint")
    await checks.inside_park(session, ctx.park_id, shape, "footprint")
    parcel_id = values.get("parcel_id")
    if parcel_id is not None:
        await repository.lock_parcels(session, ctx.park_id)  # the parcel may be changing
        parcel = await repository.get(session, PARCEL, {"park_id": ctx.park_id, "id": parcel_id})
        if parcel is None:
            raise Unprocessable(f"parcel_id: parcel {parcel_id!r} not found", field="parcel_id")
        if not geo.covers(geo.polygon(parcel["geometry"]), shape):
            raise Unprocessable(
                f"footprint: the building is not inside parcel {parcel_id!r}", field="footprint"
            )
    return geo.area_m2(shape)


async def create(session: AsyncSession, *, ctx: ParkContext, data: BuildingCreate) -> BuildingRead:
    values = data.model_dump()
    values.update(park_id=ctx.park_id, area_m2=await _area(session, ctx, values))
    await repository.insert(session, BUILDING, values, f"building {data.id!r}")
    return to_read(await load(session, ctx, data.id))


async def get(session: AsyncSession, *, ctx: ParkContext, building_id: str) -> BuildingRead:
    return to_read(await load(session, ctx, building_id))


async def list_(
    session: AsyncSession, *, ctx: ParkContext, filters: BuildingFilters, page: PageParams
) -> Page[BuildingRead]:
    after = page.after(1)
    rows = await repository.list_(
        session,
        BUILDING,
        {"park_id": ctx.park_id},
        filters.model_dump(),
        after[0] if after else None,
        page.fetch_limit,
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[BuildingRead](items=[to_read(r) for r in items], next_cursor=cursor)


async def _check_floors(
    session: AsyncSession, ctx: ParkContext, building_id: str, floors: int
) -> None:
    numbers = [
        r["number"]
        for r in await repository.list_all(session, FLOOR, ctx.park_id, building_id=building_id)
    ]
    numbers += [
        r["floor"]
        for r in await repository.list_all(session, SPACE, ctx.park_id, building_id=building_id)
        if r["floor"] is not None
    ]
    if numbers and max(numbers) > floors:
        raise Unprocessable(
            f"floors: floor {max(numbers)} of this building has floors or spaces", field="floors"
        )


async def update(
    session: AsyncSession, *, ctx: ParkContext, building_id: str, data: BuildingUpdate
) -> BuildingRead:
    row = await load(session, ctx, building_id)
    changes = checks.patch(data.model_dump(exclude_unset=True), "name", "footprint", "floors")
    if "footprint" in changes or "parcel_id" in changes:
        changes["area_m2"] = await _area(session, ctx, {**dict(row), **changes})
    if "floors" in changes:
        await _check_floors(session, ctx, building_id, changes["floors"])
    await repository.update(session, BUILDING, {"park_id": ctx.park_id, "id": building_id}, changes)
    return to_read(await load(session, ctx, building_id))


async def delete(session: AsyncSession, *, ctx: ParkContext, building_id: str) -> None:
    await load(session, ctx, building_id)
    await repository.unlink_devices(session, ctx.park_id, building_id)
    key = {"park_id": ctx.park_id, "id": building_id}
    await repository.delete(session, BUILDING, key, f"building {building_id!r}")
