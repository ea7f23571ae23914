"""The worker: its loop (one transaction per job, errors logged and survived, stop on a
signal), ``parktwin worker`` as a process, and the retention job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine_for
from app.telemetry import repository as telemetry_repository
from app.telemetry import rollup_repository as rollups
from app.telemetry.intervals import INTERVALS, covered_range
from app.telemetry.jobs import PacedRollup, rollup
from app.telemetry.rollup_repository import Claim
from app.worker.loop import Job, run_loop
from ingest.writer import MARK_DIRTY
from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.api.worker_util import drain, run_once, run_retention


def test_the_loop_survives_a_failing_job_and_rolls_it_back(
    settings: Settings, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    marker = f"worker-test-{time.time_ns()}"

    async def failing(session: AsyncSession, _s: Settings) -> int:
        await session.execute(
            text(
                "INSERT INTO ingest_rejection (topic, reason, detail, payload, payload_size) "
                "VALUES (:t, 'test', 'x', '', 0)"
            ),
            {"t": marker},
        )
        calls.append("failing")
        raise RuntimeError("boom")

    async def main() -> None:
        stop = asyncio.Event()

        async def counting(_session: AsyncSession, _s: Settings) -> int:
            calls.append("counting")
            if calls.count("counting") == 3:
                stop.set()
            return 0

        engine = create_engine_for(database_url, pool_size=1)
        fast = settings.model_copy(update={"worker_interval": timedelta(milliseconds=10)})
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            await run_loop(maker, [Job("failing", failing), Job("counting", counting)], fast, stop)
        finally:
            await engine.dispose()

    with caplog.at_level(logging.ERROR, logger="app.worker.loop"):
        asyncio.run(main())
    assert calls.count("failing") == 3 and calls.count("counting") == 3
    assert "job failing failed" in caplog.text
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM ingest_rejection WHERE topic = %s", (marker,))
        assert row.fetchone() == (0,)


def _dirty(database_url: str, sid: int) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM telemetry_dirty WHERE series_id = %s", (sid,))
        return int(row.fetchone()[0])  # type: ignore[index]


def test_parktwin_worker_rolls_up_and_stops_on_sigterm(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    now = datetime.now(UTC).replace(microsecond=0)
    write_readings(
        database_url, sid, [(now - timedelta(hours=h), float(100 - h)) for h in range(5)]
    )
    env = {
        **os.environ,
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_WORKER_INTERVAL": "PT0.2S",
        "PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL": "PT0S",  # the current hour too, at once
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while _dirty(database_url, sid):
            assert worker.poll() is None, worker.communicate()[0]
            assert time.monotonic() < deadline, "the worker never drained the queue"
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert "worker stopped" in output
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM rollup_hour WHERE series_id = %s", (sid,))
        assert row.fetchone() == (5,)


def test_retention_drops_old_raw_chunks_and_keeps_rollups(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    old = datetime.now(UTC).replace(microsecond=0) - timedelta(days=200)
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    write_readings(database_url, sid, [(old, 1.0), (recent, 2.0)], mark=False)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO rollup_hour (series_id, bucket, count, sum, min, max, first_time, "
            "first_value, last_time, last_value, increase) VALUES "
            "(%s, time_bucket('1 hour', %s::timestamptz), 1, 1, 1, 1, %s, 1, %s, 1, 0)",
            (sid, old, old, old),
        )
        conn.execute(
            "INSERT INTO telemetry_dirty VALUES (%s, time_bucket('1 hour', %s::timestamptz))",
            (sid, old),
        )
    run_retention(settings)
    with psycopg.connect(database_url) as conn:
        raw = conn.execute(
            "SELECT value FROM telemetry WHERE series_id = %s ORDER BY time", (sid,)
        ).fetchall()
        hourly = conn.execute("SELECT count(*) FROM rollup_hour WHERE series_id = %s", (sid,))
        assert hourly.fetchone() == (1,)
    assert raw == [(2.0,)]
    assert _dirty(database_url, sid) == 0


def test_an_open_hour_gets_its_hourly_row_now_and_then_and_its_day_once_it_has_closed(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    """A closed hour is taken at once: its hourly row, its day's row, and its mark is released.
    An open one (here two hours ahead, so it stays open however long the test takes) waits
    until its mark is ``rollup_open_hour_interval`` old, and marking it again (as every ingest
    batch does) does not make the mark younger. Taken, it gets its hourly row only (its day's
    row is left for the pass after it has closed) and keeps its mark, due again an interval
    after it was taken: the mark stands for the day, so the read path still makes that day from
    raw readings and counts both readings."""
    tz = "Asia/Shanghai"
    park = create_park(client, admin, tz=tz)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    closed, current = hour - timedelta(hours=2), hour + timedelta(hours=2)
    write_readings(database_url, sid, [(closed + timedelta(minutes=5), 1.0), (current, 2.0)])
    one_minute = settings.model_copy(update={"rollup_open_hour_interval": timedelta(minutes=1)})

    def rolled_up() -> tuple[list[datetime], int]:
        """The hours with a rollup row, and the readings the day rows count."""
        with psycopg.connect(database_url) as conn:
            hours = conn.execute(
                "SELECT bucket FROM rollup_hour WHERE series_id = %s ORDER BY 1", (sid,)
            )
            days = conn.execute(
                "SELECT coalesce(sum(count), 0) FROM rollup_day WHERE series_id = %s", (sid,)
            )
            return [r[0] for r in hours], int(days.fetchone()[0])  # type: ignore[index]

    def marks() -> list[tuple[datetime, bool, bool]]:
        """Each mark's hour, whether it is claimed, whether it is due at a 1-minute interval."""
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT bucket, claimed_at IS NOT NULL, marked_at <= now() - interval '1 minute' "
                "FROM telemetry_dirty WHERE series_id = %s ORDER BY 1",
                (sid,),
            )
            return [(r[0], r[1], r[2]) for r in rows]

    def mark_current_again() -> None:
        us = int(current.timestamp()) * 1_000_000
        with psycopg.connect(database_url) as conn:
            conn.execute(MARK_DIRTY, ([sid], [us]))

    assert drain(one_minute, Job("rollup", rollup)) == 1
    assert rolled_up() == ([closed], 1)
    assert marks() == [(current, False, False)]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE telemetry_dirty SET marked_at = marked_at - interval '2 minutes' "
            "WHERE series_id = %s",
            (sid,),
        )
    mark_current_again()
    assert drain(one_minute, Job("rollup", rollup)) == 1
    assert rolled_up() == ([closed, current], 1)  # the open hour's reading is in no day row
    assert marks() == [(current, False, False)]  # kept, due a minute after it was taken
    mark_current_again()
    assert drain(one_minute, Job("rollup", rollup)) == 0
    assert marks() == [(current, False, False)]
    lo, hi = covered_range(closed, current + timedelta(hours=1), INTERVALS["1d"], tz)
    raw, rolled = asyncio.run(_daily_counts(one_minute, sid, tz, lo, hi))
    _forget_marks(database_url, sid)
    assert sum(n for _, n in raw) == 2
    assert rolled == raw


