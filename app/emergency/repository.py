"""SQL of incidents: the incident rows, their alarms, timeline and tasks, the worker's queues
(unlinked critical alarms, report deadlines) and the statistics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from psycopg.sql import Literal
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.http import JSON_OPTIONS
from app.core.severity import CRITICAL
from app.core.sqlcompose import Fixed, assignments, binds, fragment, identifiers, statement
from app.emergency.config_repository import IN_FORCE

INCIDENT_COLUMNS = {
    "status",
    "level",
    "description",
    "responding_at",
    "contained_at",
    "closed_at",
    "closed_by",
    "forced_close",
    "reported_at",
    "reported_by",
    "last_alarm_at",
    "category",
    "deaths",
    "serious_injuries",
    "minor_injuries",
    "missing",
    "direct_loss_yuan",
    "grade",
    "accident_known_at",
    "report_due_at",
    "report_warn_at",
    "report_due_sent_at",
    "supplement_due_at",
    "supplement_due_sent_at",
    "chemical",
    "spill_size",
    "enterprise_id",
}


async def insert(session: AsyncSession, **values: Any) -> RowMapping:
    sql = statement(
        "INSERT INTO incident ({columns}) VALUES ({values}) RETURNING *",
        columns=identifiers(values),
        values=binds(values),
    )
    return (await session.execute(sql, values)).mappings().one()


GET = text("SELECT * FROM incident WHERE park_id = :park AND id = :id")
GET_FOR_UPDATE = text("SELECT * FROM incident WHERE park_id = :park AND id = :id FOR UPDATE")


async def get(
    session: AsyncSession, park_id: str, incident_id: uuid.UUID, lock: bool = False
) -> RowMapping | None:
    sql = GET_FOR_UPDATE if lock else GET
    result = await session.execute(sql, {"park": park_id, "id": incident_id})
    return result.mappings().one_or_none()


async def update(session: AsyncSession, incident_id: uuid.UUID, **values: Any) -> RowMapping:
    assert set(values) <= INCIDENT_COLUMNS, set(values) - INCIDENT_COLUMNS
    sql = statement(
        "UPDATE incident SET {sets}, updated_at = now() WHERE id = :id RETURNING *",
        sets=assignments(values),
    )
    return (await session.execute(sql, {**values, "id": incident_id})).mappings().one()


async def list_(
    session: AsyncSession,
    park_id: str,
    status: str | None,
    drill: bool,
    after: list[Any] | None,
    limit: int,
) -> Sequence[RowMapping]:
    sql = text(
        "SELECT * FROM incident WHERE park_id = :park AND drill = :drill "
        "AND (CAST(:status AS text) IS NULL OR status = :status "
        "     OR (CAST(:status AS text) = 'open' AND status <> 'closed')) "
        "AND (CAST(:after_at AS timestamptz) IS NULL "
        "     OR (opened_at, id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))) "
        "ORDER BY opened_at DESC, id DESC LIMIT :limit"
    )
    params = {
        "park": park_id,
        "drill": drill,
        "status": status,
        "limit": limit,
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    return (await session.execute(sql, params)).mappings().all()


async def alarm_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The alarms of each incident, oldest link first."""
    sql = text(
        "SELECT incident_id, alarm_id FROM incident_alarm WHERE incident_id = ANY(:ids) "
        "ORDER BY linked_at, alarm_id"
    )
    found: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    for row in (await session.execute(sql, {"ids": ids})).mappings():
        found[row["incident_id"]].append(str(row["alarm_id"]))
    return found


async def add_event(
    session: AsyncSession,
    incident_id: uuid.UUID,
    action: str,
    actor: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        text(
            "INSERT INTO incident_event (incident_id, action, actor, detail) "
            "VALUES (:id, :action, :actor, CAST(:detail AS jsonb))"
        ),
        {
            "id": incident_id,
            "action": action,
            "actor": actor,
            "detail": orjson.dumps(detail or {}, option=JSON_OPTIONS).decode(),
        },
    )


async def events(session: AsyncSession, incident_id: uuid.UUID) -> Sequence[RowMapping]:
    sql = text("SELECT * FROM incident_event WHERE incident_id = :id ORDER BY id")
    return (await session.execute(sql, {"id": incident_id})).mappings().all()


async def add_tasks(
    session: AsyncSession,
    incident_id: uuid.UUID,
    tasks: Sequence[dict[str, Any]],
    plan_id: int | None,
) -> Sequence[RowMapping]:
    if not tasks:
        return []
    sql = text(
        "INSERT INTO incident_task (incident_id, position, title, critical, assignee, plan_id) "
        "SELECT :id, coalesce((SELECT max(position) FROM incident_task WHERE incident_id = :id), "
        "0) + t.n, t.title, t.critical, t.assignee, :plan "
        "FROM jsonb_to_recordset(CAST(:tasks AS jsonb)) "
        "AS t(n int, title text, critical boolean, assignee text) RETURNING *"
    )
    rows = [
        {"n": n, "title": t["title"], "critical": bool(t.get("critical")), **_assignee(t)}
        for n, t in enumerate(tasks, start=1)
    ]
    params = {"id": incident_id, "plan": plan_id, "tasks": orjson.dumps(rows).decode()}
    return (await session.execute(sql, params)).mappings().all()


