"""The worker loop's job lifecycle (start before the first run, aclose when the loop stops,
whatever the runs did), its per-job metrics, and the one LISTEN fanned out to a job."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alarms.jobs import AlarmTimers
from app.core.config import Settings
from app.core.db import create_engine_for
from app.telemetry.jobs import due_hours, pace
from app.worker import loop
from app.worker.loop import Job, run_loop, run_round
from app.worker.metrics import WorkerMetrics
from tests.api.conftest import create_device, create_park, series_id, write_readings

WAIT_S = 30.0


class Recording:
    """A job with a lifecycle that writes down every call; its runs fail if ``fails``."""

    def __init__(self, calls: list[str], fails: bool = False, start_fails: int = 0) -> None:
        self.calls = calls
        self.fails = fails
        self.start_fails = start_fails

    async def start(self, maker: async_sessionmaker[AsyncSession], _s: Settings) -> None:
        assert isinstance(maker, async_sessionmaker)
        self.calls.append("start")
        if self.start_fails:
            self.start_fails -= 1
            raise RuntimeError("cannot open")

    async def __call__(self, _session: AsyncSession, _s: Settings) -> int:
        self.calls.append("run")
        if self.fails:
            raise RuntimeError("boom")
        return 0

    async def aclose(self) -> None:
        self.calls.append("aclose")


def _run(
    settings: Settings, database_url: str, jobs: Sequence[Job], stop: asyncio.Event
) -> WorkerMetrics:
    metrics = WorkerMetrics.create()

    async def main() -> None:
        engine = create_engine_for(database_url, pool_size=1)
        fast = settings.model_copy(update={"worker_interval": timedelta(milliseconds=10)})
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            await asyncio.wait_for(run_loop(maker, jobs, fast, stop, metrics), WAIT_S)
        finally:
            await engine.dispose()

    asyncio.run(main())
    return metrics


def _stop_after(runs: int, stop: asyncio.Event) -> Job:
    seen: list[int] = []

    async def counting(_session: AsyncSession, _s: Settings) -> int:
        seen.append(1)
        if len(seen) == runs:
            stop.set()
        return 0

    return Job("counting", counting)


def _sample(metrics: WorkerMetrics, name: str, job: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"job": job})


def test_a_failing_job_is_started_first_closed_last_and_counted(
    settings: Settings, database_url: str
) -> None:
    calls: list[str] = []
    stop = asyncio.Event()
    jobs = [Job("failing", Recording(calls, fails=True)), _stop_after(3, stop)]
    metrics = _run(settings, database_url, jobs, stop)
    assert calls == ["start", "run", "run", "run", "aclose"]
    assert _sample(metrics, "parktwin_worker_job_runs_total", "failing") == 3
    assert _sample(metrics, "parktwin_worker_job_failures_total", "failing") == 3
    assert _sample(metrics, "parktwin_worker_job_duration_seconds_count", "failing") == 3
    assert _sample(metrics, "parktwin_worker_job_last_success_timestamp_seconds", "failing") is None
    # the loop carried on: the other job ran every round and succeeded
    assert _sample(metrics, "parktwin_worker_job_runs_total", "counting") == 3
    assert _sample(metrics, "parktwin_worker_job_failures_total", "counting") == 0
    success = _sample(metrics, "parktwin_worker_job_last_success_timestamp_seconds", "counting")
    assert success is not None and success > 0
    assert metrics.registry.get_sample_value("parktwin_worker_up") == 0  # stopped


def test_a_job_whose_start_failed_is_started_again_before_it_runs(
    settings: Settings, database_url: str
) -> None:
    calls: list[str] = []
    stop = asyncio.Event()
    jobs = [Job("flaky", Recording(calls, start_fails=2)), _stop_after(4, stop)]
    metrics = _run(settings, database_url, jobs, stop)
    assert calls[:4] == ["start", "start", "start", "run"]
    assert calls[-1] == "aclose" and calls.count("start") == 3
    assert _sample(metrics, "parktwin_worker_job_failures_total", "flaky") == 0


class Listening:
    """A job told of the NOTIFYs of its channel through the loop's LISTEN."""

    def __init__(self, channel: str) -> None:
        self.channels = (channel,)
        self.heard = 0
        self.event = asyncio.Event()

    def notified(self, channel: str) -> None:
        assert channel == self.channels[0]
        self.heard += 1
        self.event.set()

    async def __call__(self, _session: AsyncSession, _s: Settings) -> int:
        return 0