def _forget_marks(database_url: str, sid: int) -> None:
    """Delete the marks a test leaves on open hours (kept until they close): another test's
    drain would take them."""
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM telemetry_dirty WHERE series_id = %s", (sid,))


async def _daily_counts(
    settings: Settings, sid: int, tz: str, lo: datetime, hi: datetime
) -> tuple[list[tuple[datetime, float]], list[tuple[datetime, float]]]:
    """Readings per local day of ``[lo, hi)``, from raw readings and through the daily rollups
    (the read path: days touched by a queued hour made from raw)."""
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    common: dict[str, Any] = {
        "series_id": sid, "lo": lo, "hi": hi, "interval": INTERVALS["1d"], "tz": tz, "agg": "count"
    }  # fmt: skip
    try:
        async with AsyncSession(engine) as session:
            raw = await telemetry_repository.bucketed(session, level=None, **common)
            rolled = await telemetry_repository.bucketed(session, level="day", **common)
            return [(r[0], r[1]) for r in raw], [(r[0], r[1]) for r in rolled]
    finally:
        await engine.dispose()


def test_the_open_hours_marks_are_kept_due_an_interval_after_they_were_taken(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    """``reschedule``, the open hours' release: a mark still carrying the job's stamp, and one a
    writer marked again after the claim (stamp cleared), are kept with ``marked_at`` set to the
    claim's time and no stamp; one another job has taken since (its own stamp) is left alone."""
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    hours = [hour, hour + timedelta(hours=1), hour + timedelta(hours=2)]
    write_readings(database_url, sid, [(h, 1.0) for h in hours])
    taken = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE telemetry_dirty SET claimed_at = %s, marked_at = %s - interval '1 hour' "
            "WHERE series_id = %s",
            (taken, taken, sid),
        )
        conn.execute(MARK_DIRTY, ([sid], [int(hours[1].timestamp()) * 1_000_000]))
        other = taken + timedelta(minutes=1)
        conn.execute(
            "UPDATE telemetry_dirty SET claimed_at = %s WHERE series_id = %s AND bucket = %s",
            (other, sid, hours[2]),
        )

    async def reschedule() -> None:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            async with AsyncSession(engine) as session, session.begin():
                await rollups.reschedule(session, [Claim(sid, h, taken) for h in hours])
        finally:
            await engine.dispose()

    asyncio.run(reschedule())
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT bucket, claimed_at, marked_at FROM telemetry_dirty "
            "WHERE series_id = %s ORDER BY 1",
            (sid,),
        ).fetchall()
    _forget_marks(database_url, sid)
    assert rows == [
        (hours[0], None, taken),
        (hours[1], None, taken),
        (hours[2], other, taken - timedelta(hours=1)),
    ]


