"""SQL of notifications: routing, the facts a message names, the message queue, escalation
timers and acknowledge-link uses. Several workers may run at once (``SKIP LOCKED``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.severity import SEVERITIES

_ORDER = list(reversed(SEVERITIES))  # lowest first: array_position() is the rank

# Events of the batch (not held back by the alarm policy) × the routes of their park that
# match: event type (exact, ``*`` or ``prefix.*``), lowest severity (an event without one
# passes), building and device type (of the event's device).
ROUTED = text(
    """
    SELECT e.id AS event_id, e.park_id, e.type, e.severity, e.created_at, e.data,
           r.channel_id, r.person_ids, r.quiet_start, r.quiet_end, p.timezone
    FROM event_outbox e
    JOIN park p ON p.id = e.park_id
    JOIN notify_route r ON r.park_id = e.park_id
    JOIN notify_channel c ON c.id = r.channel_id AND c.active
    LEFT JOIN device d ON d.park_id = e.park_id AND d.id = e.data->>'device_id'
    WHERE e.id = ANY (CAST(:ids AS uuid[])) AND e.held_back IS NULL
      AND (e.type = ANY (r.event_types) OR '*' = ANY (r.event_types)
           OR split_part(e.type, '.', 1) || '.*' = ANY (r.event_types))
      AND (e.severity IS NULL OR r.min_severity IS NULL
           OR array_position(CAST(:order AS text[]), e.severity)
              >= array_position(CAST(:order AS text[]), r.min_severity))
      AND (r.building_id IS NULL OR r.building_id = d.building_id)
      AND (r.device_type IS NULL OR r.device_type = d.type)
    ORDER BY e.created_at, r.id
    """
)

# What a message names, per (park, device, metric): park, building, floor, space, device and
# the metric's unit. (The response plan comes from app/emergency: routing.plan_of.)
FACTS = text(
    """
    SELECT k.i, p.name AS park_name, p.timezone, d.name AS device_name, d.type AS device_type,
           b.name AS building_name, s.name AS space_name, s.floor, f.name AS floor_name, m.unit
    FROM unnest(CAST(:parks AS text[]), CAST(:devices AS text[]), CAST(:metrics AS text[]))
         WITH ORDINALITY AS k(park_id, device_id, metric, i)
    JOIN park p ON p.id = k.park_id
    LEFT JOIN device d ON d.park_id = k.park_id AND d.id = k.device_id
    LEFT JOIN building b ON b.park_id = d.park_id AND b.id = d.building_id
    LEFT JOIN space s ON s.park_id = d.park_id AND s.id = d.space_id
    LEFT JOIN floor f ON f.park_id = s.park_id AND f.building_id = s.building_id
                     AND f.number = s.floor
    LEFT JOIN device_type_metric m ON m.device_type = d.type AND m.name = k.metric
    ORDER BY k.i
    """
)

PEOPLE = text(
    "SELECT id, name, mobile, email, wecom_userid FROM notify_person"
    " WHERE id = ANY (CAST(:ids AS uuid[]))"
)

INSERT_MESSAGES = text(
    """
    INSERT INTO notify_message (park_id, channel_id, event_id, alarm_id, kind, type, severity,
        dedup_key, recipient, status, urgent, context, next_attempt_at)
    SELECT x.park_id, x.channel_id, x.event_id, x.alarm_id, x.kind, x.type, x.severity,
        x.dedup_key, x.recipient,
        CASE WHEN x.dedup_key IS NOT NULL AND EXISTS (
            SELECT 1 FROM notify_message m WHERE m.channel_id = x.channel_id
            AND m.dedup_key = x.dedup_key AND m.status <> 'duplicate'
            AND m.created_at > now() - make_interval(secs => :dedup_s))
        THEN 'duplicate' ELSE 'pending' END,
        x.urgent, x.context, coalesce(x.not_before, clock_timestamp())
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(park_id text, channel_id uuid,
        event_id uuid, alarm_id uuid, kind text, type text, severity text, dedup_key text,
        recipient text, urgent boolean, context jsonb, not_before timestamptz)
    ON CONFLICT (event_id, channel_id) WHERE kind = 'event' DO NOTHING
    """
)

START_ESCALATIONS = text(
    """
    INSERT INTO notify_escalation (alarm_id, park_id, due_at)
    SELECT a.id, a.park_id, now() FROM alarm a
    WHERE a.id = ANY (CAST(:alarms AS uuid[])) AND NOT a.acknowledged AND a.closed_at IS NULL
      AND EXISTS (SELECT 1 FROM notify_escalation_step s WHERE s.park_id = a.park_id)
    ON CONFLICT (alarm_id) DO NOTHING
    """
)


CRITICAL_RAISES = text(
    "SELECT type, data FROM event_outbox WHERE id = ANY (CAST(:ids AS uuid[]))"
    " AND held_back IS NULL AND severity = :critical AND type = ANY (CAST(:types AS text[]))"
)


async def critical_raises(
    session: AsyncSession, event_ids: Sequence[uuid.UUID], critical: str, types: Sequence[str]
) -> Sequence[RowMapping]:
    """The batch's events (not held back) that start an escalation."""
    params = {"ids": list(event_ids), "critical": critical, "types": list(types)}
    return (await session.execute(CRITICAL_RAISES, params)).mappings().all()


