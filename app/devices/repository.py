"""SQL for ``device`` (the ``series`` rows a device gets at creation, and its latest values)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.sql import Identifier
from sqlalchemy import RowMapping, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import bindparam

from app.core.fetch import fetch_all, fetch_one
from app.core.integrity import integrity_error
from app.core.sqlcompose import Fixed, assignments, statement

SELECT = (
    "SELECT d.id, d.park_id, d.type, t.domain, d.name, d.lon, d.lat, d.building_id, "
    "d.enterprise_id, d.space_id, d.parent_meter_id, d.attributes, d.mqtt_username, d.status, "
    "d.last_seen_at, "
    "d.created_at, d.updated_at FROM device d JOIN device_type t ON t.type = d.type "
)

FILTERS = (
    "(CAST(:type AS text) IS NULL OR d.type = :type) "
    "AND (CAST(:domain AS text) IS NULL OR t.domain = :domain) "
    "AND (CAST(:building_id AS text) IS NULL OR d.building_id = :building_id) "
    "AND (CAST(:enterprise_id AS text) IS NULL OR d.enterprise_id = :enterprise_id) "
    "AND (CAST(:space_id AS text) IS NULL OR d.space_id = :space_id) "
    "AND (CAST(:parent_meter_id AS text) IS NULL OR d.parent_meter_id = :parent_meter_id) "
    "AND (CAST(:status AS text) IS NULL OR d.status = :status) "
)


async def get(session: AsyncSession, park_id: str, device_id: str) -> RowMapping | None:
    return await fetch_one(
        session,
        text(SELECT + "WHERE d.park_id = :park AND d.id = :id"),
        {"park": park_id, "id": device_id},
    )


async def list_(
    session: AsyncSession, park_id: str, filters: dict[str, Any], after: str | None, limit: int
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            SELECT
            + "WHERE d.park_id = :park AND "
            + FILTERS
            + "AND (CAST(:after AS text) IS NULL OR d.id > :after) ORDER BY d.id LIMIT :limit"
        ),
        {"park": park_id, "after": after, "limit": limit, **filters},
    )


async def type_allowed(session: AsyncSession, park_id: str, device_type: str) -> bool:
    result = await session.execute(
        text(
            "SELECT 1 FROM device_type WHERE type = :type AND (park_id IS NULL OR park_id = :park)"
        ),
        {"type": device_type, "park": park_id},
    )
    return result.first() is not None


async def insert(session: AsyncSession, values: dict[str, Any]) -> None:
    """The device and one series per metric of its type."""
    statement = text(
        "INSERT INTO device (park_id, id, type, name, lon, lat, building_id, enterprise_id, "
        "space_id, attributes, mqtt_username) VALUES (:park_id, :id, :type, :name, :lon, :lat, "
        ":building_id, :enterprise_id, :space_id, :attributes, :mqtt_username)"
    ).bindparams(bindparam("attributes", type_=JSONB))
    try:
        async with session.begin_nested():
            await session.execute(statement, values)
    except IntegrityError as exc:
        raise integrity_error(exc, f"device {values['id']!r}") from exc
    await session.execute(
        text(
            "INSERT INTO series (park_id, device_id, metric) SELECT :park_id, :id, name "
            "FROM device_type_metric WHERE device_type = :type ON CONFLICT DO NOTHING"
        ),
        values,
    )


async def insert_many(session: AsyncSession, park_id: str, rows: list[dict[str, Any]]) -> int:
    """New devices (all absent) and their series in two statements: the bulk seed's path.

    A row's ``space_id`` fills in its building as ``check_place`` does; a row whose type the
    park may not use, or whose space is not in the park, is not inserted (the caller compares
    the count). Returns how many devices were inserted."""
    params = {"park": park_id, "rows": rows}
    inserted = await session.execute(
        text(
            "INSERT INTO device (park_id, id, type, name, lon, lat, building_id, enterprise_id, "
            "space_id, attributes, mqtt_username) "
            "SELECT :park, r.id, r.type, r.name, r.lon, r.lat, "
            "COALESCE(r.building_id, s.building_id), r.enterprise_id, r.space_id, "
            "COALESCE(r.attributes, '{}'::jsonb), r.mqtt_username "
            "FROM jsonb_to_recordset(:rows) AS r (id text, type text, name text, lon float8, "
            "lat float8, building_id text, enterprise_id text, space_id text, attributes jsonb, "
            "mqtt_username text) "
            "JOIN device_type t ON t.type = r.type AND (t.park_id IS NULL OR t.park_id = :park) "
            "LEFT JOIN space s ON s.park_id = :park AND s.id = r.space_id "
            "WHERE r.space_id IS NULL OR s.id IS NOT NULL "
            "RETURNING 1"
        ).bindparams(bindparam("rows", type_=JSONB)),
        params,
    )
    count = len(inserted.all())
    await session.execute(
        text(
            "INSERT INTO series (park_id, device_id, metric) "
            "SELECT :park, r.id, m.name FROM jsonb_to_recordset(:rows) AS r (id text, type text) "
            "JOIN device_type_metric m ON m.device_type = r.type ON CONFLICT DO NOTHING"
        ).bindparams(bindparam("rows", type_=JSONB)),
        params,
    )
    return count


PARENT_PROBLEMS = """
WITH r AS (SELECT * FROM jsonb_to_recordset(:links) AS r (id text, parent text)),
meter AS (
    SELECT d.id, t.domain,
           array_agg(m.name || '|' || m.unit) FILTER (WHERE m.name IS NOT NULL) AS counters
    FROM device d
    JOIN device_type t ON t.type = d.type
    LEFT JOIN device_type_metric m ON m.device_type = d.type AND m.kind = 'counter'
    WHERE d.park_id = :park AND d.id IN (SELECT id FROM r UNION SELECT parent FROM r)
    GROUP BY d.id, t.domain
)
SELECT r.id, r.parent FROM r
LEFT JOIN meter c ON c.id = r.id
LEFT JOIN meter p ON p.id = r.parent
WHERE r.id = r.parent OR c.id IS NULL OR p.id IS NULL
   OR c.domain <> 'energy' OR p.domain <> 'energy'
   OR c.counters IS NULL OR p.counters IS NULL OR NOT (c.counters && p.counters)
