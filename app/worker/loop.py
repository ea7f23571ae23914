"""The worker loop of ``parktwin worker``: jobs run in turn until SIGTERM or SIGINT.

Each job run is one transaction (its session commits when the job returns, rolls back when it
raises). A job that fails is logged, counted (``parktwin_worker_job_failures_total``) and the
loop carries on. A job returns how much work it did; the loop sleeps
``PARKTWIN_WORKER_INTERVAL`` only when a whole round found nothing to do, so a backlog drains
at full speed, except a paced job (:class:`Paced`: the rollup job, whose passes at 100,000
devices took the core the ingestor needed; docs/benchmarks.md): after a run that did something
it rests as long as its ``rest`` says, and the loop's idle sleep ends when that rest does.

A job's lifecycle: if its ``run`` has ``start(maker, settings)`` and ``aclose()`` (see
:class:`Lifecycle`), the loop starts it before its first run (again before the next one if
starting failed) and closes it when the loop stops, whatever its runs did. That is where a job
opens what it holds (an HTTP client, a connection, a task) instead of reaching into its run's
session. A ``run`` that also has ``channels`` and ``notified(channel)`` (:class:`Listener`) is
called on every ``NOTIFY`` of those channels, through the loop's one LISTEN connection
(``app/core/listen.py``); a ``NOTIFY`` on ``WAKE_CHANNELS`` ends the loop's idle sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from time import monotonic
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.listen import Fanout, listen
from app.worker.metrics import WorkerMetrics

logger = logging.getLogger(__name__)

JobFn = Callable[[AsyncSession, Settings], Awaitable[int]]
BacklogFn = Callable[[AsyncSession, Settings], Awaitable[int]]
WAKE_CHANNELS = ("parktwin_outbox",)


@runtime_checkable
class Lifecycle(Protocol):
    """What a job's ``run`` may hold between runs: opened by ``start``, closed by ``aclose``."""

    async def start(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Listener(Protocol):
    """A job's ``run`` told of every ``NOTIFY`` on ``channels`` (on the event loop; not to
    block)."""

    channels: Sequence[str]

    def notified(self, channel: str) -> None: ...


@runtime_checkable
class Paced(Protocol):
    """A job's ``run`` that rests after a run that did something: ``rest(took, settings)``
    seconds (``took``: that run's), during which the loop does not run it."""

    def rest(self, took: float, settings: Settings) -> float: ...


@dataclass
class Job:
    """A named job, run at most once every ``every`` seconds (0: every round). ``backlog``,
    if given, counts the job's waiting work in one cheap query, at most once per
    ``PARKTWIN_WORKER_INTERVAL``."""

    name: str
    run: JobFn
    every: float = 0.0
    backlog: BacklogFn | None = None
    last_run: float = field(default=float("-inf"))
    last_backlog: float = field(default=float("-inf"))
    rest_until: float = field(default=float("-inf"))
    started: bool = False

    def due(self, now: float) -> bool:
        return now >= self.rest_until and now - self.last_run >= self.every

    async def start(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> bool:
        """Open what the job holds; False (logged) if that failed: it is tried again later."""
        if not self.started and isinstance(self.run, Lifecycle):
            try:
                await self.run.start(maker, settings)
            except Exception:
                logger.exception("starting job %s failed; trying again next round", self.name)
                return False
        self.started = True
        return True

    async def aclose(self) -> None:
        """Close what the job holds; errors are logged."""
        if isinstance(self.run, Lifecycle):
            try:
                await self.run.aclose()
            except Exception:
                logger.exception("closing job %s failed", self.name)
        self.started = False


async def run_job(
    maker: async_sessionmaker[AsyncSession],
    job: Job,
    settings: Settings,
    metrics: WorkerMetrics | None = None,
) -> int:
    """One transaction of ``job``; errors are logged and count as no work."""
    job.last_run = monotonic()
    try:
        async with maker() as session, session.begin():
            done = await job.run(session, settings)
    except Exception:
        logger.exception("job %s failed; carrying on", job.name)
        _observe(metrics, job, ok=False)
        return 0
    _observe(metrics, job, ok=True)
    if done and isinstance(job.run, Paced):
        took = monotonic() - job.last_run
        job.rest_until = job.last_run + took + job.run.rest(took, settings)
    if done:
        logger.debug("job %s: %d done", job.name, done)
    return done


def pause(jobs: Sequence[Job], idle: float, now: float) -> float:
    """The loop's idle sleep: ``idle``, or less if a resting job's rest ends sooner."""
    resting = [job.rest_until - now for job in jobs if job.rest_until > now]
    return min([idle, *resting])


def _observe(metrics: WorkerMetrics | None, job: Job, ok: bool) -> None:
    if metrics is None:
        return
    metrics.runs.labels(job.name).inc()
    metrics.duration.labels(job.name).observe(monotonic() - job.last_run)
    if ok:
        metrics.last_success.labels(job.name).set(time.time())
    else:
        metrics.failures.labels(job.name).inc()


async def measure_backlog(
    maker: async_sessionmaker[AsyncSession], job: Job, settings: Settings, metrics: WorkerMetrics
) -> None:
    """Set the job's backlog gauge, if it has one and it was not measured this interval."""
    now = monotonic()
    if job.backlog is None or now - job.last_backlog < settings.worker_interval.total_seconds():
        return
    job.last_backlog = now
    try:
        async with maker() as session, session.begin():
            waiting = await job.backlog(session, settings)
    except Exception:
        logger.warning("backlog of job %s not measured", job.name, exc_info=True)
        return
    metrics.backlog.labels(job.name).set(waiting)


async def run_round(
    maker: async_sessionmaker[AsyncSession],
    jobs: Sequence[Job],
    settings: Settings,
    metrics: WorkerMetrics | None = None,
) -> int:
    done = 0
    for job in jobs:
        if job.due(monotonic()) and await job.start(maker, settings):
            done += await run_job(maker, job, settings, metrics)
            if metrics is not None:
                await measure_backlog(maker, job, settings, metrics)
    return done


async def run_loop(
    maker: async_sessionmaker[AsyncSession],
    jobs: Sequence[Job],
    settings: Settings,
    stop: asyncio.Event,
    metrics: WorkerMetrics | None = None,
) -> None:
    metrics = metrics if metrics is not None else WorkerMetrics.create()
    metrics.declare([job.name for job in jobs])
    idle = settings.worker_interval.total_seconds()
    wake = asyncio.Event()
    fanout = _fanout(jobs, wake)
    listener = asyncio.create_task(listen(settings.resolved_database_url(), fanout))
    logger.info("worker started: %s", ", ".join(j.name for j in jobs))
    try:
        for job in jobs:
            await job.start(maker, settings)
        metrics.up.set(1)
        while not stop.is_set():
            wake.clear()  # before the round: a NOTIFY during the round means "go again"
            if await run_round(maker, jobs, settings, metrics) == 0:
                await _idle(stop, wake, pause(jobs, idle, monotonic()))
    finally:
        metrics.up.set(0)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        for job in jobs:
            await job.aclose()
    logger.info("worker stopped")


def _fanout(jobs: Sequence[Job], wake: asyncio.Event) -> Fanout:
    """The loop's idle sleep on ``WAKE_CHANNELS`` and each listening job on its channels."""
    fanout = Fanout()
    for channel in WAKE_CHANNELS:
        fanout.subscribe(channel, wake.set)
    for job in jobs:
        if isinstance(job.run, Listener):
            for channel in job.run.channels:
                fanout.subscribe(channel, _bind(job.run, channel))
    return fanout


def _bind(listener: Listener, channel: str) -> Callable[[], None]:
    return lambda: listener.notified(channel)


async def _idle(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if stopped or woken by a notification."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
