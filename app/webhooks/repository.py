"""SQL for ``webhook`` and the API's views of ``webhook_delivery`` and ``webhook_attempt``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import Fixed, assignments, statement

COLUMNS = Fixed(
    "id, park_id, url, event_types, min_severity, description, active, created_at, updated_at, "
    "CASE WHEN circuit_open_until IS NULL THEN 'closed' WHEN circuit_open_until > now() "
    "THEN 'open' ELSE 'half_open' END AS circuit, circuit_open_until, consecutive_failures"
)
INSERT = statement(
    "INSERT INTO webhook (park_id, url, event_types, min_severity, description, active, "
    "secret) VALUES (:park_id, :url, :event_types, :min_severity, :description, "
    ":active, :secret) RETURNING {columns}",
    columns=COLUMNS,
)
GET = statement(
    "SELECT {columns} FROM webhook WHERE park_id = :park_id AND id = :id", columns=COLUMNS
)
LIST = statement(
    "SELECT {columns} FROM webhook WHERE park_id = :park_id "
    "AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid)) "
    "ORDER BY id LIMIT :limit",
    columns=COLUMNS,
)
NOTIFY = "SELECT pg_notify('parktwin_outbox', '')"


async def insert(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    result = await session.execute(INSERT, values)
    return result.mappings().one()


async def count(session: AsyncSession, park_id: str) -> int:
    """The park's webhooks, counted under a park-wide lock held until the request commits."""
    await _lock(session, "webhook.create", park_id)
    sql = text("SELECT count(*) FROM webhook WHERE park_id = :park_id")
    return int((await session.execute(sql, {"park_id": park_id})).scalar_one())


async def count_tests(session: AsyncSession, park_id: str, window_s: float) -> int:
    """The park's test events within the window, counted under a park-wide lock held until the
    request commits (two concurrent calls cannot both pass the limit)."""
    await _lock(session, "webhook.test", park_id)
    sql = text(
        "SELECT count(*) FROM event_outbox WHERE park_id = :park_id AND type = 'webhook.test' "
        "AND created_at > now() - make_interval(secs => :window_s)"
    )
    params = {"park_id": park_id, "window_s": window_s}
    return int((await session.execute(sql, params)).scalar_one())


async def _lock(session: AsyncSession, what: str, park_id: str) -> None:
    sql = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
    await session.execute(sql, {"key": f"{what}:{park_id}"})


async def cancel_pending(session: AsyncSession, webhook_id: uuid.UUID) -> int:
    """A deactivated webhook's pending deliveries are cancelled: their events may be purged.
    (Reactivating does not bring them back; ``redeliver`` does, one event at a time.)"""
    sql = text(
        "UPDATE webhook_delivery SET status = 'cancelled', updated_at = now() "
        "WHERE webhook_id = :id AND status = 'pending'"
    )
    result = await session.execute(sql, {"id": webhook_id})
    return int(getattr(result, "rowcount", 0) or 0)


async def get(session: AsyncSession, park_id: str, webhook_id: uuid.UUID) -> RowMapping | None:
    result = await session.execute(GET, {"park_id": park_id, "id": webhook_id})
    return result.mappings().one_or_none()


