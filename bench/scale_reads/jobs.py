"""The worker's jobs at scale, called as the worker calls them (one session, one commit per
pass): offline detection, the rollup job draining every series' dirty hours, retention.

- offline: the ingestor's coverage is set to "listening for a day", so the 3 % of devices
  seeded silent for two hours are due; one pass (up to 500 devices, alarms and events) is
  timed and rolled back, so every run sees the same state. The STALE query alone is timed too.
- rollup: every series' current and previous hour marked dirty (as the ingestor marks them,
  marks old enough to be claimed), then ``rollup`` passes until the claim comes back empty:
  dirty hours per second and readings per second recomputed. What a steady stream of
  20,000 readings/s needs: every series' open hour once per ``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL``
  (series / 60 hours per second by default) plus each closed hour once.
- retention: one pass (nothing to drop in a fresh data set: the cost of asking).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.alarms import offline_repository
from app.alarms.jobs import detect_offline
from app.core.config import Settings
from app.core.db import create_engine_for
from app.telemetry.jobs import retention, rollup

MARK = """
INSERT INTO telemetry_dirty (series_id, bucket, marked_at)
SELECT s.id, h, now() - interval '1 hour'
FROM series s, unnest(CAST(:hours AS timestamptz[])) h
ON CONFLICT DO NOTHING
"""


async def measure(db_url: str, mqtt_url: str) -> dict[str, str]:
    settings = Settings(database_url=db_url, mqtt_url=mqtt_url, log_level="WARNING")  # type: ignore[call-arg]
    engine = create_engine_for(db_url, 2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    results: dict[str, str] = {}
    try:
        async with sessions() as session:
            await session.execute(
                text(
                    "INSERT INTO ingest_coverage (client_id, covered_since, heartbeat_at) "
                    "VALUES ('bench', now() - interval '1 day', now()) ON CONFLICT (client_id) "
                    "DO UPDATE SET covered_since = excluded.covered_since, heartbeat_at = now()"
                )
            )
            await session.commit()
        async with sessions() as session:
            began = time.perf_counter()
            await offline_repository.stale_devices(session, 500, 3600, 0)
            results["offline: STALE query (500 due)"] = (
                f"{(time.perf_counter() - began) * 1000:.0f} ms"
            )
            await session.rollback()
        async with sessions() as session:
            began = time.perf_counter()
            n = await detect_offline(session, settings)
            results["offline: one pass (alarms raised)"] = (
                f"{(time.perf_counter() - began) * 1000:.0f} ms ({n})"
            )
            await session.rollback()
        results.update(await _rollups(sessions, settings))
        async with sessions() as session:
            began = time.perf_counter()
            await retention(session, settings)
            await session.commit()
            results["retention: one pass"] = f"{(time.perf_counter() - began) * 1000:.0f} ms"
    finally:
        await engine.dispose()
    return results


async def _rollups(sessions: async_sessionmaker, settings: Settings) -> dict[str, str]:  # type: ignore[type-arg]
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    async with sessions() as session:
        await session.execute(text("TRUNCATE telemetry_dirty"))
        await session.execute(text(MARK), {"hours": [hour - timedelta(hours=1), hour]})
        marked = (await session.execute(text("SELECT count(*) FROM telemetry_dirty"))).scalar_one()
        readings = (
            await session.execute(
                text("SELECT count(*) FROM telemetry WHERE time >= :lo"),
                {"lo": hour - timedelta(hours=1)},
            )
        ).scalar_one()
        series = (await session.execute(text("SELECT count(*) FROM series"))).scalar_one()
        await session.commit()
    began, done, passes = time.perf_counter(), 0, 0
    while True:
        async with sessions() as session:
            n = await rollup(session, settings)
            await session.commit()
        done, passes = done + n, passes + 1
        if n == 0:
            break
    seconds = time.perf_counter() - began
    needed = series / settings.rollup_open_hour_interval.total_seconds()
    return {
        "rollup: dirty hours drained": f"{done:,} of {marked:,} in {seconds:.1f} s ({passes - 1} passes)",
        "rollup: hours/s (needed for the open hours)": f"{done / seconds:,.0f} ({needed:,.0f})",
        "rollup: readings recomputed/s": f"{readings / seconds:,.0f}",
    }
