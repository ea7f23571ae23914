"""SQL of the emergency settings and map data: the per-type rules and response plans in force
(a park's own newest row not in the future wins over the built-in default), the duty roster,
resources, the wind and the people data of the impact analysis."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import Fixed, binds, identifiers, statement

IN_FORCE = """
SELECT DISTINCT ON (incident_type) * FROM incident_type_rule
WHERE (park_id IS NULL OR park_id = {park}) AND valid_from <= now(){only}
ORDER BY incident_type, park_id NULLS LAST, valid_from DESC
"""
"""Per incident type, the rule in force for park ``{park}`` (its own, else the default)."""

RULES_IN_FORCE = statement(
    IN_FORCE,
    park=Fixed(":park"),
    only=Fixed("\n  AND (CAST(:type AS text) IS NULL OR incident_type = :type)"),
)


async def rules(session: AsyncSession, park_id: str, type_: str | None = None) -> list[RowMapping]:
    result = await session.execute(RULES_IN_FORCE, {"park": park_id, "type": type_})
    return list(result.mappings().all())


async def rule(session: AsyncSession, park_id: str, type_: str) -> RowMapping | None:
    found = await rules(session, park_id, type_)
    return found[0] if found else None


async def insert_rule(session: AsyncSession, park_id: str, values: dict[str, Any]) -> RowMapping:
    sql = statement(
        "INSERT INTO incident_type_rule (park_id, valid_from, source, {columns}) "
        "VALUES (:park, clock_timestamp(), 'park', {values}) RETURNING *",
        columns=identifiers(values),
        values=binds(values),
    )
    return (await session.execute(sql, {**values, "park": park_id})).mappings().one()


PLANS_IN_FORCE = """
SELECT DISTINCT ON (incident_type, level) * FROM response_plan
WHERE (park_id IS NULL OR park_id = :park) AND valid_from <= now()
ORDER BY incident_type, level, park_id NULLS LAST, valid_from DESC
"""


async def plans(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return (await session.execute(text(PLANS_IN_FORCE), {"park": park_id})).mappings().all()


async def plan_for(
    session: AsyncSession, park_id: str, type_: str, level: str
) -> RowMapping | None:
    """The plan in force for the type at this level, else the type's any-level plan."""
    sql = statement(
        "SELECT * FROM ({plans}) p WHERE incident_type = :type "
        "AND (level = :level OR level IS NULL) ORDER BY level NULLS LAST LIMIT 1",
        plans=Fixed(PLANS_IN_FORCE),
    )
    params = {"park": park_id, "type": type_, "level": level}
    return (await session.execute(sql, params)).mappings().one_or_none()


async def insert_plan(session: AsyncSession, park_id: str, values: dict[str, Any]) -> RowMapping:
    """A new plan version: ``incident_type``, ``level``, ``name``, ``tasks`` and the approval
    (``approved_by``, ``approved_at``, ``review_due_on``)."""
    sql = text(
        "INSERT INTO response_plan (park_id, incident_type, level, name, tasks, approved_by, "
        "approved_at, review_due_on, valid_from) VALUES (:park, :incident_type, :level, :name, "
        "CAST(:tasks AS jsonb), :approved_by, :approved_at, :review_due_on, clock_timestamp()) "
        "RETURNING *"
    )
    params = {**values, "park": park_id, "tasks": json.dumps(values["tasks"])}
    return (await session.execute(sql, params)).mappings().one()


async def plan(session: AsyncSession, park_id: str, plan_id: int) -> RowMapping | None:
    """A plan version the park may use: its own or a built-in default."""
    sql = text(
        "SELECT * FROM response_plan WHERE id = :id AND (park_id IS NULL OR park_id = :park)"
    )
    return (await session.execute(sql, {"id": plan_id, "park": park_id})).mappings().one_or_none()


CHEMICALS = text(
    """
    SELECT chemical FROM hazardous_chemical
    WHERE (park_id IS NULL OR park_id = :park) AND valid_from <= now()
    UNION
    SELECT chemical FROM toxic_zone_default
    WHERE (park_id IS NULL OR park_id = :park) AND valid_from <= now()
    """
)


async def chemicals(session: AsyncSession, park_id: str) -> set[str]:
    """The chemicals the park's tables know (hazard catalogue and toxic zone distances)."""
    return set((await session.execute(CHEMICALS, {"park": park_id})).scalars().all())


TOXIC_ZONE = text(
    """
    SELECT DISTINCT ON (wind_band) * FROM toxic_zone_default
    WHERE (park_id IS NULL OR park_id = :park) AND valid_from <= now()
      AND chemical = :chemical AND spill_size = :spill AND period = :period
      AND wind_band IN ('any', :band)
    ORDER BY wind_band, park_id NULLS LAST, valid_from DESC
    """
)


async def toxic_zone(
    session: AsyncSession, park_id: str, chemical: str, spill: str, period: str, band: str
) -> RowMapping | None:
    """The distances in force for the chemical, spill size, day/night and wind band: the
    band's own row (ERG Table 3) before an any-wind row (Table 1)."""
    params = {"park": park_id, "chemical": chemical, "spill": spill, "period": period}
    rows = (await session.execute(TOXIC_ZONE, {**params, "band": band})).mappings().all()
    return next((r for r in rows if r["wind_band"] == band), rows[0] if rows else None)


