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
    result = await session.execute(
        text(SELECT + "WHERE d.park_id = :park AND d.id = :id"), {"park": park_id, "id": device_id}
    )
    return result.mappings().one_or_none()


async def list_(
    session: AsyncSession, park_id: str, filters: dict[str, Any], after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            SELECT
            + "WHERE d.park_id = :park AND "
            + FILTERS
            + "AND (CAST(:after AS text) IS NULL OR d.id > :after) ORDER BY d.id LIMIT :limit"
        ),
        {"park": park_id, "after": after, "limit": limit, **filters},
    )
    return result.mappings().all()


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
    for table in ("telemetry", "rollup_hour", "rollup_day", "telemetry_dirty"):
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
    result = await session.execute(
        text(
            "SELECT s.metric, lv.time, lv.value FROM series s "
            "JOIN latest_value lv ON lv.series_id = s.id "
            "WHERE s.park_id = :park AND s.device_id = :device "
            "AND (CAST(:metrics AS text[]) IS NULL OR s.metric = ANY(:metrics)) ORDER BY s.metric"
        ),
        {"park": park_id, "device": device_id, "metrics": metrics},
    )
    return result.mappings().all()