"""

PARENT_LOOPS = """
WITH RECURSIVE up(start, parent, depth) AS (
    SELECT id, parent_meter_id, 0 FROM device WHERE park_id = :park AND id = ANY(:ids)
    UNION ALL
    SELECT up.start, d.parent_meter_id, up.depth + 1 FROM up
    JOIN device d ON d.park_id = :park AND d.id = up.parent
    WHERE up.parent <> up.start AND up.depth < 1000
)
SELECT DISTINCT start FROM up WHERE parent = start
"""


async def set_parent_meters(
    session: AsyncSession, park_id: str, links: list[dict[str, str]]
) -> list[str]:
    """Each ``{"id", "parent"}``: the device's main meter, set in one statement when every
    link holds (both energy meters with a counter in common, as ``links.check_parent_meter``
    checks one); returns the devices whose link does not hold, or that would loop (then the
    caller's transaction must roll back)."""
    params = {"park": park_id, "links": links}
    bad = await session.execute(
        text(PARENT_PROBLEMS).bindparams(bindparam("links", type_=JSONB)), params
    )
    problems = [str(row[0]) for row in bad]
    if problems:
        return problems
    await session.execute(
        text(
            "UPDATE device d SET parent_meter_id = r.parent "
            "FROM jsonb_to_recordset(:links) AS r (id text, parent text) "
            "WHERE d.park_id = :park AND d.id = r.id"
        ).bindparams(bindparam("links", type_=JSONB)),
        params,
    )
    loops = await session.execute(
        text(PARENT_LOOPS), {"park": park_id, "ids": [link["id"] for link in links]}
    )
    return [str(row[0]) for row in loops]


async def update(
    session: AsyncSession, park_id: str, device_id: str, changes: dict[str, Any]
) -> None:
    allowed = {
        "name", "lon", "lat", "building_id", "enterprise_id", "space_id", "parent_meter_id",
        "attributes",
    }  # fmt: skip
    sets = [c for c in changes if c in allowed]
    query = statement(
        "UPDATE device SET {sets}updated_at = now() WHERE park_id = :park AND id = :id",
        sets=assignments(sets) + Fixed(", ") if sets else Fixed(""),
    )
    if "attributes" in changes:
        query = query.bindparams(bindparam("attributes", type_=JSONB))
    await session.execute(query, {**changes, "park": park_id, "id": device_id})


async def delete(session: AsyncSession, park_id: str, device_id: str) -> None:
    """The device, its series, and their readings, rollups and queued recomputations."""
    ids = (
        (
            await session.execute(
                text("SELECT id FROM series WHERE park_id = :park AND device_id = :id"),
                {"park": park_id, "id": device_id},
            )
        )
        .scalars()
        .all()
    )
    for table in ("telemetry", "rollup_hour", "rollup_day", "rollup_month", "telemetry_dirty"):
        await session.execute(
            statement("DELETE FROM {table} WHERE series_id = ANY(:ids)", table=Identifier(table)),
            {"ids": list(ids)},
        )
    await session.execute(
        text("DELETE FROM device WHERE park_id = :park AND id = :id"),
        {"park": park_id, "id": device_id},
    )


async def latest_for_device(
    session: AsyncSession, park_id: str, device_id: str, metrics: list[str] | None
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT s.metric, lv.time, lv.value FROM series s "
            "JOIN latest_value lv ON lv.series_id = s.id "
            "WHERE s.park_id = :park AND s.device_id = :device "
            "AND (CAST(:metrics AS text[]) IS NULL OR s.metric = ANY(:metrics)) ORDER BY s.metric"
        ),
        {"park": park_id, "device": device_id, "metrics": metrics},
    )
