"""SQL of the delivery queue, as the worker runs it. Several workers may run at once.

- :func:`take` locks new outbox events (``FOR UPDATE SKIP LOCKED``: each is taken by one
  worker); the alarm policy (app/alarms/policy.py) then marks those it holds back, and
  :func:`fan_out` adds a ``webhook_delivery`` for every active subscription of the event's
  park that existed when the event was made and whose filters match, and marks the events
  fanned out, all in one transaction.
- :func:`take_unrouted` takes events fanned out but not yet routed to people (locks them and
  sets their ``routed_at``, migration 0035) for the transaction that routes them after the
  fan-out's has committed: if that transaction does not commit, they stay unrouted.
- :func:`claim` takes due pending deliveries fairly (see ``CLAIM``), pushes their
  ``next_attempt_at`` forward by the lease, counts the attempt and logs it as ``in_flight``, and
  commits at once: the POST happens outside any transaction. If the worker dies, the lease runs
  out, the delivery is due again and the next claim marks the lost attempt ``abandoned``.
- :func:`record` stores the answer in a second short transaction: delivered, or the next
  retry from the schedule, or ``dead`` once the schedule is spent. A failure is recorded only
  if no later claim has taken the delivery over (``attempts`` unchanged): a stale worker
  cannot roll the state back. It also moves the webhook's circuit breaker (``BREAKER``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.sql import Literal
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.severity import CRITICAL, SQL_ORDER
from app.core.sqlcompose import Fixed, statement

TAKE = text(
    "SELECT id FROM event_outbox WHERE fanned_out_at IS NULL ORDER BY created_at LIMIT :limit"
    " FOR UPDATE SKIP LOCKED"
)

TAKE_UNROUTED = text(
    "UPDATE event_outbox SET routed_at = now() WHERE id IN ("
    " SELECT id FROM event_outbox WHERE routed_at IS NULL AND fanned_out_at IS NOT NULL"
    " ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING id"
)

# The taken events, less those the alarm policy held back (``held_back`` set), get a delivery
# for every active subscription of their park that existed when the event was made and whose
# filters match. A critical event's deliveries are ``urgent``: claimed before any other.
FAN_OUT = statement(
    "WITH events AS ("
    " UPDATE event_outbox o SET fanned_out_at = now() WHERE o.id = ANY (CAST(:ids AS uuid[]))"
    " RETURNING o.id, o.park_id, o.type, o.severity, o.created_at, o.held_back"
    "), queued AS ("
    " INSERT INTO webhook_delivery (webhook_id, event_id, urgent)"
    " SELECT w.id, e.id, coalesce(e.severity = {critical}, false)"
    " FROM events e JOIN webhook w ON w.park_id = e.park_id AND w.active"
    " WHERE e.held_back IS NULL AND w.created_at <= e.created_at"
    " AND (e.type = ANY (w.event_types) OR '*' = ANY (w.event_types)"
    "      OR split_part(e.type, '.', 1) || '.*' = ANY (w.event_types))"
    " AND (e.severity IS NULL OR w.min_severity IS NULL"
    "      OR array_position({order}, e.severity)"
    "      >= array_position({order}, w.min_severity))"
    " ORDER BY e.created_at"
    " ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING 1"
    ") SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM queued) AS queued",
    critical=Literal(CRITICAL),
    order=Fixed(SQL_ORDER),
)

# Fair claiming. ``hooks``: the active webhooks with due deliveries whose circuit is not open,
# each with its room: the per-webhook concurrency (1 when half-open: the probe) less its
# attempts in flight (started within the lease). The webhook rows are locked (SKIP LOCKED), so
# two workers never claim for the same webhook at once and the cap holds over all workers.
# ``due``: each webhook's next deliveries up to its room, urgent first, numbered per webhook.
# The batch takes urgent deliveries first, then round-robin: every webhook's first, then every
# webhook's second, ... so one webhook's backlog never stands in front of another webhook.
# A fan-out's deliveries share one ``next_attempt_at`` (its statement's now()); their ids, drawn
# in event order, break the tie, so a webhook gets its routine events in the order they were made
# (a top-N sort is not stable: without the id, CI saw two neighbours swapped).
# ``claimed`` repeats ``next_attempt_at <= now()``: a worker whose statement began before another
# worker's claim committed gets the webhook's lock once that commit released it, but chooses from
# its older snapshot; PostgreSQL re-checks only the UPDATE's own WHERE on the row's newest
# version, and the other claim moved next_attempt_at a lease ahead, so the row is not taken twice
# (tests_cluster/test_workers.py caught two workers delivering the same event).
CLAIM = text(
    "WITH hooks AS ("
    " SELECT w.id, CASE WHEN w.circuit_open_until IS NULL THEN :per_webhook ELSE 1 END - ("
    "   SELECT count(*) FROM webhook_attempt a WHERE a.webhook_id = w.id"
    "   AND a.outcome = 'in_flight' AND a.started_at > now() - make_interval(secs => :lease_s)"
    " ) AS room"
    " FROM webhook w WHERE w.active"
    " AND (w.circuit_open_until IS NULL OR w.circuit_open_until <= now())"
    " AND EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.webhook_id = w.id"
    "   AND d.status = 'pending' AND d.next_attempt_at <= now())"
    " FOR NO KEY UPDATE OF w SKIP LOCKED"
    "), due AS ("
    " SELECT q.id, q.urgent, q.next_attempt_at,"
    " row_number() OVER (PARTITION BY h.id ORDER BY q.urgent DESC, q.next_attempt_at, q.id)"
    " AS turn"
    " FROM hooks h CROSS JOIN LATERAL ("
    "  SELECT d.id, d.urgent, d.next_attempt_at FROM webhook_delivery d"
    "  WHERE d.webhook_id = h.id AND d.status = 'pending' AND d.next_attempt_at <= now()"
    "  ORDER BY d.urgent DESC, d.next_attempt_at, d.id LIMIT greatest(h.room, 0)) q"
    "), chosen AS ("
    " SELECT id FROM due ORDER BY urgent DESC, turn, next_attempt_at, id LIMIT :limit"
    "), claimed AS ("
    " UPDATE webhook_delivery d SET attempts = d.attempts + 1, failures = d.failures + 1,"
    " next_attempt_at = now() + make_interval(secs => :lease_s), updated_at = now()"
    " FROM chosen WHERE d.id = chosen.id AND d.status = 'pending' AND d.next_attempt_at <= now()"
    " RETURNING d.id, d.webhook_id, d.event_id, d.attempts, d.failures"
    "), abandoned AS ("
    " UPDATE webhook_attempt a SET outcome = 'abandoned', error = 'worker_stopped'"
    " FROM claimed c WHERE a.delivery_id = c.id AND a.outcome = 'in_flight'"
    "), logged AS ("
    " INSERT INTO webhook_attempt (delivery_id, webhook_id, event_id, attempt)"
    " SELECT id, webhook_id, event_id, attempts FROM claimed RETURNING id, delivery_id"
    ") SELECT c.id, c.webhook_id, c.attempts, l.id AS attempt_id, w.url, w.secret,"
    " CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END"
    " AS previous_secret,"
    " e.id AS event_id, e.type, e.created_at, e.park_id, e.data"
    " FROM claimed c JOIN logged l ON l.delivery_id = c.id"
    " JOIN webhook w ON w.id = c.webhook_id JOIN event_outbox e ON e.id = c.event_id"
)

# The circuit breaker: a success closes the circuit; a failure counts, and the threshold-th
# consecutive one (or a failed probe: any failure while half-open) opens it for the cool-down.
BREAKER = text(
    "UPDATE webhook SET"
    " consecutive_failures = CASE WHEN :ok THEN 0 ELSE consecutive_failures + 1 END,"
    " circuit_opened_at = CASE WHEN :ok THEN NULL"
    "   WHEN consecutive_failures + 1 >= :threshold OR circuit_open_until IS NOT NULL"
    "   THEN coalesce(circuit_opened_at, now()) END,"
    " circuit_open_until = CASE WHEN :ok THEN NULL"
    "   WHEN consecutive_failures + 1 >= :threshold OR circuit_open_until IS NOT NULL"
    "   THEN now() + make_interval(secs => :cooldown_s) END"
    " WHERE id = :id"
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

CANCEL_INACTIVE = text(
    "UPDATE webhook_delivery d SET status = 'cancelled', updated_at = now() FROM webhook w"
    " WHERE w.id = d.webhook_id AND NOT w.active AND d.status = 'pending'"
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
    webhook_id: uuid.UUID
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
            webhook_id=row["webhook_id"],
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


async def take(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    """Lock up to ``limit`` events not fanned out yet (each is taken by one worker)."""
    return list((await session.execute(TAKE, {"limit": limit})).scalars().all())


async def take_unrouted(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    """Take up to ``limit`` fanned-out events not routed to people yet (one worker each),
    marked routed as of this transaction."""
    return list((await session.execute(TAKE_UNROUTED, {"limit": limit})).scalars().all())


async def fan_out(session: AsyncSession, event_ids: Sequence[uuid.UUID]) -> tuple[int, int]:
    """Mark the taken events fanned out and queue their deliveries: (events, deliveries)."""
    row = (await session.execute(FAN_OUT, {"ids": list(event_ids)})).one()
    return int(row.events), int(row.queued)


@dataclass(frozen=True)
class Limits:
    """How much the claim may take: per worker (``batch``) and per webhook."""

    batch: int
    per_webhook: int
    lease: timedelta


async def claim(session: AsyncSession, limits: Limits) -> list[Claimed]:
    params = {
        "limit": limits.batch,
        "per_webhook": limits.per_webhook,
        "lease_s": limits.lease.total_seconds(),
    }
    result = await session.execute(CLAIM, params)
    return [Claimed.from_row(row) for row in result.mappings().all()]


@dataclass(frozen=True)
class Breaker:
    """The circuit breaker's settings."""

    threshold: int
    cooldown: timedelta


