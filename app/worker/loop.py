"""The worker loop of ``parktwin worker``: jobs run in turn until SIGTERM or SIGINT.

Each job run is one transaction (its session commits when the job returns, rolls back when it
raises). A job that fails is logged and the loop carries on. A job returns how much work it
did; the loop sleeps ``PARKTWIN_WORKER_INTERVAL`` only when a whole round found nothing to do,
so a backlog drains at full speed. Later jobs (webhook delivery, offline detection) are added to
``default_jobs``. A ``NOTIFY`` on one of ``WAKE_CHANNELS`` (``parktwin_outbox``: a new webhook
event) ends the idle sleep at once (``app/worker/wakeup.py``). A job whose ``run`` has an
``aclose()`` coroutine method is closed when the loop stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.worker.wakeup import listen

logger = logging.getLogger(__name__)

JobFn = Callable[[AsyncSession, Settings], Awaitable[int]]
WAKE_CHANNELS = ("parktwin_outbox",)


@dataclass
class Job:
    """A named job, run at most once every ``every`` seconds (0: every round)."""

    name: str
    run: JobFn
    every: float = 0.0
    last_run: float = field(default=float("-inf"))

    def due(self, now: float) -> bool:
        return now - self.last_run >= self.every


async def run_job(maker: async_sessionmaker[AsyncSession], job: Job, settings: Settings) -> int:
    """One transaction of ``job``; errors are logged and count as no work."""
    job.last_run = time.monotonic()
    try:
        async with maker() as session, session.begin():
            done = await job.run(session, settings)
    except Exception:
        logger.exception("job %s failed; carrying on", job.name)
        return 0
    if done:
        logger.debug("job %s: %d done", job.name, done)
    return done


async def run_round(
    maker: async_sessionmaker[AsyncSession], jobs: Sequence[Job], settings: Settings
) -> int:
    done = 0
    for job in jobs:
        if job.due(time.monotonic()):
            done += await run_job(maker, job, settings)
    return done


async def run_loop(
    maker: async_sessionmaker[AsyncSession],
    jobs: Sequence[Job],
    settings: Settings,
    stop: asyncio.Event,
    wake_channels: Sequence[str] = WAKE_CHANNELS,
) -> None:
    idle = settings.worker_interval.total_seconds()
    wake = asyncio.Event()
    listener = asyncio.create_task(listen(settings.resolved_database_url(), wake_channels, wake))
    logger.info("worker started: %s", ", ".join(j.name for j in jobs))
    try:
        while not stop.is_set():
            wake.clear()  # before the round: a NOTIFY during the round means "go again"
            if await run_round(maker, jobs, settings) == 0:
                await _idle(stop, wake, idle)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await _close_jobs(jobs)
    logger.info("worker stopped")


async def _idle(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if stopped or woken by a notification."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _close_jobs(jobs: Sequence[Job]) -> None:
    for job in jobs:
        close = getattr(job.run, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:
                logger.exception("closing job %s failed", job.name)


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
