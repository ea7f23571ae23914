"""SQL of major hazard sources: the chemical catalogue in force (Q and β, a park's own row
winning over the built-in GB 18218-2018 values), the sources with their inventories, and the
drills of response plans."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

CATALOGUE = """
SELECT DISTINCT ON (chemical) * FROM hazardous_chemical
WHERE (park_id IS NULL OR park_id = :park) AND valid_from <= now()
ORDER BY chemical, park_id NULLS LAST, valid_from DESC
"""


async def catalogue(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return (await session.execute(text(CATALOGUE), {"park": park_id})).mappings().all()


SOURCES = text(
    """
    SELECT s.*, coalesce(inv.items, '[]') AS inventory
    FROM hazard_source s
    LEFT JOIN LATERAL (
        SELECT jsonb_agg(jsonb_build_object(
                   'chemical', i.chemical, 'name_zh', c.name_zh, 'quantity_t', i.quantity_t,
                   'critical_t', coalesce(i.critical_t, c.critical_t),
                   'beta', coalesce(i.beta, c.beta),
                   'source', CASE WHEN i.critical_t IS NOT NULL OR i.beta IS NOT NULL
                                  THEN coalesce(i.basis, 'park') ELSE c.source END)
                   ORDER BY i.chemical) AS items
        FROM hazard_inventory i
        LEFT JOIN LATERAL (
            SELECT * FROM hazardous_chemical h
            WHERE h.chemical = i.chemical AND (h.park_id IS NULL OR h.park_id = s.park_id)
              AND h.valid_from <= now()
            ORDER BY h.park_id NULLS LAST, h.valid_from DESC LIMIT 1
        ) c ON true
        WHERE i.park_id = s.park_id AND i.hazard_source_id = s.id
    ) inv ON true
    WHERE s.park_id = :park AND (CAST(:id AS text) IS NULL OR s.id = :id)
    ORDER BY s.id
    """
)
"""Each source with its inventory, Q and β resolved (the item's own, else the catalogue's)."""


async def sources(
    session: AsyncSession, park_id: str, source_id: str | None = None
) -> Sequence[RowMapping]:
    params = {"park": park_id, "id": source_id}
    return (await session.execute(SOURCES, params)).mappings().all()


INSERT_SOURCE = """
INSERT INTO hazard_source (park_id, id, name, unit_kind, enterprise_id, lon, lat,
    exposed_population)
VALUES (:park, :id, :name, :unit_kind, :enterprise_id, :lon, :lat, :exposed_population)
"""
CREATE_SOURCE = text(INSERT_SOURCE + "ON CONFLICT DO NOTHING RETURNING id")
REPLACE_SOURCE = text(
    INSERT_SOURCE
    + """ON CONFLICT (park_id, id) DO UPDATE SET name = excluded.name,
    unit_kind = excluded.unit_kind, enterprise_id = excluded.enterprise_id, lon = excluded.lon,
    lat = excluded.lat, exposed_population = excluded.exposed_population, updated_at = now()
RETURNING id"""
)


async def upsert_source(
    session: AsyncSession, park_id: str, values: dict[str, Any], replace: bool
) -> bool:
    """Insert the source (or, ``replace``, overwrite it); False when it exists and not
    ``replace``."""
    sql = REPLACE_SOURCE if replace else CREATE_SOURCE
    return (await session.execute(sql, {**values, "park": park_id})).first() is not None


async def replace_inventory(
    session: AsyncSession, park_id: str, source_id: str, items: list[dict[str, Any]]
) -> None:
    params = {"park": park_id, "id": source_id}
    await session.execute(
        text("DELETE FROM hazard_inventory WHERE park_id = :park AND hazard_source_id = :id"),
        params,
    )
    await session.execute(
        text(
            "INSERT INTO hazard_inventory (park_id, hazard_source_id, chemical, quantity_t, "
            "critical_t, beta, basis) SELECT :park, :id, t.chemical, t.quantity_t, t.critical_t, "
            "t.beta, t.basis FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS t(chemical text, "
            "quantity_t double precision, critical_t double precision, beta double precision, "
            "basis text)"
        ),
        {**params, "items": orjson.dumps(items).decode()},
    )


async def delete_source(session: AsyncSession, park_id: str, source_id: str) -> bool:
    sql = text("DELETE FROM hazard_source WHERE park_id = :park AND id = :id RETURNING id")
    return (await session.execute(sql, {"park": park_id, "id": source_id})).first() is not None


async def insert_drill(session: AsyncSession, park_id: str, values: dict[str, Any]) -> RowMapping:
    sql = text(
        "INSERT INTO emergency_drill (park_id, plan_id, incident_id, held_at, scenario, "
        "participants, findings, recorded_by) VALUES (:park, :plan_id, :incident_id, :held_at, "
        ":scenario, :participants, CAST(:findings AS jsonb), :recorded_by) RETURNING id"
    )
    params = {**values, "park": park_id, "findings": orjson.dumps(values["findings"]).decode()}
    return (await session.execute(sql, params)).mappings().one()


DRILLS = text(
    """
    SELECT d.*, jsonb_build_object('id', p.id, 'name', p.name, 'incident_type',
           p.incident_type, 'approved_by', p.approved_by, 'approved_at', p.approved_at,
           'review_due_on', p.review_due_on) AS plan
    FROM emergency_drill d JOIN response_plan p ON p.id = d.plan_id
    WHERE d.park_id = :park AND (CAST(:id AS bigint) IS NULL OR d.id = :id)
      AND (CAST(:plan AS bigint) IS NULL OR d.plan_id = :plan)
    ORDER BY d.held_at DESC, d.id DESC
    LIMIT :limit
    """
)


async def drills(
    session: AsyncSession,
    park_id: str,
    drill_id: int | None = None,
    plan_id: int | None = None,
    limit: int = 1000,
) -> Sequence[RowMapping]:
    params = {"park": park_id, "id": drill_id, "plan": plan_id, "limit": limit}
    return (await session.execute(DRILLS, params)).mappings().all()


async def is_drill_incident(session: AsyncSession, park_id: str, incident_id: uuid.UUID) -> bool:
    sql = text("SELECT drill FROM incident WHERE park_id = :park AND id = :id")
    found = (await session.execute(sql, {"park": park_id, "id": incident_id})).scalar()
    return bool(found)