async def record(
    session: AsyncSession,
    claimed: Claimed,
    result: Result,
    schedule: Sequence[timedelta],
    breaker: Breaker,
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
    await session.execute(
        BREAKER,
        {
            "id": claimed.webhook_id,
            "ok": result.ok,
            "threshold": breaker.threshold,
            "cooldown_s": breaker.cooldown.total_seconds(),
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
    """Delete events (with their deliveries and attempts) older than ``age`` and settled.
    Deliveries still pending for a deactivated webhook are cancelled first: they would never
    be claimed, and would keep their events forever."""
    await session.execute(CANCEL_INACTIVE)
    result = await session.execute(PURGE, {"age_s": age.total_seconds()})
    return int(getattr(result, "rowcount", 0) or 0)


BACKLOG_CAP = 100_000

DUE = text(
    "SELECT count(*) FROM (SELECT 1 FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND w.active LIMIT :cap) due"
)
"""Deliveries due now to active webhooks (an open circuit's included: they wait too), on the
partial index ``webhook_delivery_due``; counted up to a cap so the query stays cheap however
long the queue. A claimed delivery is not due: its lease pushed it on."""


async def due_count(session: AsyncSession, cap: int = BACKLOG_CAP) -> int:
    return int((await session.execute(DUE, {"cap": cap})).scalar_one())
