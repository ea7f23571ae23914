"""Bucket maths (app/telemetry/intervals.py) against hand-computed answers and against
TimescaleDB's own ``time_bucket``, which the SQL side uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.telemetry.intervals import (
    INTERVALS,
    bucket_floor,
    bucket_starts,
    count_buckets,
    covered_range,
    fill_points,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_month_buckets_in_shanghai() -> None:
    month = INTERVALS["1mo"]
    # 1 November 00:00 in Shanghai is 31 October 16:00 UTC.
    assert bucket_floor(utc("2026-10-31T16:00:00Z"), month, "Asia/Shanghai") == utc(
        "2026-10-31T16:00:00Z"
    )
    assert bucket_floor(utc("2026-10-31T15:59:59Z"), month, "Asia/Shanghai") == utc(
        "2026-09-30T16:00:00Z"
    )
    lo, hi = covered_range(
        utc("2026-01-15T00:00:00Z"), utc("2026-03-02T00:00:00Z"), month, "Asia/Shanghai"
    )
    assert list(bucket_starts(lo, hi, month, "Asia/Shanghai")) == [
        utc("2025-12-31T16:00:00Z"),
        utc("2026-01-31T16:00:00Z"),
        utc("2026-02-28T16:00:00Z"),
    ]


def test_days_across_a_dst_change_are_23_and_25_hours() -> None:
    day, zone = INTERVALS["1d"], "America/New_York"
    starts = list(
        bucket_starts(utc("2026-03-07T05:00:00Z"), utc("2026-03-10T04:00:00Z"), day, zone)
    )
    assert [b - a for a, b in itertools.pairwise(starts)] == [
        timedelta(hours=24),
        timedelta(hours=23),
    ]
    fall = list(bucket_starts(utc("2026-10-31T04:00:00Z"), utc("2026-11-03T05:00:00Z"), day, zone))
    assert fall[2] - fall[1] == timedelta(hours=25)


def test_fixed_buckets_and_counts() -> None:
    five = INTERVALS["5m"]
    assert bucket_floor(utc("2026-11-28T10:07:30Z"), five, "Asia/Shanghai") == utc(
        "2026-11-28T10:05:00Z"
    )
    lo, hi = covered_range(utc("2026-11-28T10:07:30Z"), utc("2026-11-28T10:20:00Z"), five, "UTC")
    assert (lo, hi) == (utc("2026-11-28T10:05:00Z"), utc("2026-11-28T10:20:00Z"))
    assert count_buckets(lo, hi, five, "UTC", 10) == 3
    assert count_buckets(lo, hi + timedelta(days=1), five, "UTC", 10) == 11


def test_fill() -> None:
    a, b, c = utc("2026-01-01T00:00:00Z"), utc("2026-01-01T01:00:00Z"), utc("2026-01-01T02:00:00Z")
    points = [(a, 1.0), (c, 3.0)]
    assert fill_points(points, [a, b, c], "none") == points
    assert fill_points(points, [a, b, c], "null") == [(a, 1.0), (b, None), (c, 3.0)]
    assert fill_points(points, [a, b, c], "zero") == [(a, 1.0), (b, 0.0), (c, 3.0)]
    assert fill_points(points, [a, b, c], "previous") == [(a, 1.0), (b, 1.0), (c, 3.0)]


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET timezone = 'UTC'")
        yield conn


@settings(max_examples=200, deadline=None)
@given(
    t=moments,
    name=st.sampled_from(sorted(INTERVALS)),
    zone=st.sampled_from(["Asia/Shanghai", "Asia/Kolkata", "America/New_York", "UTC"]),
)
def test_bucket_floor_is_time_bucket(
    conn: psycopg.Connection[tuple[Any, ...]], t: datetime, name: str, zone: str
) -> None:
    interval = INTERVALS[name]
    if interval.local:
        row = conn.execute(
            "SELECT time_bucket(%s::interval, %s::timestamptz, %s)", (interval.sql, t, zone)
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT time_bucket(%s::interval, %s::timestamptz)", (interval.sql, t)
        ).fetchone()
    assert row is not None
    assert bucket_floor(t, interval, zone) == row[0]
