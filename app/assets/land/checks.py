"""Checks shared by the asset services: readable polygons, inside the park, a PATCH's changes."""

from __future__ import annotations

from typing import Any

from shapely.geometry import Polygon
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import repository
from app.assets.land.repository import BUILDING
from app.core import geodesy as geo
from app.core.errors import NotFound, Unprocessable
from app.parks.deps import ParkContext


def polygon(geojson: dict[str, Any], field: str) -> Polygon:
    """The shapely polygon, or 422 naming the field and the reason."""
    try:
        return geo.polygon(geojson)
    except geo.GeometryError as exc:
        raise Unprocessable(f"{field}: {exc}", field=field) from exc


async def inside_park(session: AsyncSession, park_id: str, shape: Polygon, field: str) -> None:
    """422 unless the polygon lies within the park's boundary (a park without one takes any)."""
    boundary = await repository.park_boundary(session, park_id)
    if boundary is None:
        return
    if not geo.covers(geo.polygon(boundary), shape):
        raise Unprocessable(f"{field}: the polygon is not inside the park's boundary", field=field)


def patch(changes: dict[str, Any], *required: str) -> dict[str, Any]:
    """A PATCH's changes: 422 when a required field is set to null; null attributes are {}."""
    for field in required:
        if field in changes and changes[field] is None:
            raise Unprocessable(f"{field}: cannot be null", field=field)
    if changes.get("attributes", {}) is None:
        changes["attributes"] = {}
    return changes


async def building(
    session: AsyncSession, ctx: ParkContext, building_id: str, field: str | None = None
) -> RowMapping:
    """The building row; 404 when it is the request's subject, 422 when a field names it."""
    row = await repository.get(session, BUILDING, {"park_id": ctx.park_id, "id": building_id})
    if row is not None:
        return row
    message = f"building {building_id!r} not found in park {ctx.park_id!r}"
    if field is None:
        raise NotFound(message)
    raise Unprocessable(f"{field}: {message}", field=field)


def floor_number(number: int | None, floors: int, field: str) -> None:
    """Floors are 1..floors above ground and -1, -2, ... below (B1 = -1); there is no 0."""
    if number is None:
        return
    if number == 0:
        raise Unprocessable(
            f"{field}: there is no floor 0 (the ground floor is 1, B1 is -1)", field=field
        )
    if number > floors:
        raise Unprocessable(
            f"{field}: floor {number} is above the building's {floors} floors", field=field
        )
