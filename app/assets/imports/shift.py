"""A warning when imported coordinates look already shifted to GCJ-02 or BD-09.

parktwin stores WGS-84. Footprints traced on an AMap/高德 or Baidu/百度 basemap, or exported
from a Chinese GIS, are often GCJ-02 or BD-09: 300 to 700 m off once read as WGS-84, yet still
valid polygons, so nothing refuses them and they sit in the wrong place on the map. The check
compares each imported shape with what the park already holds (its finest layer: building
footprints for points, parcels for footprints, the park boundary for parcels): a row whose
shape lies outside every one of those, but inside one once taken back from GCJ-02 (or BD-09)
to WGS-84, is a suspect. When the suspects are at least half of the rows that could be
judged, the answer carries a warning (in Chinese) naming the system and the rows; the import
itself goes on or fails on its own merits: the warning never refuses anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely
from pydantic import BaseModel
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.crs import TO_WGS84, Crs
from app.assets.land.repository import park_boundary
from app.assets.twin import repository as twin

LABELS = {"gcj02": "GCJ-02（国测局/火星坐标，高德、腾讯地图）", "bd09": "BD-09（百度地图）"}
REFERENCE_NAMES = {"building": "建筑轮廓", "parcel": "地块", "boundary": "园区边界"}


def _shape(value: Any) -> BaseGeometry | None:
    if isinstance(value, dict) and "coordinates" in value:
        return shape(value)
    if isinstance(value, dict) and isinstance(value.get("lon"), int | float):
        return Point(value["lon"], value["lat"])
    return None


def suspects(
    rows: Sequence[tuple[int, BaseGeometry]], reference: BaseGeometry, crs: Crs
) -> tuple[list[int], int]:
    """(rows that fit ``reference`` only once taken back from ``crs``, rows already in it)."""
    moved, fitting = [], 0
    for row, geometry in rows:
        point = geometry.representative_point()
        if reference.covers(point):
            fitting += 1
        elif reference.covers(Point(*TO_WGS84[crs](point.x, point.y))):
            moved.append(row)
    return moved, fitting


def judge(
    rows: Sequence[tuple[int, BaseGeometry]], reference: BaseGeometry, what: str
) -> dict[str, Any] | None:
    """The warning for these rows against ``reference`` (named ``what``), or None."""
    for crs in ("gcj02", "bd09"):
        moved, fitting = suspects(rows, reference, crs)
        if moved and len(moved) >= fitting:
            listed = "、".join(str(r) for r in moved[:20]) + ("等" if len(moved) > 20 else "")
            detail = (
                f"第 {listed} 行的坐标看起来已偏移为 {LABELS[crs]}：按 WGS-84 读落在"
                f"{REFERENCE_NAMES[what]}之外，换回 WGS-84 后落在其中。parktwin 按 WGS-84（GPS）"
                "存储，请先把坐标转换为 WGS-84 再导入。"
            )
            return {"code": "coordinates_look_shifted", "crs": crs, "rows": moved, "detail": detail}
    return None


async def _reference(
    session: AsyncSession, park_id: str, kind: str
) -> tuple[BaseGeometry, str] | None:
    """The park's finest layer under ``kind``'s shapes, as one geometry, and its name."""
    layers = {"parcels": ("boundary",), "buildings": ("parcel", "boundary")}.get(
        kind, ("building", "parcel", "boundary")
    )
    for layer in layers:
        if layer == "boundary":
            boundary = await park_boundary(session, park_id)
            return (shape(boundary), layer) if boundary else None
        rows = await (twin.buildings if layer == "building" else twin.parcels)(session, park_id)
        column = "footprint" if layer == "building" else "geometry"
        if rows:
            return shapely.union_all([shape(r[column]) for r in rows]), layer
    return None


async def shift_warnings(
    session: AsyncSession,
    park_id: str,
    kind: str,
    geometry_field: str | None,
    rows: Sequence[tuple[int, BaseModel]],
) -> list[dict[str, Any]]:
    """The import's coordinate warnings (none or one)."""
    if geometry_field is None:
        return []
    shapes = [
        (row, found)
        for row, data in rows
        if (found := _shape(data.model_dump().get(geometry_field))) is not None
    ]
    reference = await _reference(session, park_id, kind) if shapes else None
    if reference is None:
        return []
    warning = judge(shapes, *reference)
    return [warning] if warning else []