async def routed(session: AsyncSession, event_ids: Sequence[uuid.UUID]) -> Sequence[RowMapping]:
    params = {"ids": list(event_ids), "order": _ORDER}
    return (await session.execute(ROUTED, params)).mappings().all()


async def facts(
    session: AsyncSession, keys: Sequence[tuple[str, str | None, str | None]]
) -> list[dict[str, Any]]:
    """The facts of each (park, device, metric), in order."""
    if not keys:
        return []
    parks, devices, metrics = (list(column) for column in zip(*keys, strict=True))
    params = {"parks": parks, "devices": devices, "metrics": metrics}
    rows = (await session.execute(FACTS, params)).mappings().all()
    return [{k: v for k, v in row.items() if k != "i"} for row in rows]


async def people(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = (await session.execute(PEOPLE, {"ids": list(ids)})).mappings().all()
    return {str(r["id"]): {**r, "id": str(r["id"])} for r in rows}


async def insert_messages(
    session: AsyncSession, rows: Sequence[dict[str, Any]], dedup_s: float
) -> None:
    if rows:
        payload = orjson.dumps(list(rows)).decode()
        await session.execute(INSERT_MESSAGES, {"rows": payload, "dedup_s": dedup_s})


async def start_escalations(session: AsyncSession, alarm_ids: Sequence[str]) -> None:
    if alarm_ids:
        await session.execute(START_ESCALATIONS, {"alarms": list(alarm_ids)})


# -- the queue ------------------------------------------------------------------------------

# Channels with due messages whose circuit is not open, that have no send in flight (one at a
# time per channel keeps a robot's order and its rate) and sent fewer than their vendor's
# rate in the last minute; oldest due first. Locked so that two workers never claim for the
# same channel at once; other channels (another robot, email, another park) go on.
CLAIM_CHANNELS = text(
    """
    SELECT c.id, c.park_id, c.name, c.kind, c.url, c.secret, c.recipients, c.language
    FROM notify_channel c
    WHERE c.active AND (c.circuit_open_until IS NULL OR c.circuit_open_until <= now())
      AND EXISTS (SELECT 1 FROM notify_message m WHERE m.channel_id = c.id
                  AND m.status = 'pending' AND m.next_attempt_at <= now())
      AND NOT EXISTS (SELECT 1 FROM notify_attempt a WHERE a.channel_id = c.id
                      AND a.outcome = 'in_flight'
                      AND a.started_at > now() - make_interval(secs => :lease_s))
      AND (SELECT count(*) FROM notify_attempt a WHERE a.channel_id = c.id
           AND a.started_at > now() - interval '1 minute') < c.rate_per_min
    ORDER BY (SELECT min(m.next_attempt_at) FROM notify_message m WHERE m.channel_id = c.id
              AND m.status = 'pending')
    LIMIT :limit
    FOR NO KEY UPDATE OF c SKIP LOCKED
    """
)

DUE_MESSAGES = text(
    "SELECT id, recipient, context, attempts FROM notify_message"
    " WHERE channel_id = :channel AND status = 'pending' AND next_attempt_at <= now()"
    " ORDER BY urgent DESC, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)

ABANDON = text(
    "UPDATE notify_attempt SET outcome = 'abandoned', error = 'worker_stopped',"
    " finished_at = now() WHERE channel_id = :channel AND outcome = 'in_flight'"
)

NEW_ATTEMPT = text(
    "INSERT INTO notify_attempt (channel_id, messages) VALUES (:channel, :n) RETURNING id"
)

TAKE_MESSAGES = text(
    "UPDATE notify_message SET attempts = attempts + 1, attempt_id = :attempt,"
    " next_attempt_at = now() + make_interval(secs => :lease_s)"
    " WHERE id = ANY (CAST(:ids AS bigint[]))"
)


async def claim_channels(session: AsyncSession, limit: int, lease_s: float) -> list[RowMapping]:
    params = {"limit": limit, "lease_s": lease_s}
    return list((await session.execute(CLAIM_CHANNELS, params)).mappings().all())


async def due_messages(session: AsyncSession, channel: uuid.UUID, limit: int) -> list[RowMapping]:
    params = {"channel": channel, "limit": limit}
    return list((await session.execute(DUE_MESSAGES, params)).mappings().all())


async def take(
    session: AsyncSession, channel: uuid.UUID, ids: Sequence[int], lease_s: float
) -> int:
    """Start an attempt carrying the messages ``ids``; return its id."""
    await session.execute(ABANDON, {"channel": channel})
    attempt = int(
        (await session.execute(NEW_ATTEMPT, {"channel": channel, "n": len(ids)})).scalar_one()
    )
    await session.execute(TAKE_MESSAGES, {"attempt": attempt, "ids": list(ids), "lease_s": lease_s})
    return attempt


LOG_RESULT = text(
    "UPDATE notify_attempt SET outcome = :outcome, finished_at = now(), status_code = :status,"
    " error = :error, response_body = :answer WHERE id = :attempt"
)

BREAKER = text(
    "UPDATE notify_channel SET"
    " consecutive_failures = CASE WHEN :ok THEN 0 ELSE consecutive_failures + 1 END,"
    " circuit_open_until = CASE WHEN :ok THEN NULL"
    "   WHEN consecutive_failures + 1 >= :threshold OR circuit_open_until IS NOT NULL"
    "   THEN now() + make_interval(secs => :cooldown_s) END"
    " WHERE id = :channel"
)

SENT = text(
    "UPDATE notify_message SET status = 'sent', sent_at = now(), last_error = NULL"
    " WHERE attempt_id = :attempt AND status = 'pending'"
)

# A failure counts; the message is dead once the retry schedule is spent (a dead letter,
# listed by the API), else due again after the schedule's wait.
FAILED = text(
    "UPDATE notify_message SET failures = failures + 1, last_error = :error,"
    " status = CASE WHEN failures + 1 > cardinality(CAST(:schedule AS float8[]))"
    "   THEN 'dead' ELSE 'pending' END,"
    " next_attempt_at = now() + make_interval(secs => coalesce("
    "   (CAST(:schedule AS float8[]))[failures + 1], 0))"
    " WHERE attempt_id = :attempt AND status = 'pending'"
)


async def record(
    session: AsyncSession,
    *,
    channel: uuid.UUID,
    attempt: int,
    status: int | None,
    error: str | None,
    answer: str | None,
    schedule: Sequence[float],
    breaker: tuple[int, float],
) -> None:
    ok = error is None
    params = {
        "attempt": attempt,
        "outcome": "succeeded" if ok else "failed",
        "status": status,
        "error": error,
        "answer": answer,
    }
    await session.execute(LOG_RESULT, params)
    threshold, cooldown_s = breaker
    await session.execute(
        BREAKER, {"ok": ok, "threshold": threshold, "cooldown_s": cooldown_s, "channel": channel}
    )
    if ok:
        await session.execute(SENT, {"attempt": attempt})
    else:
        await session.execute(
            FAILED, {"attempt": attempt, "error": error, "schedule": list(schedule)}
        )


DUE_COUNT = text(
    "SELECT count(*) FROM (SELECT 1 FROM notify_message WHERE status = 'pending'"
    " AND next_attempt_at <= now() LIMIT 100000) due"
)


async def due_count(session: AsyncSession) -> int:
    return int((await session.execute(DUE_COUNT)).scalar_one())


# -- escalation -----------------------------------------------------------------------------

DUE_ESCALATIONS = text(
    """
    SELECT n.alarm_id, n.park_id, n.step, a.acknowledged, a.closed_at IS NOT NULL AS closed
    FROM notify_escalation n JOIN alarm a ON a.id = n.alarm_id
    WHERE n.ended_at IS NULL AND n.due_at <= :now
    ORDER BY n.due_at LIMIT :limit FOR UPDATE OF n SKIP LOCKED
    """
)

STEPS = text(
    "SELECT s.position, s.wait_s, s.channel_id, c.name AS channel_name, c.kind,"
    " p.id AS person_id, p.name, p.mobile, p.email, p.wecom_userid"
    " FROM notify_escalation_step s JOIN notify_person p ON p.id = s.person_id"
    " JOIN notify_channel c ON c.id = s.channel_id"
    " WHERE s.park_id = :park ORDER BY s.position"
)


async def due_escalations(
    session: AsyncSession, now: datetime, limit: int = 100
) -> Sequence[RowMapping]:
    return (await session.execute(DUE_ESCALATIONS, {"now": now, "limit": limit})).mappings().all()


async def steps(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return (await session.execute(STEPS, {"park": park_id})).mappings().all()


async def advance(session: AsyncSession, alarm_id: uuid.UUID, step: int, due_at: datetime) -> None:
    await session.execute(
        text("UPDATE notify_escalation SET step = :step, due_at = :due WHERE alarm_id = :id"),
        {"step": step, "due": due_at, "id": alarm_id},
    )


async def end(session: AsyncSession, alarm_id: uuid.UUID, why: str, now: datetime) -> None:
    await session.execute(
        text(
            "UPDATE notify_escalation SET ended_at = :now, ended_why = :why"
            " WHERE alarm_id = :id AND ended_at IS NULL"
        ),
        {"now": now, "why": why, "id": alarm_id},
    )


async def escalation(session: AsyncSession, alarm_id: uuid.UUID) -> RowMapping | None:
    sql = text("SELECT * FROM notify_escalation WHERE alarm_id = :id")
    return (await session.execute(sql, {"id": alarm_id})).mappings().one_or_none()


# -- acknowledge links ----------------------------------------------------------------------

USE_NONCE = text(
    "INSERT INTO notify_ack_use (nonce, alarm_id, actor) VALUES (:nonce, :alarm, :actor)"
    " ON CONFLICT (nonce) DO NOTHING RETURNING nonce"
)


async def use_nonce(session: AsyncSession, nonce: uuid.UUID, alarm: uuid.UUID, actor: str) -> bool:
    """Record the link's use; False when it was used before."""
    params = {"nonce": nonce, "alarm": alarm, "actor": actor}
    return (await session.execute(USE_NONCE, params)).first() is not None


async def subject_removed(session: AsyncSession, park_id: str, subject: str) -> bool:
    """True when a link's subject is a person no longer of the park (removed by an admin):
    their links stop working with them."""
    kind, _, ident = subject.partition(":")
    if kind != "person":
        return False
    try:
        person = uuid.UUID(ident)
    except ValueError:
        return True
    sql = text("SELECT 1 FROM notify_person WHERE park_id = :park AND id = :id")
    return (await session.execute(sql, {"park": park_id, "id": person})).first() is None


async def nonce_used(session: AsyncSession, nonce: uuid.UUID) -> bool:
    sql = text("SELECT 1 FROM notify_ack_use WHERE nonce = :nonce")
    return (await session.execute(sql, {"nonce": nonce})).first() is not None


PURGE_MESSAGES = text(
    "DELETE FROM notify_message WHERE status <> 'pending'"
    " AND created_at < now() - make_interval(secs => :age_s)"
)
PURGE_ATTEMPTS = text(
    "DELETE FROM notify_attempt WHERE outcome <> 'in_flight'"
    " AND started_at < now() - make_interval(secs => :age_s)"
)
PURGE_TIMERS = text(
    "DELETE FROM notify_escalation WHERE ended_at < now() - make_interval(secs => :age_s)"
)


async def purge(session: AsyncSession, age_s: float) -> int:
    """Forget settled messages, finished attempts and ended timers older than ``age_s``."""
    deleted = 0
    for statement in (PURGE_MESSAGES, PURGE_ATTEMPTS, PURGE_TIMERS):
        result = await session.execute(statement, {"age_s": age_s})
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted
