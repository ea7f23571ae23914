"""Worker jobs of the alarm module: offline detection, alarm timers, shelving that runs out and
the end of alarm floods.

A device silent for longer than its type's ``reporting_timeout_s`` gets a ``device_offline``
alarm (minor) and, if it was not marked offline already (a last will does that), the status
``offline`` and a ``device.offline`` event. The ingestor clears the alarm when the device is heard
from again. The job works from ``last_seen_at`` in the database, so a worker restart loses no
timer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import repository, service
from app.alarms.document import alarm_document, rfc3339
from app.alarms.evaluator import AlarmWriter, RuleBook
from app.core.clock import to_us
from app.core.config import Settings
from app.core.db import libpq_url
from app.webhooks import outbox

logger = logging.getLogger(__name__)

STALE = text(
    """
    WITH stale AS (
        SELECT d.park_id, d.id, d.status, t.reporting_timeout_s,
               extract(epoch FROM now() - d.last_seen_at) AS silent_s
        FROM device d JOIN device_type t ON t.type = d.type
        WHERE d.last_seen_at < now() - make_interval(secs => t.reporting_timeout_s)
          AND NOT EXISTS (
              SELECT 1 FROM alarm a
              WHERE a.park_id = d.park_id AND a.device_id = d.id AND a.type = 'device_offline'
                AND a.closed_at IS NULL AND a.active)
        ORDER BY d.park_id, d.id
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    ),
    marked AS (
        UPDATE device d SET status = 'offline', status_changed_at = now()
        FROM stale s WHERE d.park_id = s.park_id AND d.id = s.id AND d.status <> 'offline'
        RETURNING d.park_id, d.id
    )
    SELECT s.park_id, s.id, s.reporting_timeout_s, s.silent_s, (m.id IS NOT NULL) AS went_offline
    FROM stale s LEFT JOIN marked m ON m.park_id = s.park_id AND m.id = s.id
    """
)

RAISE_OFFLINE = text(
    """
    INSERT INTO alarm AS a (id, park_id, device_id, metric, type, severity, raised_at, value,
                            peak_value, threshold)
    VALUES (:id, :park, :device, '', 'device_offline', 'minor', now(), :silent, :silent, :timeout)
    ON CONFLICT (park_id, device_id, metric, type) WHERE closed_at IS NULL DO UPDATE SET
        active = true, normal = false, cleared_at = NULL, count = a.count + 1,
        value = excluded.value, peak_value = greatest(a.peak_value, excluded.value),
        updated_at = now()
    RETURNING *
    """
)


async def detect_offline(session: AsyncSession, settings: Settings) -> int:
    """Raise device_offline for up to 500 silent devices; return how many."""
    stale = (await session.execute(STALE, {"limit": 500})).mappings().all()
    for device in stale:
        params = {
            "id": uuid.uuid4(),
            "park": device["park_id"],
            "device": device["id"],
            "silent": float(device["silent_s"]),
            "timeout": float(device["reporting_timeout_s"]),
        }
        alarm = (await session.execute(RAISE_OFFLINE, params)).mappings().one()
        await repository.add_event(
            session, alarm["id"], "raised", severity="minor", value=params["silent"]
        )
        if device["went_offline"]:
            await outbox.enqueue(
                session,
                park_id=device["park_id"],
                type="device.offline",
                severity=None,
                data={"device_id": device["id"], "status": "offline"},
            )
        await outbox.enqueue(
            session,
            park_id=device["park_id"],
            type="alarm.raised",
            severity="minor",
            data=alarm_document(alarm),
        )
    if stale:
        logger.info("offline detection: %d device(s) silent past their timeout", len(stale))
    return len(stale)


def _expire_due(database_url: str) -> int:
    """One transaction of the timer job, on the same synchronous code the ingestor runs."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        rules = RuleBook()
        rules.load(conn)
        with conn.transaction():
            return AlarmWriter(conn, rules).expire_due(to_us(datetime.now(UTC)))


async def run_timers(_session: AsyncSession, settings: Settings) -> int:
    """On- and off-delays that ran out with no newer reading take effect here; their due times
    live in ``alarm_state``, so a restart loses none."""
    return await asyncio.to_thread(_expire_due, settings.resolved_database_url())


async def unshelve_expired(session: AsyncSession, _settings: Settings) -> int:
    """Shelving that ran out ends (``alarm.unshelved``)."""
    return await service.unshelve_expired(session)


async def end_floods(session: AsyncSession, settings: Settings) -> int:
    """Floods whose window has calmed down end with ``alarm.flood_ended`` (how many alarms were
    raised during the flood and how many notifications were held back). Floods start in the
    webhook fan-out (app/webhooks/queue.py), which sees every raise as it goes out."""
    window = settings.alarm_flood_window.total_seconds()
    ended = await repository.end_floods(session, settings.alarm_flood_threshold, window)
    for flood in ended:
        data = {
            "park_id": flood["park_id"],
            "started_at": rfc3339(flood["started_at"]),
            "ended_at": rfc3339(flood["ended_at"]),
            "raised": flood["raised"],
            "held_back": flood["held_back"],
        }
        await outbox.enqueue(
            session, park_id=flood["park_id"], type="alarm.flood_ended", severity=None, data=data
        )
        logger.info(
            "alarm flood in park %s ended: %d raised, %d held back",
            flood["park_id"],
            flood["raised"],
            flood["held_back"],
        )
    return 0  # nothing queued behind it: the job waits for its next round