def test_a_notify_reaches_a_listening_job_through_the_loops_listen(
    settings: Settings, database_url: str
) -> None:
    channel = f"parktwin_test_{uuid.uuid4().hex[:8]}"
    job = Listening(channel)

    async def main() -> int:
        stop = asyncio.Event()
        engine = create_engine_for(database_url, pool_size=1)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            loop = asyncio.create_task(run_loop(maker, [Job("listening", job)], settings, stop))
            await asyncio.wait_for(job.event.wait(), WAIT_S)  # told once on connecting
            job.event.clear()
            before = job.heard
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                await conn.execute(f"NOTIFY {channel}")
                await conn.commit()
            await asyncio.wait_for(job.event.wait(), WAIT_S)
            stop.set()
            await asyncio.wait_for(loop, WAIT_S)
            return job.heard - before
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == 1


def test_the_rollup_backlog_is_measured_once_per_interval(
    client: TestClient, admin: dict[str, str], settings: Settings, database_url: str
) -> None:
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    now = datetime.now(UTC)
    write_readings(database_url, sid, [(now - timedelta(hours=h), 1.0 + h) for h in range(4)])

    async def idle(_session: AsyncSession, _s: Settings) -> int:
        return 0  # the backlog is left as it is: the count is what is tested

    job = Job("rollup", idle, backlog=due_hours)
    metrics = WorkerMetrics.create()
    slow = settings.model_copy(
        update={"worker_interval": timedelta(hours=1), "rollup_open_hour_interval": timedelta(0)}
    )

    async def main() -> None:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            await run_round(maker, [job], slow, metrics)
            with psycopg.connect(database_url) as conn:
                conn.execute("DELETE FROM telemetry_dirty WHERE series_id = %s", (sid,))
            measured = _sample(metrics, "parktwin_worker_job_backlog", "rollup")
            await run_round(maker, [job], slow, metrics)  # within the interval: not measured
            assert _sample(metrics, "parktwin_worker_job_backlog", "rollup") == measured
        finally:
            await engine.dispose()

    asyncio.run(main())
    measured = _sample(metrics, "parktwin_worker_job_backlog", "rollup")
    assert (
        measured is not None and measured >= 4
    )  # this series' four hours, and whatever other tests left dirty


def test_the_rollup_backlog_counts_the_hours_due_not_an_open_hour_kept_for_later(
    client: TestClient, admin: dict[str, str], settings: Settings, database_url: str
) -> None:
    """Four hours of one series marked dirty: the three closed hours are due at once, the open
    hour (marked just now) only once its interval has passed, or at once with PT0S."""
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    now = datetime.now(UTC)
    if now.minute == 59 and now.second > 50:  # keep the open hour open through the test
        time.sleep(11)
        now = datetime.now(UTC)
    write_readings(database_url, sid, [(now - timedelta(hours=h), 1.0 + h) for h in range(4)])
    hourly = settings.model_copy(update={"rollup_open_hour_interval": timedelta(hours=1)})
    at_once = settings.model_copy(update={"rollup_open_hour_interval": timedelta(0)})

    async def counts() -> tuple[int, int]:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            async with async_sessionmaker(engine)() as session:
                return await due_hours(session, hourly), await due_hours(session, at_once)
        finally:
            await engine.dispose()

    with_series = asyncio.run(counts())
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM telemetry_dirty WHERE series_id = %s", (sid,))
    without = asyncio.run(counts())
    assert (with_series[0] - without[0], with_series[1] - without[1]) == (3, 4)