def _rollup_held_by(
    holder: psycopg.Connection[Any], settings: Settings, done: list[int]
) -> threading.Thread:
    """The rollup job draining in a thread, its recomputation held by ``holder``'s lock on
    ``rollup_hour`` (until ``holder`` rolls back); what it did goes to ``done``."""
    holder.execute("LOCK TABLE rollup_hour IN ACCESS EXCLUSIVE MODE")
    job = threading.Thread(target=lambda: done.append(drain(settings, Job("rollup", rollup))))
    job.start()
    return job


def _wait_for(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def _store_and_mark(batch: psycopg.Connection[Any], sid: int, hour: datetime) -> None:
    """What an ingest batch does with a reading 10 minutes into ``hour``: store it and mark the
    hour again, in its transaction (not committed here), never waiting longer than 2 s."""
    batch.execute("SET lock_timeout = '2s'")
    batch.execute(
        "INSERT INTO telemetry (time, series_id, value) VALUES (%s, %s, 2.0)",
        (hour + timedelta(minutes=10), sid),
    )
    batch.execute(MARK_DIRTY, ([sid], [int(hour.timestamp()) * 1_000_000]))


def test_marking_an_hour_again_rewrites_only_a_taken_mark(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    """Each ingest batch marks the hours it wrote. An hour marked and not yet taken keeps its
    row version (locked by the batch, not rewritten: no new version and WAL at every batch); an
    hour the job has taken loses the job's stamp, so its release keeps the mark."""
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    taken_hour = hour + timedelta(hours=1)
    write_readings(database_url, sid, [(hour, 1.0), (taken_hour, 1.0)])
    version = "SELECT bucket, xmin::text, ctid::text, claimed_at FROM telemetry_dirty "
    version += "WHERE series_id = %s ORDER BY 1"
    taken = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE telemetry_dirty SET claimed_at = %s WHERE series_id = %s AND bucket = %s",
            (taken, sid, taken_hour),
        )
        conn.commit()
        before = conn.execute(version, (sid,)).fetchall()
        hours_us = [int(h.timestamp()) * 1_000_000 for h in (hour, taken_hour)]
        conn.execute(MARK_DIRTY, ([sid, sid], hours_us))
        conn.commit()
        after = conn.execute(version, (sid,)).fetchall()
    _forget_marks(database_url, sid)
    assert before[0][3] is None and before[1][3] == taken
    assert after[0] == before[0]  # the same version: same xmin, same place
    assert after[1][0] == taken_hour and after[1][3] is None  # the stamp cleared
    assert after[1][1] != before[1][1]  # by a new version


def test_a_batch_marking_an_hour_being_recomputed_neither_waits_nor_loses_its_rows(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    """The job claims its hours in a transaction of its own (migration 0032). While it
    recomputes one (held here by a lock on ``rollup_hour``), an ingest batch storing a reading
    in that hour and marking it again commits at once, within a 2 s lock timeout (it used to
    wait for the recomputation); the job's release leaves that mark, so the hour is taken again
    and its rollup counts both readings."""
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    write_readings(database_url, sid, [(hour + timedelta(minutes=5), 1.0)])
    done: list[int] = []

    def claimed() -> bool:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT claimed_at IS NOT NULL FROM telemetry_dirty WHERE series_id = %s", (sid,)
            ).fetchone()
            return bool(row and row[0])

    with psycopg.connect(database_url) as holder:
        job = _rollup_held_by(holder, settings, done)
        _wait_for(claimed, "the job never claimed the hour")
        with psycopg.connect(database_url) as batch:
            _store_and_mark(batch, sid, hour)
        holder.rollback()
    job.join(60)
    assert done == [2]  # the hour twice: once as claimed, once more for the batch's mark
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count, sum FROM rollup_hour WHERE series_id = %s AND bucket = %s", (sid, hour)
        ).fetchone()
    assert row == (2, 3.0)
    assert _dirty(database_url, sid) == 0


