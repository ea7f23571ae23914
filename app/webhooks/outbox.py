"""The transactional outbox: how any writer records an event for the webhook receivers.

Write the event in the same transaction as the change it reports; the webhook worker delivers
it after the commit (a rolled-back change sends nothing). From an ``AsyncSession`` call
:func:`enqueue`; from a sync psycopg connection (the ingestor's alarm evaluation)
:func:`enqueue_sync`: the same statement either way. A trigger sends
``NOTIFY parktwin_outbox`` on insert, so ``parktwin worker`` wakes as soon as the writer commits.
``severity`` is one of app/core/severity.py's or NULL (no severity: passes every
``min_severity`` filter); ``id`` becomes the ``webhook-id`` header and the body's ``id``.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.http import JSON_OPTIONS

# clock_timestamp(), not the default now(): several events of one transaction keep their order.
_INSERT = (
    "INSERT INTO event_outbox (id, park_id, type, severity, data, created_at) "
    "VALUES ({id}, {park_id}, {type}, {severity}, CAST({data} AS jsonb), clock_timestamp())"
)
_FIELDS = ("id", "park_id", "type", "severity", "data")
INSERT_EVENT = _INSERT.format(**{f: f":{f}" for f in _FIELDS})
"""The insert, with SQLAlchemy named parameters."""
INSERT_EVENT_PSYCOPG = _INSERT.format(**{f: f"%({f})s" for f in _FIELDS})
"""The same insert, with psycopg named parameters."""


async def enqueue(
    session: AsyncSession,
    *,
    park_id: str,
    type: str,
    severity: str | None,
    data: dict[str, Any],
) -> uuid.UUID:
    """Add an event to the outbox in the session's transaction; return its id."""
    values = _values(park_id, type, severity, data)
    await session.execute(text(INSERT_EVENT), values)
    event_id: uuid.UUID = values["id"]
    return event_id


def enqueue_sync(
    conn: psycopg.Connection[Any],
    *,
    park_id: str,
    type: str,
    severity: str | None,
    data: dict[str, Any],
) -> uuid.UUID:
    """:func:`enqueue` on a sync psycopg connection, in its current transaction."""
    values = _values(park_id, type, severity, data)
    conn.execute(INSERT_EVENT_PSYCOPG, values)
    event_id: uuid.UUID = values["id"]
    return event_id


def _values(park_id: str, type_: str, severity: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "park_id": park_id,
        "type": type_,
        "severity": severity,
        "data": orjson.dumps(data, option=JSON_OPTIONS).decode(),
    }


def event_body(
    *, event_id: uuid.UUID, type: str, created_at: Any, park_id: str, data: Any
) -> bytes:
    """An event as every receiver gets it: the webhook body, also the event stream's ``data``:
    ``{"id", "type", "created_at", "park_id", "data"}``."""
    return orjson.dumps(
        {
            "id": str(event_id),
            "type": type,
            "created_at": created_at,
            "park_id": park_id,
            "data": data,
        },
        option=JSON_OPTIONS,
    )