async def on_duty(session: AsyncSession, park_id: str, at: datetime) -> Sequence[RowMapping]:
    sql = text(
        "SELECT * FROM duty_roster WHERE park_id = :park AND starts_at <= :at AND ends_at > :at "
        "ORDER BY starts_at, id"
    )
    return (await session.execute(sql, {"park": park_id, "at": at})).mappings().all()


async def roster(
    session: AsyncSession, park_id: str, since: datetime | None
) -> Sequence[RowMapping]:
    sql = text(
        "SELECT * FROM duty_roster WHERE park_id = :park "
        "AND (CAST(:since AS timestamptz) IS NULL OR ends_at > :since) ORDER BY starts_at, id"
    )
    return (await session.execute(sql, {"park": park_id, "since": since})).mappings().all()


async def insert_roster(session: AsyncSession, park_id: str, values: dict[str, Any]) -> RowMapping:
    sql = text(
        "INSERT INTO duty_roster (park_id, name, role, phone, starts_at, ends_at) "
        "VALUES (:park, :name, :role, :phone, :starts_at, :ends_at) RETURNING *"
    )
    return (await session.execute(sql, {**values, "park": park_id})).mappings().one()


async def delete_roster(session: AsyncSession, park_id: str, entry_id: int) -> bool:
    sql = text("DELETE FROM duty_roster WHERE park_id = :park AND id = :id RETURNING id")
    return (await session.execute(sql, {"park": park_id, "id": entry_id})).first() is not None


async def insert_resource(
    session: AsyncSession, park_id: str, values: dict[str, Any]
) -> RowMapping | None:
    """The new resource, or None when the id is taken."""
    sql = text(
        "INSERT INTO emergency_resource (park_id, id, kind, name, lon, lat, capacity, contact, "
        "attributes) VALUES (:park, :id, :kind, :name, :lon, :lat, :capacity, :contact, "
        "CAST(:attributes AS jsonb)) ON CONFLICT DO NOTHING RETURNING *"
    )
    params = {**values, "park": park_id, "attributes": json.dumps(values["attributes"])}
    return (await session.execute(sql, params)).mappings().one_or_none()


MAP_RESOURCE_COLUMNS = ("id", "kind", "name", "lon", "lat", "capacity", "contact")


async def resources(
    session: AsyncSession, park_id: str, kind: str | None = None, attributes: bool = True
) -> Sequence[RowMapping]:
    """The park's resources (without ``attributes`` when not asked: the map needs none)."""
    columns = Fixed("*") if attributes else identifiers(MAP_RESOURCE_COLUMNS)
    sql = statement(
        "SELECT {columns} FROM emergency_resource WHERE park_id = :park "
        "AND (CAST(:kind AS text) IS NULL OR kind = :kind) ORDER BY id",
        columns=columns,
    )
    return (await session.execute(sql, {"park": park_id, "kind": kind})).mappings().all()


async def resource(session: AsyncSession, park_id: str, resource_id: str) -> RowMapping | None:
    sql = text("SELECT * FROM emergency_resource WHERE park_id = :park AND id = :id")
    result = await session.execute(sql, {"park": park_id, "id": resource_id})
    return result.mappings().one_or_none()


async def delete_resource(session: AsyncSession, park_id: str, resource_id: str) -> bool:
    sql = text("DELETE FROM emergency_resource WHERE park_id = :park AND id = :id RETURNING id")
    return (await session.execute(sql, {"park": park_id, "id": resource_id})).first() is not None


WINDS = text(
    """
    SELECT DISTINCT ON (s.metric) s.metric, s.device_id, lv.time, lv.value FROM series s
    JOIN latest_value lv ON lv.series_id = s.id
    WHERE s.park_id = :park AND s.metric = ANY(:metrics) AND lv.time >= :since
    ORDER BY s.metric, lv.time DESC, s.device_id
    """
)


async def winds(
    session: AsyncSession, park_id: str, metrics: list[str], since: datetime
) -> dict[str, RowMapping]:
    """The park's newest reading since ``since`` of each metric (direction and speed: one
    round trip), by metric."""
    params = {"park": park_id, "metrics": metrics, "since": since}
    return {r["metric"]: r for r in (await session.execute(WINDS, params)).mappings()}


PEOPLE = text(
    """
    SELECT e.id, e.name, l.area_m2,
           coalesce(CASE WHEN jsonb_typeof(e.attributes -> 'employees') = 'number'
                         THEN (e.attributes ->> 'employees')::double precision END,
                    reported.employees) AS employees,
           coalesce(s.building_id, l.building_id) AS building_id, l.parcel_id
    FROM lease l
    JOIN enterprise e ON e.park_id = l.park_id AND e.id = l.enterprise_id
    LEFT JOIN space s ON s.park_id = l.park_id AND s.id = l.space_id
    LEFT JOIN LATERAL (
        SELECT avg(r.employees) AS employees FROM economy_report r
        WHERE r.park_id = e.park_id AND r.enterprise_id = e.id
          AND r.month > CAST(:day AS date) - interval '12 months' AND r.month <= :day
    ) reported ON true
    WHERE l.park_id = :park AND :day BETWEEN l.start_date AND l.end_date
    ORDER BY e.id, l.id
    """
)


async def people_pieces(session: AsyncSession, park_id: str, day: date) -> Sequence[RowMapping]:
    """Per lease in force on ``day``: the enterprise, its head count (the ``employees``
    attribute, else the mean ``employees`` of its economy reports of the 12 months up to
    ``day``), the lease's area and the building or parcel it is on."""
    return (await session.execute(PEOPLE, {"park": park_id, "day": day})).mappings().all()
