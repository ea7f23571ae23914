"""Rollups give the same answers as raw readings, for random data with late arrivals.

Random counters (with resets) over six days around a DST change are written, rolled up by the
worker's job, then amended with late and out-of-order readings; every aggregate at every
interval that rollups serve is then read both ways and compared. With ``drain_late`` false the
late hours are still queued, so the read path must combine rollups with raw for them.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine_for
from app.telemetry import repository
from app.telemetry.intervals import INTERVALS, covered_range
from tests.api.conftest import (
    clear_series,
    create_device,
    create_park,
    series_id,
    write_readings,
)
from tests.api.worker_util import drain_rollups

BASE = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # New York moves its clocks on 8 March
SPAN_MIN = 6 * 24 * 60
ZONES = ["Asia/Shanghai", "Asia/Kolkata", "America/New_York"]
AGGS = ["avg", "min", "max", "sum", "count", "first", "last", "delta"]
ROLLUP_INTERVALS = ["1h", "3h", "12h", "1d", "1w", "1mo"]


@pytest.fixture(scope="module")
def series_by_zone(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, int]:
    found = {}
    for zone in ZONES:
        park = create_park(client, admin, tz=zone)
        device = create_device(client, admin, park.id)
        found[zone] = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    return found


readings = st.lists(
    st.tuples(st.integers(0, SPAN_MIN - 1), st.integers(0, 40).map(float)),
    min_size=1,
    max_size=60,
    unique_by=lambda r: r[0],
)


def _keep_all(settings_: Settings) -> Settings:
    """The fixed dates here are older than the default raw retention: keep them all."""
    return settings_.model_copy(update={"raw_retention": timedelta(days=36500)})


def _at(minute: int) -> datetime:
    return BASE + timedelta(minutes=minute)


async def _both_ways(
    settings_: Settings, sid: int, zone: str, start: datetime, end: datetime
) -> list[tuple[str, str, list[tuple[datetime, float]], list[tuple[datetime, float]]]]:
    engine = create_engine_for(settings_.resolved_database_url(), pool_size=1)
    answers = []
    try:
        async with AsyncSession(engine) as session:
            for name in ROLLUP_INTERVALS:
                interval = INTERVALS[name]
                lo, hi = covered_range(start, end, interval, zone)
                for agg in AGGS:
                    common = {
                        "series_id": sid,
                        "lo": lo,
                        "hi": hi,
                        "interval": interval,
                        "tz": zone,
                        "agg": agg,
                    }
                    raw = await repository.bucketed(session, level=None, **common)
                    rolled = await repository.bucketed(session, level=interval.level, **common)
                    answers.append((name, agg, [tuple(r) for r in raw], [tuple(r) for r in rolled]))
    finally:
        await engine.dispose()
    return answers  # type: ignore[return-value]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    first=readings,
    late=readings,
    drain_late=st.booleans(),
    window=st.tuples(st.integers(0, SPAN_MIN), st.integers(1, SPAN_MIN)),
)
def test_rollups_equal_raw(
    series_by_zone: dict[str, int],
    database_url: str,
    settings: Settings,
    zone: str,
    first: list[tuple[int, float]],
    late: list[tuple[int, float]],
    drain_late: bool,
    window: tuple[int, int],
) -> None:
    sid = series_by_zone[zone]
    clear_series(database_url, [sid])
    write_readings(database_url, sid, [(_at(m), v) for m, v in first])
    drain_rollups(_keep_all(settings))
    write_readings(database_url, sid, [(_at(m), v) for m, v in late])  # first value wins
    if drain_late:
        drain_rollups(_keep_all(settings))
    start = _at(window[0] - 24 * 60)
    end = start + timedelta(minutes=window[1])
    for name, agg, raw, rolled in asyncio.run(_both_ways(settings, sid, zone, start, end)):
        assert [t for t, _ in raw] == [t for t, _ in rolled], (name, agg)
        for (t, a), (_, b) in zip(raw, rolled, strict=True):
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (name, agg, t, a, b)


def test_the_worker_empties_the_queue_and_fills_both_rollups(
    series_by_zone: dict[str, int], database_url: str, settings: Settings
) -> None:
    sid = series_by_zone["Asia/Shanghai"]
    clear_series(database_url, [sid])
    write_readings(database_url, sid, [(_at(0), 1.0), (_at(90), 2.0), (_at(16 * 60), 3.0)])
    assert drain_rollups(_keep_all(settings)) >= 3
    with psycopg.connect(database_url) as conn:
        dirty = conn.execute(
            "SELECT count(*) FROM telemetry_dirty WHERE series_id = %s", (sid,)
        ).fetchone()
        hours = conn.execute(
            "SELECT bucket, count, first_value, last_value FROM rollup_hour "
            "WHERE series_id = %s ORDER BY bucket",
            (sid,),
        ).fetchall()
        days = conn.execute(
            "SELECT bucket, count FROM rollup_day WHERE series_id = %s ORDER BY bucket", (sid,)
        ).fetchall()
    assert dirty == (0,)
    assert [(h[0], h[1]) for h in hours] == [(_at(0), 1), (_at(60), 1), (_at(16 * 60), 1)]
    # Shanghai days start at 16:00 UTC: 00:00 and 01:30 on the 4th/5th local day, 16:00 next.
    assert days == [(_at(-8 * 60), 2), (_at(16 * 60), 1)]


@pytest.mark.parametrize(
    ("raw", "hourly", "daily", "error"),
    [
        (800, 730, 3650, "PARKTWIN_HOURLY_ROLLUP_RETENTION must be at least"),  # 730 < 800 days
        (90, 730, 100, "PARKTWIN_DAILY_ROLLUP_RETENTION must be at least"),  # 100 < 90 + 31
        (90, 90, 121, None),  # the shortest the rollups may be kept with 90 days of raw data
    ],
)
def test_rollups_are_kept_longer_than_the_readings_they_are_made_of(
    raw: int, hourly: int, daily: int, error: str | None
) -> None:
    """A queued day is made from its clean hours' rows and a month from its days: a setting
    that drops them before the raw readings they stand for is refused at start."""
    retentions = {
        "raw_retention": timedelta(days=raw),
        "hourly_rollup_retention": timedelta(days=hourly),
        "daily_rollup_retention": timedelta(days=daily),
    }
    if error is None:
        assert Settings(**retentions).daily_rollup_retention == timedelta(days=daily)
    else:
        with pytest.raises(ValidationError, match=error):
            Settings(**retentions)