async def list_(
    session: AsyncSession, park_id: str, *, after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(LIST, {"park_id": park_id, "after": after, "limit": limit})
    return result.mappings().all()


async def update(
    session: AsyncSession, park_id: str, webhook_id: uuid.UUID, values: dict[str, Any]
) -> RowMapping | None:
    """Set the given columns (names come from the schema, never from the client)."""
    result = await session.execute(
        statement(
            "UPDATE webhook SET {sets}, updated_at = now() "
            "WHERE park_id = :park_id AND id = :id RETURNING {columns}",
            sets=assignments(values),
            columns=COLUMNS,
        ),
        {**values, "park_id": park_id, "id": webhook_id},
    )
    return result.mappings().one_or_none()


async def delete(session: AsyncSession, park_id: str, webhook_id: uuid.UUID) -> bool:
    result = await session.execute(
        text("DELETE FROM webhook WHERE park_id = :park_id AND id = :id RETURNING id"),
        {"park_id": park_id, "id": webhook_id},
    )
    return result.first() is not None


async def rotate_secret(
    session: AsyncSession, webhook_id: uuid.UUID, secret: str, previous_valid_for_s: int
) -> datetime | None:
    """Store the new secret; the old one signs too until the returned time (None: not at all)."""
    result = await session.execute(
        text(
            "UPDATE webhook SET previous_secret = CASE WHEN :keep > 0 THEN secret END, "
            "previous_secret_expires_at = CASE WHEN :keep > 0 "
            "THEN now() + make_interval(secs => :keep) END, "
            "secret = :secret, updated_at = now() WHERE id = :id "
            "RETURNING previous_secret_expires_at"
        ),
        {"id": webhook_id, "secret": secret, "keep": previous_valid_for_s},
    )
    expires: datetime | None = result.scalar_one()
    return expires


async def queue_test_event(session: AsyncSession, park_id: str, webhook_id: uuid.UUID) -> uuid.UUID:
    """A ``webhook.test`` event for this webhook alone (already fanned out, and for no one
    else: no notification routing), due now."""
    result = await session.execute(
        text(
            "WITH event AS (INSERT INTO event_outbox (park_id, type, data, fanned_out_at, "
            "routed_at) VALUES (:park_id, 'webhook.test', "
            "jsonb_build_object('webhook_id', CAST(:webhook_id AS text), "
            "'message', 'a test event from parktwin'), now(), now()) RETURNING id) "
            "INSERT INTO webhook_delivery (webhook_id, event_id) "
            "SELECT :webhook_id, id FROM event RETURNING event_id"
        ),
        {"park_id": park_id, "webhook_id": webhook_id},
    )
    event_id: uuid.UUID = result.scalar_one()
    return event_id


async def redeliver(session: AsyncSession, webhook_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Queue this event's delivery again, with a fresh retry schedule."""
    result = await session.execute(
        text(
            "UPDATE webhook_delivery SET status = 'pending', failures = 0, "
            "next_attempt_at = now(), delivered_at = NULL, updated_at = now() "
            "WHERE webhook_id = :webhook_id AND event_id = :event_id RETURNING id"
        ),
        {"webhook_id": webhook_id, "event_id": event_id},
    )
    found = result.first() is not None
    if found:
        await session.execute(text(NOTIFY))
    return found


async def redeliver_dead(
    session: AsyncSession, webhook_id: uuid.UUID, since: datetime | None
) -> int:
    result = await session.execute(
        text(
            "UPDATE webhook_delivery d SET status = 'pending', failures = 0, "
            "next_attempt_at = now(), updated_at = now() FROM event_outbox e "
            "WHERE d.webhook_id = :webhook_id AND d.status = 'dead' AND e.id = d.event_id "
            "AND (CAST(:since AS timestamptz) IS NULL OR e.created_at >= :since) RETURNING d.id"
        ),
        {"webhook_id": webhook_id, "since": since},
    )
    count = len(result.all())
    if count:
        await session.execute(text(NOTIFY))
    return count


async def attempts(
    session: AsyncSession,
    webhook_id: uuid.UUID,
    *,
    event_id: uuid.UUID | None,
    delivery_status: str | None,
    before: int | None,
    limit: int,
) -> Sequence[RowMapping]:
    """The attempt log, newest first, with each event's type and its delivery's state."""
    result = await session.execute(
        text(
            "SELECT a.id, a.event_id, e.type AS event_type, a.attempt, a.outcome, a.status_code, "
            "a.error, a.response_body, a.duration_ms, a.started_at, a.finished_at, "
            "d.status AS delivery_status, "
            "CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at "
            "FROM webhook_attempt a JOIN webhook_delivery d ON d.id = a.delivery_id "
            "JOIN event_outbox e ON e.id = a.event_id "
            "WHERE a.webhook_id = :webhook_id "
            "AND (CAST(:event_id AS uuid) IS NULL OR a.event_id = :event_id) "
            "AND (CAST(:status AS text) IS NULL OR d.status = :status) "
            "AND (CAST(:before AS bigint) IS NULL OR a.id < :before) "
            "ORDER BY a.id DESC LIMIT :limit"
        ),
        {
            "webhook_id": webhook_id,
            "event_id": event_id,
            "status": delivery_status,
            "before": before,
            "limit": limit,
        },
    )
    return result.mappings().all()