def _assignee(task: dict[str, Any]) -> dict[str, Any]:
    return {"assignee": task.get("assignee")}


async def tasks(session: AsyncSession, incident_id: uuid.UUID) -> Sequence[RowMapping]:
    sql = text("SELECT * FROM incident_task WHERE incident_id = :id ORDER BY position, id")
    return (await session.execute(sql, {"id": incident_id})).mappings().all()


async def update_task(
    session: AsyncSession,
    incident_id: uuid.UUID,
    task_id: int,
    status: str | None,
    assignee: str | None,
    set_assignee: bool,
    actor: str,
) -> RowMapping | None:
    sql = text(
        "UPDATE incident_task SET "
        "status = coalesce(CAST(:status AS text), status), "
        "assignee = CASE WHEN :set_assignee THEN :assignee ELSE assignee END, "
        "done_at = CASE WHEN CAST(:status AS text) = 'done' AND status <> 'done' THEN now() "
        "               WHEN CAST(:status AS text) = 'open' THEN NULL ELSE done_at END, "
        "done_by = CASE WHEN CAST(:status AS text) = 'done' AND status <> 'done' THEN :actor "
        "               WHEN CAST(:status AS text) = 'open' THEN NULL ELSE done_by END "
        "WHERE incident_id = :incident AND id = :id RETURNING *"
    )
    params = {
        "incident": incident_id,
        "id": task_id,
        "status": status,
        "assignee": assignee,
        "set_assignee": set_assignee,
        "actor": actor,
    }
    return (await session.execute(sql, params)).mappings().one_or_none()


async def open_critical_tasks(session: AsyncSession, incident_id: uuid.UUID) -> list[str]:
    sql = text(
        "SELECT title FROM incident_task WHERE incident_id = :id AND critical "
        "AND status = 'open' ORDER BY position, id"
    )
    return list((await session.execute(sql, {"id": incident_id})).scalars().all())


CANDIDATES = statement(
    """
    SELECT a.id, a.park_id, a.device_id, a.metric, a.raised_at, d.type AS device_type,
           d.lon, d.lat, b.footprint
    FROM alarm a
    JOIN device d ON d.park_id = a.park_id AND d.id = a.device_id
    LEFT JOIN building b ON b.park_id = d.park_id AND b.id = d.building_id
    WHERE a.severity = {critical} AND a.closed_at IS NULL
      AND a.suppressed IS NULL  -- a detector out of service: announced (and taken) once back
      AND (d.lon IS NOT NULL OR b.footprint IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM incident_alarm ia WHERE ia.alarm_id = a.id)
      AND EXISTS (SELECT 1 FROM ({in_force}) r
                  WHERE r.trigger_device_type = d.type AND r.trigger_metric = a.metric)
    ORDER BY a.raised_at, a.id
    LIMIT :limit
    """,
    in_force=fragment(IN_FORCE, park=Fixed("a.park_id"), only=Fixed("")),
    # A literal, not a bound value: the partial index alarm_critical_open_idx matches it.
    critical=Literal(CRITICAL),
)
"""Critical alarms of a device type and metric that a rule in force for the alarm's park turns
into incidents (the rule the worker then applies: an alarm whose park has turned its trigger
off or changed it must not come back every round, nor fill the batch), not yet linked."""


async def unlinked_critical_alarms(session: AsyncSession, limit: int) -> Sequence[RowMapping]:
    """Open critical alarms of a trigger type not yet in an incident, oldest first (the
    partial index ``alarm_critical_open_idx`` keeps this cheap however long ``alarm`` grows)."""
    return (await session.execute(CANDIDATES, {"limit": limit})).mappings().all()


async def try_park_lock(session: AsyncSession, park_id: str) -> bool:
    """The park's incident-grouping lock for this transaction, or False when another worker
    holds it (that worker handles the park's alarms this round)."""
    sql = text("SELECT pg_try_advisory_xact_lock(hashtextextended('incident:' || :park, 0))")
    return bool((await session.execute(sql, {"park": park_id})).scalar_one())