def test_the_alarm_timers_reload_their_rules_when_a_rule_is_added(
    client: TestClient, admin: dict[str, str], settings: Settings, database_url: str
) -> None:
    """The timers keep one connection and a cached rule book from start to aclose; the
    alarm_rule trigger's NOTIFY parktwin_registry, through the loop's LISTEN, refreshes it."""
    park = create_park(client, admin)
    timers = AlarmTimers()
    runs: list[int] = []

    async def main() -> int:
        stop = asyncio.Event()
        engine = create_engine_for(database_url, pool_size=1)
        fast = settings.model_copy(update={"worker_interval": timedelta(milliseconds=20)})

        async def watch(_session: AsyncSession, _s: Settings) -> int:
            runs.append(1)
            if len(runs) == 5:  # the rule book has been loaded: add a rule
                with psycopg.connect(database_url) as conn:
                    row = conn.execute(ADD_RULE, (park.id,)).fetchone()
                    assert row is not None
                    added.append(int(row[0]))
            if added and added[0] in timers.rules.by_id:
                stop.set()
            return 0

        added: list[int] = []
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            jobs = [Job("alarm_timers", timers), Job("watch", watch)]
            await asyncio.wait_for(run_loop(maker, jobs, fast, stop), WAIT_S)
        finally:
            await engine.dispose()
        return added[0]

    rule_id = asyncio.run(main())
    assert rule_id in timers.rules.by_id


ADD_RULE = (
    "INSERT INTO alarm_rule (park_id, device_type, metric, type, levels) "
    "VALUES (%s, 'temperature_sensor', 'temperature_c', 'threshold', "
    '\'[{"severity": "major", "threshold": 60}]\') RETURNING id'
)


def test_a_paced_job_rests_after_working_and_the_idle_sleep_ends_with_its_rest(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paced job (``rest``, here the rollup job's pace with a duty cycle of 0.25 and nothing
    else due), on a clock the jobs move by hand: it works 1 s a run and rests 3 s after each
    run that did something, so over 12 rounds a second apart it runs at seconds 0, 4 and 8;
    once it finds nothing it does not rest, and runs in the very next round. A job that is
    not paced runs every round. The loop's idle sleep is cut to the end of the rest (2 s left
    of a 5 s interval)."""
    clock = [100.0]
    monkeypatch.setattr(loop, "monotonic", lambda: clock[0])
    plain_runs: list[float] = []

    class Batches:
        def __init__(self) -> None:
            self.runs: list[float] = []
            self.work = True

        async def __call__(self, _session: AsyncSession, _s: Settings) -> int:
            self.runs.append(clock[0] - 100.0)
            clock[0] += 1.0  # the batch takes a second
            return 1 if self.work else 0

        def rest(self, took: float, _s: Settings) -> float:
            return pace(took, duty=0.25, batch=1, waiting=1, within=3600.0)

    async def plain(_session: AsyncSession, _s: Settings) -> int:
        plain_runs.append(clock[0] - 100.0)
        return 0

    batches = Batches()
    paced = Job("rollup", batches)
    jobs = [paced, Job("other", plain)]

    async def main() -> None:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            for second in range(12):
                clock[0] = 100.0 + second
                await run_round(maker, jobs, settings)
            assert batches.runs == [0.0, 4.0, 8.0]
            assert paced.rest_until == 100.0 + 8.0 + 1.0 + 3.0
            assert loop.pause(jobs, idle=5.0, now=110.0) == 2.0
            assert loop.pause(jobs, idle=5.0, now=112.0) == 5.0  # rested: the interval again
            batches.work = False
            clock[0] = 112.0
            await run_round(maker, jobs, settings)
            clock[0] = 113.0
            await run_round(maker, jobs, settings)
            assert batches.runs[3:] == [12.0, 13.0]  # nothing found: no rest
        finally:
            await engine.dispose()

    asyncio.run(main())
    assert len(plain_runs) == 14  # every round