def test_the_release_of_recomputed_hours_skips_a_mark_a_writer_holds_instead_of_waiting(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    """Two closed hours are claimed; while they are recomputed (held here by a lock on
    ``rollup_hour``), an ingest batch stores a reading in the first and marks it again, and
    stays open. The job's release deletes the second hour's mark and skips the first (the
    writer holds it) instead of waiting for the batch: the job finishes while the batch is
    still open (at 100,000 devices this wait met the writer's own in the other order:
    deadlocks). Once the batch commits, the first hour is taken again and counts both
    readings."""
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    second = first + timedelta(hours=1)
    write_readings(database_url, sid, [(first + timedelta(minutes=5), 1.0), (second, 5.0)])
    done: list[int] = []

    def marks() -> dict[datetime, bool]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT bucket, claimed_at IS NOT NULL FROM telemetry_dirty WHERE series_id = %s",
                (sid,),
            )
            return {r[0]: r[1] for r in rows}

    with psycopg.connect(database_url) as holder, psycopg.connect(database_url) as batch:
        job = _rollup_held_by(holder, settings, done)
        _wait_for(lambda: marks() == {first: True, second: True}, "the job never claimed both")
        _store_and_mark(batch, sid, first)
        holder.rollback()
        job.join(60)
        assert not job.is_alive(), "the release waited for the open batch"
        assert done == [2]
        assert marks() == {first: True}  # the batch's clearing of the stamp is not committed
        batch.commit()
    assert marks() == {first: False}
    assert drain(settings, Job("rollup", rollup)) == 1
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT bucket, count, sum FROM rollup_hour WHERE series_id = %s ORDER BY 1", (sid,)
        ).fetchall()
    assert rows == [(first, 2, 3.0), (second, 1, 5.0)]


def test_the_worker_paces_the_rollup_job_by_the_hours_still_due(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    """The worker's rollup job (``PacedRollup``) takes a batch (here of one hour) and counts the
    hours still due in the same transaction; its rest after the batch follows from that
    count: with a duty cycle of 0.01 (99 s of rest for a batch of 1 s) keeping up binds, at
    ``within * batch / due - took`` = 60 * 1 / due - 1 s (at most 19 s: three hours due)."""
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    write_readings(database_url, sid, [(hour - timedelta(hours=h), float(h)) for h in (3, 4, 5)])
    paced = settings.model_copy(
        update={
            "rollup_batch": 1,
            "rollup_duty_cycle": 0.01,
            "rollup_open_hour_interval": timedelta(minutes=1),
        }
    )
    job = PacedRollup()
    assert run_once(paced, Job("rollup", job)) == 1
    with psycopg.connect(database_url) as conn:
        row = conn.execute(  # due: closed or marked a minute ago, not claimed (or past the lease)
            "SELECT count(*) FROM telemetry_dirty "
            "WHERE (bucket + interval '1 hour' <= now() "
            "OR marked_at <= now() - interval '1 minute') "
            "AND (claimed_at IS NULL OR claimed_at <= now() - interval '10 minutes')"
        ).fetchone()
    due = 1 + int(row[0])  # type: ignore[index]
    assert due >= 3  # this series' other two hours, and whatever other tests left
    assert job.rest(1.0, paced) == pytest.approx(60 * 1 / due - 1)
    assert _dirty(database_url, sid) == 2
    back_to_back = paced.model_copy(update={"rollup_duty_cycle": 1.0})  # no count, no rest
    assert run_once(back_to_back, Job("rollup", job)) == 1
    assert job.rest(1.0, back_to_back) == 0.0
    assert _dirty(database_url, sid) == 1
