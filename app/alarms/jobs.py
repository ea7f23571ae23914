"""Worker jobs of the alarm module: offline detection, alarm timers, shelving that runs out and
the end of alarm floods.

A device silent for longer than its type's ``reporting_timeout_s`` while the platform was
listening (ingest up and subscribed: ingest/coverage.py; plus ``PARKTWIN_OFFLINE_GRACE`` after
listening starts) gets a ``device_offline`` alarm (minor) and, if it was not marked offline
already (a last will does that), the status ``offline`` and a ``device.offline`` event. The
ingestor clears the alarm when the device is heard from again. The job works from
``last_seen_at`` and ``ingest_coverage`` in the database, so a worker restart loses no timer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alarms import offline_repository, repository, service
from app.alarms.document import rfc3339
from app.alarms.evaluator import AlarmWriter
from app.alarms.rules import RuleBook
from app.core.clock import to_us
from app.core.config import Settings
from app.core.db import libpq_url
from app.webhooks import outbox

logger = logging.getLogger(__name__)


async def detect_offline(session: AsyncSession, settings: Settings) -> int:
    """Raise device_offline for up to 500 silent devices; return how many."""
    stale = await offline_repository.stale_devices(
        session,
        limit=500,
        heartbeat_stale_s=settings.ingest_heartbeat_stale.total_seconds(),
        grace_s=settings.offline_grace.total_seconds(),
    )
    for device in stale:
        params = {
            "id": uuid.uuid4(),
            "park": device["park_id"],
            "device": device["id"],
            "silent": float(device["silent_s"]),
            "timeout": float(device["reporting_timeout_s"]),
        }
        alarm = await offline_repository.raise_offline(session, params)
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
        await service.announce(session, "alarm.raised", alarm)
    if stale:
        logger.info("offline detection: %d device(s) silent past their timeout", len(stale))
    return len(stale)


class AlarmTimers:
    """The ``alarm_timers`` job: on- and off-delays that ran out with no newer reading take
    effect here; their due times live in ``alarm_state``, so a restart loses none.

    It runs the same synchronous code the ingestor runs, in a thread, on one psycopg
    connection it holds from :meth:`start` to :meth:`aclose` (reopened at the next run if it
    breaks), with the rule book cached until ``NOTIFY parktwin_registry`` says a rule, device
    or park changed (the loop's LISTEN tells :meth:`notified`).
    """

    channels = ("parktwin_registry",)

    def __init__(self) -> None:
        self._url = ""
        self._conn: psycopg.Connection | None = None
        self._rules = RuleBook()
        self._stale = False

    async def start(self, _maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._url = settings.resolved_database_url()
        await asyncio.to_thread(self._connection)

    @property
    def rules(self) -> RuleBook:
        """The rule book the next run uses (as loaded by the last one)."""
        return self._rules

    def notified(self, _channel: str) -> None:
        self._stale = True

    async def __call__(self, _session: AsyncSession, _settings: Settings) -> int:
        if self._stale:  # swapped here, on the event loop, never under the thread's feet
            self._stale = False
            self._rules = RuleBook()
        return await asyncio.to_thread(self._expire_due, self._rules)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.to_thread(conn.close)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(libpq_url(self._url), autocommit=True)
        return self._conn

    def _expire_due(self, rules: RuleBook) -> int:
        """One transaction of the timer job."""
        conn = self._connection()
        try:
            rules.load(conn)
            with conn.transaction():
                return AlarmWriter(conn, rules).expire_due(to_us(datetime.now(UTC)))
        except psycopg.Error:
            if conn.broken:
                self._conn = None
                conn.close()
            raise


async def unshelve_expired(session: AsyncSession, _settings: Settings) -> int:
    """Shelving that ran out ends (``alarm.unshelved``)."""
    return await service.unshelve_expired(session)


async def end_floods(session: AsyncSession, settings: Settings) -> int:
    """A chattering device's flood ends, once its raises in the window are back at the
    threshold, with ``alarm.flood_ended`` (how many alarms the device raised during the flood
    and how many were held back). Floods start in the notification policy
    (app/alarms/policy.py), which sees every raise before it goes out."""
    window = settings.alarm_flood_window.total_seconds()
    ended = await repository.end_floods(session, settings.alarm_flood_threshold, window)
    for flood in ended:
        data = {
            "park_id": flood["park_id"],
            "device_id": flood["device_id"] or None,
            "started_at": rfc3339(flood["started_at"]),
            "ended_at": rfc3339(flood["ended_at"]),
            "raised": flood["raised"],
            "held_back": flood["held_back"],
        }
        await outbox.enqueue(
            session, park_id=flood["park_id"], type="alarm.flood_ended", severity=None, data=data
        )
        logger.info(
            "alarm flood of device %s in park %s ended: %d raised, %d held back",
            flood["device_id"],
            flood["park_id"],
            flood["raised"],
            flood["held_back"],
        )
    return 0  # nothing queued behind it: the job waits for its next round
