"""The worker loop of ``parktwin worker``: jobs run in turn until SIGTERM or SIGINT.

Each job run is one transaction (its session commits when the job returns, rolls back when it
raises). A job that fails is logged and the loop carries on. A job returns how much work it
did; the loop sleeps ``PARKTWIN_WORKER_INTERVAL`` only when a whole round found nothing to do,
so a backlog drains at full speed. Later jobs (webhook delivery, offline detection) are added to
``default_jobs``.
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

logger = logging.getLogger(__name__)

JobFn = Callable[[AsyncSession, Settings], Awaitable[int]]


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
) -> None:
    idle = settings.worker_interval.total_seconds()
    logger.info("worker started: %s", ", ".join(j.name for j in jobs))
    while not stop.is_set():
        if await run_round(maker, jobs, settings) == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle)
    logger.info("worker stopped")


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