async def open_alarm_incidents(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    """The park's open real incidents with the points of their detectors."""
    sql = text(
        """
        SELECT i.id, i.type, i.last_alarm_at, i.lon, i.lat,
               coalesce(jsonb_agg(jsonb_build_array(d.lon, d.lat))
                        FILTER (WHERE d.lon IS NOT NULL), '[]') AS points
        FROM incident i
        LEFT JOIN incident_alarm ia ON ia.incident_id = i.id
        LEFT JOIN alarm a ON a.id = ia.alarm_id
        LEFT JOIN device d ON d.park_id = a.park_id AND d.id = a.device_id
        WHERE i.park_id = :park AND i.closed_at IS NULL AND NOT i.drill
        GROUP BY i.id
        """
    )
    return (await session.execute(sql, {"park": park_id})).mappings().all()


async def link_alarm(
    session: AsyncSession, incident_id: uuid.UUID, alarm_id: uuid.UUID, raised_at: datetime
) -> RowMapping:
    await session.execute(
        text("INSERT INTO incident_alarm (alarm_id, incident_id) VALUES (:alarm, :incident)"),
        {"alarm": alarm_id, "incident": incident_id},
    )
    sql = text(
        "UPDATE incident SET last_alarm_at = greatest(last_alarm_at, :at), updated_at = now() "
        "WHERE id = :id RETURNING *"
    )
    return (await session.execute(sql, {"id": incident_id, "at": raised_at})).mappings().one()


DUE_REPORTS = text(
    """
    WITH due AS (
        SELECT id FROM incident
        WHERE reported_at IS NULL AND report_due_sent_at IS NULL AND closed_at IS NULL
          AND report_warn_at <= now()
        ORDER BY report_warn_at LIMIT :limit FOR UPDATE SKIP LOCKED
    )
    UPDATE incident i SET report_due_sent_at = now() FROM due WHERE i.id = due.id RETURNING i.*
    """
)


DUE_SUPPLEMENTS = text(
    """
    WITH due AS (
        SELECT id FROM incident
        WHERE supplement_due_at IS NOT NULL AND supplement_due_sent_at IS NULL
        ORDER BY supplement_due_at LIMIT :limit FOR UPDATE SKIP LOCKED
    )
    UPDATE incident i SET supplement_due_sent_at = now() FROM due WHERE i.id = due.id
    RETURNING i.*
    """
)


async def claim_due_supplements(session: AsyncSession, limit: int) -> Sequence[RowMapping]:
    """Incidents owing a 补报 not yet announced, marked announced."""
    return (await session.execute(DUE_SUPPLEMENTS, {"limit": limit})).mappings().all()


async def claim_due_reports(session: AsyncSession, limit: int) -> Sequence[RowMapping]:
    """Incidents whose report deadline is near and not yet announced, marked announced."""
    return (await session.execute(DUE_REPORTS, {"limit": limit})).mappings().all()


STATS = text(
    """
    SELECT status, type, level, category, grade, count(*) AS n,
           count(*) FILTER (WHERE category = 'accident' AND (reported_at > report_due_at
                            OR (reported_at IS NULL AND report_due_at < now()))) AS late,
           count(*) FILTER (WHERE coalesce(responding_at, contained_at, closed_at, now())
                                  > response_due_at) AS response_late,
           sum(extract(epoch FROM responding_at - opened_at)) AS to_responding,
           count(responding_at) AS responded,
           sum(extract(epoch FROM closed_at - opened_at)) AS to_closed,
           count(closed_at) AS closed
    FROM incident
    WHERE park_id = :park AND drill = :drill
      AND (CAST(:since AS timestamptz) IS NULL OR opened_at >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR opened_at < :until)
    GROUP BY status, type, level, category, grade
    """
)


async def stats(
    session: AsyncSession, park_id: str, drill: bool, since: datetime | None, until: datetime | None
) -> Sequence[RowMapping]:
    params = {"park": park_id, "drill": drill, "since": since, "until": until}
    return (await session.execute(STATS, params)).mappings().all()


async def enterprise_name(session: AsyncSession, park_id: str, enterprise_id: str) -> str | None:
    sql = text("SELECT name FROM enterprise WHERE park_id = :park AND id = :id")
    result = await session.execute(sql, {"park": park_id, "id": enterprise_id})
    return result.scalar_one_or_none()


async def insert_report(session: AsyncSession, **values: Any) -> RowMapping:
    sql = text(
        "INSERT INTO incident_report (incident_id, kind, recipient, sent_at, sent_by, "
        "recorded_by, due_at, late, content) VALUES (:incident_id, :kind, :recipient, :sent_at, "
        ":sent_by, :recorded_by, :due_at, :late, CAST(:content AS jsonb)) RETURNING *"
    )
    params = {**values, "content": orjson.dumps(values["content"], option=JSON_OPTIONS).decode()}
    return (await session.execute(sql, params)).mappings().one()


async def reports(session: AsyncSession, incident_id: uuid.UUID) -> Sequence[RowMapping]:
    sql = text("SELECT * FROM incident_report WHERE incident_id = :id ORDER BY sent_at, id")
    return (await session.execute(sql, {"id": incident_id})).mappings().all()


async def report(
    session: AsyncSession, incident_id: uuid.UUID, report_id: int
) -> RowMapping | None:
    sql = text("SELECT * FROM incident_report WHERE incident_id = :incident AND id = :id")
    params = {"incident": incident_id, "id": report_id}
    return (await session.execute(sql, params)).mappings().one_or_none()
