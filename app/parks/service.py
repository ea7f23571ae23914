"""Parks: create, get, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import geo
from app.core.auth import ApiKey
from app.core.errors import Forbidden, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks import repository
from app.parks.schemas import ParkCreate, ParkRead


def check_boundary(boundary: dict[str, Any]) -> None:
    """422 unless the boundary is a valid polygon (parcels and buildings must lie inside it)."""
    try:
        geo.polygon(boundary)
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
        session, only=key.park_id, after=after[0] if after else None, limit=page.limit + 1
    )
    items, cursor = paginate(rows, page.limit, lambda r: [r["id"]])
    return Page[ParkRead](
        items=[ParkRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )
