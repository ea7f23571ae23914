"""SQL of the twin: the leaves and their statuses, the rows of the spatial index, the park's
asset version, latest values of a set of devices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, RowMapping, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.fetch import fetch_all, fetch_dicts
from app.core.severity import RANKED
from app.core.sqlcompose import Fixed, compose

UNDER_MAINTENANCE = ["under_maintenance", "faulty"]

# A device's worst open alarm by severity rank (app/core/severity.py: 4 critical ... 1 warning).
LEAF_CTE = """
WITH open_alarm AS (
    SELECT device_id, max(array_position(CAST(:ranked AS text[]), severity)) AS rank
    FROM alarm WHERE park_id = :park AND closed_at IS NULL GROUP BY device_id
), watched AS (
    SELECT device_id, bool_or(maintenance_status = ANY(CAST(:under_maintenance AS text[])))
           AS maintenance
    FROM equipment WHERE park_id = :park AND device_id IS NOT NULL GROUP BY device_id
), leaf AS (
    SELECT 'device' AS kind, d.id, d.name, d.type, d.lon, d.lat,
           coalesce(s.building_id, d.building_id) AS building_id, d.space_id,
           CASE WHEN o.rank IS NOT NULL
                THEN (CAST(:ranked AS text[]))[o.rank]
                WHEN d.status = 'offline' THEN 'offline'
                WHEN w.maintenance THEN 'maintenance'
                WHEN d.status = 'unknown' THEN 'unknown'
                ELSE 'normal' END AS status,
           d.status AS connectivity, d.last_seen_at
    FROM device d
    LEFT JOIN open_alarm o ON o.device_id = d.id
    LEFT JOIN watched w ON w.device_id = d.id
    LEFT JOIN space s ON s.park_id = d.park_id AND s.id = d.space_id
    WHERE d.park_id = :park
    UNION ALL
    SELECT 'equipment', e.id, e.name, e.category, e.lon, e.lat,
           coalesce(s.building_id, e.building_id), e.space_id,
           CASE WHEN e.maintenance_status = ANY(CAST(:under_maintenance AS text[]))
                THEN 'maintenance'
                ELSE 'normal' END,
           NULL, NULL
    FROM equipment e
    LEFT JOIN space s ON s.park_id = e.park_id AND s.id = e.space_id
    WHERE e.park_id = :park AND e.device_id IS NULL AND e.maintenance_status <> 'retired'
    UNION ALL
    SELECT 'space', id, name, NULL, NULL, NULL, building_id, id, 'maintenance', NULL, NULL
    FROM space WHERE park_id = :park AND status = 'maintenance'
)
"""
"""Every leaf of the park (``leaf``): devices, unwatched equipment, spaces under maintenance,
each with its status and building."""


def _leaf_query(tail: str) -> TextClause:
    return text(LEAF_CTE + tail).bindparams(ranked=RANKED, under_maintenance=UNDER_MAINTENANCE)


LEAVES = _leaf_query(
    """SELECT * FROM leaf
WHERE CAST(:building AS text) IS NULL OR building_id = :building
ORDER BY kind, id"""
)

# The roll-up's input without one row per leaf: per building and status, a count; a leaf in
# no known building (none named, or one that does not exist: device.building_id has no
# foreign key) keeps its point, for the parcel holding it, so those group by point.
LEAF_COUNTS = _leaf_query(
    """SELECT leaf.building_id, CASE WHEN b.id IS NULL THEN leaf.lon END AS lon,
       CASE WHEN b.id IS NULL THEN leaf.lat END AS lat, leaf.status, count(*) AS n
FROM leaf LEFT JOIN building b ON b.park_id = :park AND b.id = leaf.building_id
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""
)

IN_BOX = (
    "kind = 'device' AND lon IS NOT NULL "
    "AND (CAST(:west AS float8) IS NULL OR lon BETWEEN :west AND :east AND lat BETWEEN :south "
    "AND :north)"
)

# Located devices per grid cell of ``:cell`` degrees and status (map clusters at low zoom):
# the count, the sum of the coordinates (for the mean) and the first device id.
DEVICE_CELLS = _leaf_query(
    compose(
        """SELECT floor(lon / :cell)::bigint AS ix, floor(lat / :cell)::bigint AS iy, status,
       count(*) AS n, sum(lon) AS sum_lon, sum(lat) AS sum_lat, min(id) AS first_id
FROM leaf WHERE {in_box} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        in_box=Fixed(IN_BOX),
    )
)

DEVICES_IN_BOX = _leaf_query(
    compose("SELECT * FROM leaf WHERE {in_box} ORDER BY id", in_box=Fixed(IN_BOX))
)

ALARMED_IN_BOX = _leaf_query(
    compose(
        "SELECT * FROM leaf WHERE {in_box} AND status = ANY(CAST(:ranked AS text[])) ORDER BY id",
        in_box=Fixed(IN_BOX),
    )
)
"""The located devices in the box whose status is an open alarm's severity."""


async def leaves(
    session: AsyncSession, park_id: str, building_id: str | None = None
) -> list[dict[str, Any]]:
    """Devices, unwatched equipment and spaces under maintenance, each with its status and
    its building (a device or equipment in a space is in that space's building)."""
    return await fetch_dicts(session, LEAVES, {"park": park_id, "building": building_id})


async def leaf_counts(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    """``(building_id, lon, lat, status, n)``: the leaves counted per building and status
    (per point for those in no building)."""
    return (await session.execute(LEAF_COUNTS, {"park": park_id})).mappings().all()


Box = tuple[float, float, float, float]
"""west, south, east, north (degrees, WGS-84)."""


def _box(box: Box | None) -> dict[str, float | None]:
    west, south, east, north = box if box is not None else (None, None, None, None)
    return {"west": west, "south": south, "east": east, "north": north}


async def device_cells(
    session: AsyncSession, park_id: str, cell: float, box: Box | None
) -> Sequence[RowMapping]:
    """Located devices (in ``box``) per grid cell of ``cell`` degrees and status."""
    params = {"park": park_id, "cell": cell, **_box(box)}
    return (await session.execute(DEVICE_CELLS, params)).mappings().all()


async def devices_in_box(
    session: AsyncSession, park_id: str, box: Box | None, *, alarmed: bool = False
) -> list[dict[str, Any]]:
    """The located device leaves in ``box`` (only those with an open alarm if ``alarmed``),
    in id order."""
    query = ALARMED_IN_BOX if alarmed else DEVICES_IN_BOX
    return await fetch_dicts(session, query, {"park": park_id, **_box(box)})


async def asset_version(session: AsyncSession, park_id: str) -> int:
    """The park's asset version: triggers bump it on every change of a parcel, building,
    space, enterprise or lease, and on a device added, removed, moved or relinked (0009)."""
    result = await session.execute(
        text("SELECT version FROM asset_version WHERE park_id = :park"), {"park": park_id}
    )
    return int(result.scalar_one_or_none() or 0)


async def parcels(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT id, name, land_use, geometry, area_m2 FROM parcel "
            "WHERE park_id = :park ORDER BY id"
        ),
        {"park": park_id},
    )


async def buildings(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT id, name, parcel_id, footprint, floors, use, area_m2 FROM building "
            "WHERE park_id = :park ORDER BY id"
        ),
        {"park": park_id},
    )


async def spaces(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT id, name, building_id, floor, area_m2, status FROM space "
            "WHERE park_id = :park ORDER BY id"
        ),
        {"park": park_id},
    )


async def located_devices(session: AsyncSession, park_id: str) -> Sequence[Row[Any]]:
    """Plain rows, not mappings: 100,000 of them in about 60 % of the time."""
    result = await session.execute(
        text(
            "SELECT id, name, type, building_id, space_id, enterprise_id, lon, lat FROM device "
            "WHERE park_id = :park AND lon IS NOT NULL ORDER BY id"
        ),
        {"park": park_id},
    )
    return result.all()


async def enterprise_pieces(session: AsyncSession, park_id: str, day: date) -> Sequence[RowMapping]:
    """Per lease in force on ``day``: the enterprise and the geometry it holds (a space's
    building footprint, a building's footprint, or a parcel)."""
    return await fetch_all(
        session,
        text(
            "SELECT e.id, e.name, e.credit_code, l.id AS lease_id, "
            "coalesce(sb.footprint, b.footprint, p.geometry) AS geometry "
            "FROM lease l JOIN enterprise e ON e.park_id = l.park_id AND e.id = l.enterprise_id "
            "LEFT JOIN space s ON s.park_id = l.park_id AND s.id = l.space_id "
            "LEFT JOIN building sb ON sb.park_id = s.park_id AND sb.id = s.building_id "
            "LEFT JOIN building b ON b.park_id = l.park_id AND b.id = l.building_id "
            "LEFT JOIN parcel p ON p.park_id = l.park_id AND p.id = l.parcel_id "
            "WHERE l.park_id = :park AND :day BETWEEN l.start_date AND l.end_date "
            "ORDER BY e.id, l.id"
        ),
        {"park": park_id, "day": day},
    )


async def latest_values(
    session: AsyncSession, park_id: str, device_ids: list[str]
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT s.device_id, s.metric, lv.time, lv.value FROM series s "
            "JOIN latest_value lv ON lv.series_id = s.id "
            "WHERE s.park_id = :park AND s.device_id = ANY(:ids) ORDER BY s.device_id, s.metric"
        ),
        {"park": park_id, "ids": device_ids},
    )


async def floors(session: AsyncSession, park_id: str, building_id: str) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT number, name, area_m2 FROM floor "
            "WHERE park_id = :park AND building_id = :building ORDER BY number"
        ),
        {"park": park_id, "building": building_id},
    )
