"""Parcels (地块): create, get, list, update, delete.

A parcel's polygon must be valid, inside the park's boundary, and share no area with another
parcel (a common edge is fine); its area is geodesic. A parcel keeps covering its buildings:
a new polygon that would leave one sticking out is refused, and a parcel with buildings
cannot be deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shapely.geometry import Polygon
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import checks, repository
from app.assets.land.landuse import land_figures
from app.assets.land.repository import BUILDING, PARCEL
from app.assets.land.schemas import ParcelCreate, ParcelFilters, ParcelRead, ParcelUpdate
from app.core import geodesy as geo
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext


def to_read(row: RowMapping, buildings: RowMapping | None) -> ParcelRead:
    return ParcelRead.model_validate(
        {**row, "area_mu": geo.m2_to_mu(row["area_m2"]), "land": land_figures(row, buildings)}
    )


async def read_all(
    session: AsyncSession, ctx: ParkContext, rows: Sequence[RowMapping]
) -> list[ParcelRead]:
    sums = await repository.parcel_buildings(session, ctx.park_id, [r["id"] for r in rows])
    return [to_read(r, sums.get(r["id"])) for r in rows]


async def read(session: AsyncSession, ctx: ParkContext, parcel_id: str) -> ParcelRead:
    return (await read_all(session, ctx, [await load(session, ctx, parcel_id)]))[0]


async def load(session: AsyncSession, ctx: ParkContext, parcel_id: str) -> RowMapping:
    row = await repository.get(session, PARCEL, {"park_id": ctx.park_id, "id": parcel_id})
    if row is None:
        raise NotFound(f"parcel {parcel_id!r} not found in park {ctx.park_id!r}")
    return row


async def _checked(
    session: AsyncSession, ctx: ParkContext, geojson: dict[str, Any], parcel_id: str
) -> Polygon:
    shape = checks.polygon(geojson, "geometry")
    await checks.inside_park(session, ctx.park_id, shape, "geometry")
    await repository.lock_parcels(session, ctx.park_id)
    for other in await repository.list_all(session, PARCEL, ctx.park_id):
        if other["id"] != parcel_id and geo.interiors_overlap(
            shape, geo.polygon(other["geometry"])
        ):
            raise Unprocessable(
                f"geometry: the parcel overlaps parcel {other['id']!r}", field="geometry"
            )
    for building in await repository.list_all(session, BUILDING, ctx.park_id, parcel_id=parcel_id):
        if not geo.covers(shape, geo.polygon(building["footprint"])):
            raise Unprocessable(
                f"geometry: building {building['id']!r} on this parcel would stick out of it",
                field="geometry",
            )
    return shape


async def create(session: AsyncSession, *, ctx: ParkContext, data: ParcelCreate) -> ParcelRead:
    values = data.model_dump()
    shape = await _checked(session, ctx, values["geometry"], data.id)
    values.update(park_id=ctx.park_id, area_m2=geo.area_m2(shape))
    await repository.insert(session, PARCEL, values, f"parcel {data.id!r}")
    return await read(session, ctx, data.id)


async def get(session: AsyncSession, *, ctx: ParkContext, parcel_id: str) -> ParcelRead:
    return await read(session, ctx, parcel_id)


async def list_(
    session: AsyncSession, *, ctx: ParkContext, filters: ParcelFilters, page: PageParams
) -> Page[ParcelRead]:
    after = page.after(1)
    rows = await repository.list_(
        session,
        PARCEL,
        {"park_id": ctx.park_id},
        filters.model_dump(),
        after[0] if after else None,
        page.fetch_limit,
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[ParcelRead](items=await read_all(session, ctx, items), next_cursor=cursor)


async def update(
    session: AsyncSession, *, ctx: ParkContext, parcel_id: str, data: ParcelUpdate
) -> ParcelRead:
    row = await load(session, ctx, parcel_id)
    changes = checks.patch(data.model_dump(exclude_unset=True), "name", "geometry")
    _check_term(row, changes)
    if "geometry" in changes:
        shape = await _checked(session, ctx, changes["geometry"], parcel_id)
        changes["area_m2"] = geo.area_m2(shape)
    await repository.update(session, PARCEL, {"park_id": ctx.park_id, "id": parcel_id}, changes)
    return await read(session, ctx, parcel_id)


def _check_term(row: RowMapping, changes: dict[str, Any]) -> None:
    start = changes.get("tenure_start", row["tenure_start"])
    end = changes.get("tenure_end", row["tenure_end"])
    if start is not None and end is not None and end < start:
        raise Unprocessable("tenure_end is before tenure_start", field="tenure_end")


async def delete(session: AsyncSession, *, ctx: ParkContext, parcel_id: str) -> None:
    await load(session, ctx, parcel_id)
    count = await repository.count_buildings_on(session, ctx.park_id, parcel_id)
    if count:
        raise Conflict(f"parcel {parcel_id!r} has {count} building(s); move or delete them first")
    key = {"park_id": ctx.park_id, "id": parcel_id}
    await repository.delete(session, PARCEL, key, f"parcel {parcel_id!r}")
