"""SQL of the delivery queue, as the worker runs it. Several workers may run at once.

- :func:`fan_out` takes new outbox events (``FOR UPDATE SKIP LOCKED``: each is taken by one
  worker), adds a ``webhook_delivery`` for every active subscription of the event's park that
  existed when the event was made and whose filters match, and marks the events fanned out.
- :func:`claim` takes due pending deliveries (``SKIP LOCKED`` again), pushes their
  ``next_attempt_at`` forward by the lease, counts the attempt and logs it as ``in_flight``, and
  commits at once: the POST happens outside any transaction. If the worker dies, the lease runs
  out, the delivery is due again and the next claim marks the lost attempt ``abandoned``.
- :func:`record` stores the answer in a second short transaction: delivered, or the next
  retry from the schedule, or ``dead`` once the schedule is spent. A failure is recorded only
  if no later claim has taken the delivery over (``attempts`` unchanged): a stale worker
  cannot roll the state back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

# An event is held back (no delivery queued, ``held_back`` says why) when
# - it announces a raise, escalation or clear of an alarm shelved at the time (an escalation to
#   critical always goes out), or
# - it is an ``alarm.raised`` of an alarm that does not latch during an alarm flood: more raises
#   in the event's park within the flood window up to and including it than the threshold
#   (ISA-18.2: 10 in 10 minutes per operator; here per park). Gas and fire alarms latch and
#   are never held back.
# A flood's first held event opens an ``alarm_flood`` row and queues ``alarm.flood_started``;
# the worker's ``alarm_floods`` job ends it (``alarm.flood_ended``, with the count held back).
FAN_OUT = text(
    "WITH events AS ("
    " SELECT id, park_id, type, severity, created_at, over,"
    " CASE WHEN type IN ('alarm.raised', 'alarm.escalated', 'alarm.cleared')"
    "       AND CAST(data->>'shelved_until' AS timestamptz) > created_at"
    "       AND NOT (type = 'alarm.escalated' AND severity = 'critical') THEN 'shelved'"
    "      WHEN over AND NOT coalesce(CAST(data->>'latched' AS boolean), false) THEN 'flood'"
    " END AS held"
    " FROM (SELECT o.*, o.type = 'alarm.raised' AND ("
    "   SELECT count(*) FROM event_outbox r WHERE r.park_id = o.park_id"
    "   AND r.type = 'alarm.raised' AND r.created_at <= o.created_at"
    "   AND r.created_at > o.created_at - make_interval(secs => :flood_window_s)"
    "   ) > :flood_threshold AS over"
    "  FROM event_outbox o WHERE o.fanned_out_at IS NULL ORDER BY o.created_at LIMIT :limit"
    "  FOR UPDATE OF o SKIP LOCKED) taken"
    "), marked AS ("
    " UPDATE event_outbox o SET fanned_out_at = now(), held_back = e.held"
    " FROM events e WHERE o.id = e.id RETURNING o.id"
    "), queued AS ("
    " INSERT INTO webhook_delivery (webhook_id, event_id)"
    " SELECT w.id, e.id FROM events e JOIN webhook w ON w.park_id = e.park_id AND w.active"
    " WHERE e.held IS NULL AND w.created_at <= e.created_at"
    " AND (e.type = ANY (w.event_types) OR '*' = ANY (w.event_types)"
    "      OR split_part(e.type, '.', 1) || '.*' = ANY (w.event_types))"
    " AND (e.severity IS NULL OR w.min_severity IS NULL"
    "      OR array_position(ARRAY['warning', 'minor', 'major', 'critical'], e.severity)"
    "      >= array_position(ARRAY['warning', 'minor', 'major', 'critical'], w.min_severity))"
    " ORDER BY e.created_at"
    " ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING 1"
    "), floods AS ("
    " INSERT INTO alarm_flood AS f (park_id, started_at, held_back)"
    " SELECT park_id, min(created_at), count(*) FILTER (WHERE held = 'flood')"
    " FROM events WHERE over GROUP BY park_id"
    " ON CONFLICT (park_id) WHERE ended_at IS NULL"
    " DO UPDATE SET held_back = f.held_back + excluded.held_back"
    " RETURNING park_id, started_at, xmax = 0 AS opened"
    "), announced AS ("
    " INSERT INTO event_outbox (park_id, type, data, created_at)"
    " SELECT park_id, 'alarm.flood_started', jsonb_build_object('park_id', park_id,"
    "  'started_at', to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    "  'threshold', CAST(:flood_threshold AS int), 'window_s', CAST(:flood_window_s AS float8)),"
    "  clock_timestamp() FROM floods WHERE opened RETURNING 1"
    ") SELECT (SELECT count(*) FROM marked) AS events, (SELECT count(*) FROM queued) AS queued,"
    " (SELECT count(*) FROM announced) AS floods"
)

CLAIM = text(
    "WITH due AS ("
    " SELECT d.id FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id AND w.active"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
    " ORDER BY d.next_attempt_at LIMIT :limit FOR UPDATE OF d SKIP LOCKED"
    "), claimed AS ("
    " UPDATE webhook_delivery d SET attempts = d.attempts + 1, failures = d.failures + 1,"
    " next_attempt_at = now() + make_interval(secs => :lease_s), updated_at = now()"
    " FROM due WHERE d.id = due.id"
    " RETURNING d.id, d.webhook_id, d.event_id, d.attempts, d.failures"
    "), abandoned AS ("
    " UPDATE webhook_attempt a SET outcome = 'abandoned',"
    " error = 'no answer recorded: the worker stopped during the attempt'"
    " FROM claimed c WHERE a.delivery_id = c.id AND a.outcome = 'in_flight'"
    "), logged AS ("
    " INSERT INTO webhook_attempt (delivery_id, webhook_id, event_id, attempt)"
    " SELECT id, webhook_id, event_id, attempts FROM claimed RETURNING id, delivery_id"
    ") SELECT c.id, c.attempts, l.id AS attempt_id, w.url, w.secret,"
    " CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END"
    " AS previous_secret,"
    " e.id AS event_id, e.type, e.created_at, e.park_id, e.data"
    " FROM claimed c JOIN logged l ON l.delivery_id = c.id"
    " JOIN webhook w ON w.id = c.webhook_id JOIN event_outbox e ON e.id = c.event_id"
)

LOG_RESULT = text(
    "UPDATE webhook_attempt SET outcome = :outcome, finished_at = now(),"
    " duration_ms = :duration_ms, status_code = :status_code, error = :error,"
    " response_body = :response_body WHERE id = :attempt_id"
)

DELIVERED = text(
    "UPDATE webhook_delivery SET status = 'delivered', delivered_at = now(), updated_at = now()"
    " WHERE id = :id AND status = 'pending'"
)

FAILED = text(
    "UPDATE webhook_delivery SET updated_at = now(),"
    " status = CASE WHEN failures > cardinality(CAST(:schedule AS float8[]))"
    "   THEN 'dead' ELSE 'pending' END,"
    " next_attempt_at = now() + make_interval(secs => coalesce("
    "   (CAST(:schedule AS float8[]))[failures], 0))"
    " WHERE id = :id AND attempts = :attempt AND status = 'pending'"
)

PURGE = text(
    "DELETE FROM event_outbox e WHERE e.created_at < now() - make_interval(secs => :age_s)"
    " AND e.fanned_out_at IS NOT NULL AND NOT EXISTS ("
    "  SELECT 1 FROM webhook_delivery d WHERE d.event_id = e.id AND d.status = 'pending')"
)


@dataclass(frozen=True)
class Claimed:
    """A delivery taken by this worker for one attempt."""

    id: int
    attempt: int
    attempt_id: int
    url: str
    secrets: tuple[str, ...]
    event_id: uuid.UUID
    type: str
    created_at: datetime
    park_id: str
    data: Any

    @classmethod
    def from_row(cls, row: RowMapping) -> Claimed:
        secrets = (row["secret"],) + ((row["previous_secret"],) if row["previous_secret"] else ())
        return cls(
            id=row["id"],
            attempt=row["attempts"],
            attempt_id=row["attempt_id"],
            url=row["url"],
            secrets=secrets,
            event_id=row["event_id"],
            type=row["type"],
            created_at=row["created_at"],
            park_id=row["park_id"],
            data=row["data"],
        )


@dataclass(frozen=True)
class Result:
    """What one attempt got: an HTTP status, or an error instead."""

    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def fan_out(
    session: AsyncSession, limit: int, flood_threshold: int, flood_window: timedelta
) -> tuple[int, int]:
    """(events taken, deliveries queued)."""
    params = {
        "limit": limit,
        "flood_threshold": flood_threshold,
        "flood_window_s": flood_window.total_seconds(),
    }
    row = (await session.execute(FAN_OUT, params)).one()
    return int(row.events), int(row.queued)


async def claim(session: AsyncSession, limit: int, lease: timedelta) -> list[Claimed]:
    result = await session.execute(CLAIM, {"limit": limit, "lease_s": lease.total_seconds()})
    return [Claimed.from_row(row) for row in result.mappings().all()]


async def record(
    session: AsyncSession, claimed: Claimed, result: Result, schedule: Sequence[timedelta]
) -> None:
    await session.execute(
        LOG_RESULT,
        {
            "attempt_id": claimed.attempt_id,
            "outcome": "succeeded" if result.ok else "failed",
            "duration_ms": result.duration_ms,
            "status_code": result.status_code,
            "error": result.error,
            "response_body": result.response_body,
        },
    )
    if result.ok:
        await session.execute(DELIVERED, {"id": claimed.id})
        return
    await session.execute(
        FAILED,
        {
            "id": claimed.id,
            "attempt": claimed.attempt,
            "schedule": [s.total_seconds() for s in schedule],
        },
    )


async def purge(session: AsyncSession, age: timedelta) -> int:
    """Delete events (with their deliveries and attempts) older than ``age`` and settled."""
    result = await session.execute(PURGE, {"age_s": age.total_seconds()})
    return int(getattr(result, "rowcount", 0) or 0)
