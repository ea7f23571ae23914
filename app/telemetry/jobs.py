"""Worker jobs of the telemetry module: rollups, retention of raw data and rollups, retention
of ingest rejections. The SQL is in ``rollup_repository.py`` and ``repository.py``."""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.telemetry import repository as telemetry
from app.telemetry import rollup_repository as rollups

logger = logging.getLogger(__name__)

REJECTION_PURGE_BATCH = 10_000
BACKLOG_CAP = 100_000
DUE_CAP = 1_000_000
HOUR = timedelta(hours=1)


async def rollup(session: AsyncSession, settings: Settings) -> int:
    """Recompute the rollups of up to ``PARKTWIN_ROLLUP_BATCH`` dirty hours (an hour still being
    written at most every ``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL``).

    The hours are claimed in a transaction of their own, committed before the recomputation
    (migration 0032), so no ingest batch waits for it; the recomputation and the release of the
    marks are the job's transaction. If it fails, the hours are given back at once.

    A closed hour gets its hourly row and the rows of the local days it touches, and its mark
    is released. An hour still open gets only its hourly row and keeps its mark (``reschedule``):
    its days are recomputed once, when it has closed, instead of on every pass over the open
    hours (20-45% of an open hour's cost on a quiet machine, bench/rollup.py; 60% in a batch
    measured under bench/park100k's stream), and the mark keeps the read path making those
    days from raw readings meanwhile. With an interval of 0 (tests, a small park that wants
    today's daily rows current) every hour is done in full at once."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine), "the rollup job needs a session bound to an engine"
    interval = settings.rollup_open_hour_interval
    async with engine.connect() as conn:
        claims = await rollups.claim_dirty(conn, settings.rollup_batch, interval)
        await conn.commit()
    if not claims:
        return 0
    closed: list[rollups.Claim] = []
    still_open: list[rollups.Claim] = []
    for claim in claims:
        is_open = bool(interval) and claim.bucket + HOUR > claim.claimed_at
        (still_open if is_open else closed).append(claim)
    try:
        horizon = datetime.now(UTC) - settings.raw_retention
        await rollups.recompute(
            session,
            [(c.series_id, c.bucket) for c in claims],
            horizon,
            days_of=[(c.series_id, c.bucket) for c in closed],
        )
        if closed:
            await rollups.release(session, closed)
        if still_open:
            await rollups.reschedule(session, still_open)
    except Exception:
        await session.rollback()  # its connection back to the pool (a pool of one: the tests)
        with suppress(Exception):  # else the lease gives them back (CLAIM_LEASE)
            async with engine.connect() as conn:
                await rollups.unclaim(conn, claims)
                await conn.commit()
        raise
    return len(claims)


class PacedRollup:
    """The worker's ``rollup`` job: :func:`rollup`, paced (``app/worker/loop.py``'s ``Paced``):
    after a batch it rests (:func:`pace`) so that a pass over every open hour of a large park
    is spread out instead of taking a core from the ingestor back to back."""

    def __init__(self) -> None:
        self._batch = 0
        self._waiting = 0

    async def __call__(self, session: AsyncSession, settings: Settings) -> int:
        done = await rollup(session, settings)
        due = 0
        if done and settings.rollup_duty_cycle < 1 and settings.rollup_open_hour_interval:
            # the count (a scan of the marks) only where a rest can follow (``pace``: none at
            # a duty of 1 or an interval of 0, whatever is due)
            due = await rollups.count_due(session, settings.rollup_open_hour_interval, DUE_CAP)
        self._batch, self._waiting = done, done + due
        return done

    def rest(self, took: float, settings: Settings) -> float:
        return pace(
            took,
            settings.rollup_duty_cycle,
            self._batch,
            self._waiting,
            settings.rollup_open_hour_interval.total_seconds(),
        )


def pace(took: float, duty: float, batch: int, waiting: int, within: float) -> float:
    """Seconds to rest after a batch of ``batch`` hours that took ``took`` seconds, with
    ``waiting`` hours due (the batch's included): long enough that the job works at most
    ``duty`` of the time (``PARKTWIN_ROLLUP_DUTY_CYCLE``), but never so long that the hours
    due could not all be done within ``within`` seconds (``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL``,
    when the open ones are due again) at this batch's pace: the rollups keep up whatever the
    duty, as long as the machine can."""
    if not 0 < duty <= 1:
        raise ValueError(f"a duty cycle is a share of the time in (0, 1], not {duty}")
    by_duty = took * (1 / duty - 1)
    keeping_up = within * batch / max(waiting, batch) - took
    return max(0.0, min(by_duty, keeping_up))


async def due_hours(session: AsyncSession, settings: Settings) -> int:
    """The ``rollup`` job's backlog: dirty hours it may take now (at most ``BACKLOG_CAP``):
    closed hours and open ones whose interval has passed. An open hour's kept mark is not
    waiting work until then; at 100,000 devices every streaming series' current hour is marked
    (162,359 marks), which a count of all marks would report, flat at its cap, all the time."""
    return await rollups.count_due(session, settings.rollup_open_hour_interval, BACKLOG_CAP)


async def retention(session: AsyncSession, settings: Settings) -> int:
    """Drop raw chunks past ``PARKTWIN_RAW_RETENTION`` and rollups past theirs."""
    dropped = 0
    for table, age in (
        ("telemetry", settings.raw_retention),
        ("rollup_hour", settings.hourly_rollup_retention),
        ("rollup_day", settings.daily_rollup_retention),
        ("rollup_month", settings.daily_rollup_retention),  # kept with the days they sum
    ):
        count = await rollups.drop_expired(session, table, age)
        if count:
            logger.info("retention: dropped %d chunk(s) of %s older than %s", count, table, age)
        dropped += count
    await rollups.forget_dirty_before(session, datetime.now(UTC) - settings.raw_retention)
    return 0  # dropping chunks is not a backlog: no need to run the next round at once


async def rejection_retention(session: AsyncSession, settings: Settings) -> int:
    """Delete ingest rejections past ``PARKTWIN_REJECTION_RETENTION``, at most
    ``REJECTION_PURGE_BATCH`` per run (every ``REJECTION_RETENTION_EVERY_S`` in
    ``app/worker/jobs.py``): up to 3.6 M an hour, what 6,000 devices each at the per-device
    rate limit (10 a minute) can store."""
    count = await telemetry.purge_rejections(
        session, older_than=settings.rejection_retention, limit=REJECTION_PURGE_BATCH
    )
    if count:
        logger.info("rejection retention: deleted %d rejection(s)", count)
    return count
