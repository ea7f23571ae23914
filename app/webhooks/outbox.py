"""The transactional outbox: how any writer records an event for the webhook receivers.

Write the event in the same transaction as the change it reports; the webhook worker delivers
it after the commit (a rolled-back change sends nothing). From an ``AsyncSession`` call
:func:`enqueue`. From a sync psycopg connection (the ingestor, alarm evaluation) run the same
statement with psycopg placeholders::

    cur.execute(
        "INSERT INTO event_outbox (id, park_id, type, severity, data) "
        "VALUES (%s, %s, %s, %s, %s::jsonb)",
        (uuid.uuid4(), park_id, "alarm.raised", "critical", orjson.dumps(data).decode()),
    )

(``id`` may be left out: it defaults to ``gen_random_uuid()``.) A trigger sends
``NOTIFY parktwin_outbox`` on insert, so ``parktwin worker`` wakes as soon as the writer commits.
``severity`` is ``critical``, ``major``, ``minor``, ``warning`` or NULL (no severity: passes
every ``min_severity`` filter); ``id`` becomes the ``webhook-id`` header and the body's ``id``.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.http import JSON_OPTIONS

# clock_timestamp(), not the default now(): several events of one transaction keep their order.
INSERT_EVENT = (
    "INSERT INTO event_outbox (id, park_id, type, severity, data, created_at) "
    "VALUES (:id, :park_id, :type, :severity, CAST(:data AS jsonb), clock_timestamp())"
)
"""The insert, with SQLAlchemy named parameters (psycopg form in the module docstring)."""

SEVERITIES = ("critical", "major", "minor", "warning")
"""Highest first."""


async def enqueue(
    session: AsyncSession,
    *,
    park_id: str,
    type: str,
    severity: str | None,
    data: dict[str, Any],
) -> uuid.UUID:
    """Add an event to the outbox in the session's transaction; return its id."""
    event_id = uuid.uuid4()
    await session.execute(
        text(INSERT_EVENT),
        {
            "id": event_id,
            "park_id": park_id,
            "type": type,
            "severity": severity,
            "data": orjson.dumps(data, option=JSON_OPTIONS).decode(),
        },
    )
    return event_id
