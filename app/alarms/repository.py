"""SQL for alarms and their audit trail (the ingest-time evaluation keeps its own in
app/alarms/evaluator.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.severity import CRITICAL
from app.core.sqlcompose import Fixed, identifiers, statement

STATUS_FILTER = {
    "active": "a.active",
    "cleared": "NOT a.active",
    "all": "true",
}


SHELVED_FILTER = {
    "include": "true",
    "exclude": "a.shelved_until IS NULL",
    "only": "a.shelved_until IS NOT NULL",
}


async def list_(
    session: AsyncSession,
    park_id: str,
    status: str,
    shelved: str,
    severity: str | None,
    device_id: str | None,
    after: list[Any] | None,
    limit: int,
    enterprise_id: str | None = None,
) -> Sequence[RowMapping]:
    """Alarms of the park, newest first; ``enterprise_id``: only those on its devices."""
    sql = statement(
        "SELECT a.* FROM alarm a WHERE a.park_id = :park AND {status} AND {shelved} "
        "AND (CAST(:severity AS text) IS NULL OR a.severity = :severity) "
        "AND (CAST(:device AS text) IS NULL OR a.device_id = :device) "
        "AND (CAST(:enterprise AS text) IS NULL OR a.device_id IN (SELECT d.id FROM device d "
        "     WHERE d.park_id = :park AND d.enterprise_id = :enterprise)) "
        "AND (CAST(:after_at AS timestamptz) IS NULL "
        "     OR (a.raised_at, a.id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))) "
        "ORDER BY a.raised_at DESC, a.id DESC LIMIT :limit",
        status=Fixed(STATUS_FILTER[status]),
        shelved=Fixed(SHELVED_FILTER[shelved]),
    )
    params = {
        "park": park_id,
        "severity": severity,
        "device": device_id,
        "enterprise": enterprise_id,
        "limit": limit,
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    return (await session.execute(sql, params)).mappings().all()


GET = text("SELECT * FROM alarm WHERE park_id = :park AND id = :id")
GET_FOR_UPDATE = text("SELECT * FROM alarm WHERE park_id = :park AND id = :id FOR UPDATE")


async def get(
    session: AsyncSession, park_id: str, alarm_id: uuid.UUID, lock: bool = False
) -> RowMapping | None:
    sql = GET_FOR_UPDATE if lock else GET
    return (await session.execute(sql, {"park": park_id, "id": alarm_id})).mappings().one_or_none()


async def events(session: AsyncSession, alarm_id: uuid.UUID) -> Sequence[RowMapping]:
    sql = text("SELECT * FROM alarm_event WHERE alarm_id = :id ORDER BY id")
    return (await session.execute(sql, {"id": alarm_id})).mappings().all()


ACK = text(
    """
    UPDATE alarm SET acknowledged = true, acknowledged_at = now(), acknowledged_by = :actor,
        active = active AND NOT normal,
        cleared_at = CASE WHEN active AND normal THEN now() ELSE cleared_at END,
        closed_at = CASE WHEN NOT active OR normal THEN now() END,
        updated_at = now()
    WHERE park_id = :park AND id = :id AND NOT acknowledged
    RETURNING *
    """
)


async def acknowledge(
    session: AsyncSession, park_id: str, alarm_id: uuid.UUID, actor: str
) -> RowMapping | None:
    """Acknowledge; a latched alarm already back to normal clears with it. None when it was
    acknowledged before."""
    params = {"park": park_id, "id": alarm_id, "actor": actor}
    return (await session.execute(ACK, params)).mappings().one_or_none()


async def add_event(
    session: AsyncSession,
    alarm_id: uuid.UUID,
    action: str,
    *,
    severity: str | None = None,
    value: float | None = None,
    actor: str | None = None,
    comment: str | None = None,
) -> None:
    await session.execute(
        text(
            "INSERT INTO alarm_event (alarm_id, action, severity, value, actor, comment) "
            "VALUES (:id, :action, :severity, :value, :actor, :comment)"
        ),
        {
            "id": alarm_id,
            "action": action,
            "severity": severity,
            "value": value,
            "actor": actor,
            "comment": comment,
        },
    )


SUMMARY = text(
    """
    SELECT d.building_id, a.severity, a.shelved_until IS NOT NULL AS shelved,
           a.suppressed IS NOT NULL AS suppressed, count(*) AS n,
           count(*) FILTER (WHERE NOT a.acknowledged) AS unacked
    FROM alarm a JOIN device d ON d.park_id = a.park_id AND d.id = a.device_id
    WHERE a.park_id = :park AND a.active
    GROUP BY d.building_id, a.severity, shelved, suppressed
    """
)


async def summary(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return (await session.execute(SUMMARY, {"park": park_id})).mappings().all()


async def open_floods(session: AsyncSession, park_id: str) -> RowMapping:
    """The park's chattering devices now: how many, since when, how many raises held back."""
    sql = text(
        "SELECT count(*) AS devices, min(started_at) AS started_at,"
        " coalesce(sum(held_back), 0) AS held_back"
        " FROM alarm_flood WHERE park_id = :park AND ended_at IS NULL"
    )
    return (await session.execute(sql, {"park": park_id})).mappings().one()


