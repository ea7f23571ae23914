"""Parks: create, get, list."""

from __future__ import annotations

from typing import Any

from shapely.geometry import Polygon
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import geodesy as geo
from app.core.auth import ApiKey
from app.core.errors import Forbidden, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks import repository
from app.parks.deps import ParkContext
from app.parks.schemas import ParkCreate, ParkRead, ParkUpdate


def check_boundary(boundary: dict[str, Any]) -> Polygon:
    """The boundary as a polygon, or 422 unless it is a valid one."""
    try:
        return geo.polygon(boundary)
    except geo.GeometryError as exc:
        raise Unprocessable(f"boundary: {exc}", field="boundary") from exc


async def create(session: AsyncSession, *, key: ApiKey, data: ParkCreate) -> ParkRead:
    if key.park_id is not None:
        raise Forbidden("a key bound to a park cannot create parks")
    values = data.model_dump()
    if values["boundary"] is not None:
        check_boundary(values["boundary"])
    row = await repository.insert(session, values)
    return ParkRead.model_validate(dict(row))


async def get(session: AsyncSession, *, key: ApiKey, park_id: str) -> ParkRead:
    key.check_park(park_id)
    row = await repository.get(session, park_id)
    if row is None:
        raise NotFound(f"park {park_id!r} not found")
    return ParkRead.model_validate(dict(row))


async def list_(session: AsyncSession, *, key: ApiKey, page: PageParams) -> Page[ParkRead]:
    after = page.after(1)
    rows = await repository.list_(
        session, only=key.park_id, after=after[0] if after else None, limit=page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[ParkRead](
        items=[ParkRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def update(session: AsyncSession, *, ctx: ParkContext, data: ParkUpdate) -> ParkRead:
    """Rename the park or change its boundary; a new boundary must hold every parcel and
    building footprint of the park."""
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise Unprocessable("name: cannot be null", field="name")
    if changes.get("boundary") is not None:
        shape = check_boundary(changes["boundary"])
        for kind, item, polygon in await repository.land_polygons(session, ctx.park_id):
            if not geo.covers(shape, geo.polygon(polygon)):
                raise Unprocessable(
                    f"boundary: {kind} {item!r} would lie outside the park", field="boundary"
                )
    await repository.update(session, ctx.park_id, changes)
    return await get(session, key=ctx.key, park_id=ctx.park_id)