SHELVE = text(
    """
    UPDATE alarm SET shelved_until = now() + make_interval(secs => :seconds),
        shelved_by = :actor, shelved_at = now(), updated_at = now()
    WHERE park_id = :park AND id = :id
    RETURNING *
    """
)

UNSHELVE = text(
    """
    UPDATE alarm SET shelved_until = NULL, shelved_by = NULL, shelved_at = NULL,
        updated_at = now()
    WHERE park_id = :park AND id = :id AND shelved_until IS NOT NULL
    RETURNING *
    """
)

# Shelving that ran out, oldest first; SKIP LOCKED so several workers share the job.
UNSHELVE_EXPIRED = text(
    """
    UPDATE alarm a SET shelved_until = NULL, shelved_by = NULL, shelved_at = NULL,
        updated_at = now()
    FROM (SELECT id FROM alarm WHERE shelved_until <= now() ORDER BY shelved_until
          LIMIT :limit FOR UPDATE SKIP LOCKED) due
    WHERE a.id = due.id
    RETURNING a.*
    """
)


async def shelve(
    session: AsyncSession, park_id: str, alarm_id: uuid.UUID, seconds: float, actor: str
) -> RowMapping:
    params = {"park": park_id, "id": alarm_id, "seconds": seconds, "actor": actor}
    return (await session.execute(SHELVE, params)).mappings().one()


async def unshelve(session: AsyncSession, park_id: str, alarm_id: uuid.UUID) -> RowMapping | None:
    """The alarm unshelved, or None when it was not shelved."""
    params = {"park": park_id, "id": alarm_id}
    return (await session.execute(UNSHELVE, params)).mappings().one_or_none()


async def unshelve_expired(session: AsyncSession, limit: int) -> Sequence[RowMapping]:
    return (await session.execute(UNSHELVE_EXPIRED, {"limit": limit})).mappings().all()


RULE_COLUMNS = identifiers(
    (
        "id", "park_id", "device_type", "device_id", "metric", "type", "direction", "levels",
        "deadband", "on_delay_s", "off_delay_s", "latch", "enabled", "source", "low_levels",
        "gas", "suppress_when",
    )
)  # fmt: skip


async def list_rules(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    sql = statement(
        "SELECT {columns} FROM alarm_rule WHERE park_id IS NULL OR park_id = :park "
        "ORDER BY park_id NULLS FIRST, device_type, metric, device_id NULLS FIRST, id",
        columns=RULE_COLUMNS,
    )
    return (await session.execute(sql, {"park": park_id})).mappings().all()


async def metric_of_type(session: AsyncSession, device_type: str, metric: str) -> bool:
    sql = text("SELECT 1 FROM device_type_metric WHERE device_type = :t AND name = :m")
    return (await session.execute(sql, {"t": device_type, "m": metric})).first() is not None


async def device_type_of(session: AsyncSession, park_id: str, device_id: str) -> str | None:
    sql = text("SELECT type FROM device WHERE park_id = :park AND id = :id")
    return (await session.execute(sql, {"park": park_id, "id": device_id})).scalar_one_or_none()


async def create_rule(
    session: AsyncSession, park_id: str, data: dict[str, Any]
) -> RowMapping | None:
    """The new rule, or None when the park already has one for the same scope."""
    sql = statement(
        "INSERT INTO alarm_rule (park_id, device_type, device_id, metric, type, direction, levels, "
        "deadband, on_delay_s, off_delay_s, latch, enabled, low_levels, gas, suppress_when) "
        "VALUES (:park, :device_type, :device_id, :metric, :type, :direction, "
        "CAST(:levels AS jsonb), :deadband, :on_delay_s, :off_delay_s, :latch, :enabled, "
        "CAST(:low_levels AS jsonb), :gas, CAST(:suppress_when AS jsonb)) "
        "ON CONFLICT DO NOTHING RETURNING {columns}",
        columns=RULE_COLUMNS,
    )
    params = {
        **data,
        "park": park_id,
        "levels": orjson.dumps(data["levels"]).decode(),
        "low_levels": _json_or_none(data["low_levels"]),
        "suppress_when": _json_or_none(data["suppress_when"]),
    }
    return (await session.execute(sql, params)).mappings().one_or_none()


def _json_or_none(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


async def toxic_gases(session: AsyncSession) -> Sequence[RowMapping]:
    sql = text(
        "SELECT gas, name_zh, molar_mass, level1_mg_m3, level2_mg_m3, valid_from, source "
        "FROM toxic_gas ORDER BY gas"
    )
    return (await session.execute(sql)).mappings().all()


async def delete_rule(session: AsyncSession, park_id: str, rule_id: int) -> bool:
    sql = text("DELETE FROM alarm_rule WHERE park_id = :park AND id = :id RETURNING id")
    return (await session.execute(sql, {"park": park_id, "id": rule_id})).first() is not None


# The policy of app/alarms/policy.py, on one batch of events: ``judged`` says why an event is
# held back, and whether it is a raise of a chattering device (more raises from its device in
# the window, up to and including it, than the threshold). A chattering device's batch opens
# its flood (announced with ``alarm.flood_started``) or adds to the open one.
HOLD_BACK = text(
    """
    WITH events AS (
        SELECT o.id, o.park_id, o.type, o.severity, o.created_at, o.data,
               coalesce(o.data->>'device_id', '') AS device
        FROM event_outbox o WHERE o.id = ANY (CAST(:ids AS uuid[])) AND o.held_back IS NULL
    ), judged AS (
        SELECT e.id, e.park_id, e.device, e.created_at,
            CASE WHEN e.type IN ('alarm.raised', 'alarm.escalated', 'alarm.cleared')
                      AND e.data->>'suppressed' IS NOT NULL
                 THEN 'suppressed'
                 WHEN e.type IN ('alarm.raised', 'alarm.escalated', 'alarm.cleared')
                      AND CAST(e.data->>'shelved_until' AS timestamptz) > e.created_at
                      AND NOT (e.type = 'alarm.escalated' AND e.severity = :critical)
                 THEN 'shelved'
                 WHEN c.raises > :threshold AND c.repeat
                      AND NOT coalesce(CAST(e.data->>'latched' AS boolean), false)
                 THEN 'flood'
            END AS held,
            coalesce(c.raises > :threshold, false) AS chattering
        FROM events e LEFT JOIN LATERAL (
            SELECT count(*) AS raises, bool_or(r.created_at < e.created_at
                       AND r.data->>'metric' IS NOT DISTINCT FROM e.data->>'metric'
                       AND r.data->>'type' IS NOT DISTINCT FROM e.data->>'type') AS repeat
            FROM event_outbox r
            WHERE r.park_id = e.park_id AND r.type = 'alarm.raised'
              AND r.data->>'suppressed' IS NULL
              AND coalesce(r.data->>'device_id', '') = e.device
              AND r.created_at <= e.created_at
              AND r.created_at > e.created_at - make_interval(secs => :window_s)
        ) c ON e.type = 'alarm.raised' AND e.data->>'suppressed' IS NULL
    ), marked AS (
        UPDATE event_outbox o SET held_back = j.held
        FROM judged j WHERE o.id = j.id AND j.held IS NOT NULL RETURNING o.id
    ), floods AS (
        INSERT INTO alarm_flood AS f (park_id, device_id, started_at, held_back)
        SELECT park_id, device, min(created_at), count(*) FILTER (WHERE held = 'flood')
        FROM judged WHERE chattering GROUP BY park_id, device
        ON CONFLICT (park_id, device_id) WHERE ended_at IS NULL
        DO UPDATE SET held_back = f.held_back + excluded.held_back
        RETURNING park_id, device_id, started_at, xmax = 0 AS opened
    ), announced AS (
        INSERT INTO event_outbox (park_id, type, data, created_at)
        SELECT park_id, 'alarm.flood_started', jsonb_build_object(
            'park_id', park_id, 'device_id', nullif(device_id, ''),
            'started_at', to_char(started_at AT TIME ZONE 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'threshold', CAST(:threshold AS int), 'window_s', CAST(:window_s AS float8)),
            clock_timestamp()
        FROM floods WHERE opened RETURNING 1
    )
    SELECT (SELECT count(*) FROM marked) AS held, (SELECT count(*) FROM announced) AS floods
    """
).bindparams(critical=CRITICAL)


async def hold_back(
    session: AsyncSession, event_ids: list[Any], threshold: int, window_s: float
) -> None:
    params = {"ids": event_ids, "threshold": threshold, "window_s": window_s}
    await session.execute(HOLD_BACK, params)


# A device's flood ends once its raises within the window are back at or under the threshold.
END_FLOODS = text(
    """
    UPDATE alarm_flood f SET ended_at = now(),
        raised = (SELECT count(*) FROM event_outbox r WHERE r.park_id = f.park_id
                  AND r.type = 'alarm.raised' AND coalesce(r.data->>'device_id', '') = f.device_id
                  AND r.created_at >= f.started_at)
    WHERE f.ended_at IS NULL AND (
        SELECT count(*) FROM event_outbox r WHERE r.park_id = f.park_id
        AND r.type = 'alarm.raised' AND coalesce(r.data->>'device_id', '') = f.device_id
        AND r.data->>'suppressed' IS NULL
        AND r.created_at > now() - make_interval(secs => :window_s)
    ) <= :threshold
    RETURNING *
    """
)


async def end_floods(
    session: AsyncSession, threshold: int, window_s: float
) -> Sequence[RowMapping]:
    params = {"threshold": threshold, "window_s": window_s}
    return (await session.execute(END_FLOODS, params)).mappings().all()
