"""Bucket maths for series reads (pure; the SQL uses TimescaleDB's ``time_bucket`` alike).

Intervals below a day are fixed lengths aligned to UTC midnight (every one divides a day), as
``time_bucket(interval, time)`` aligns them. ``1d``, ``1w`` (Monday) and ``1mo`` are calendar
buckets in the park's timezone, as ``time_bucket(interval, time, timezone)``.
A bucketed read covers whole buckets: from the bucket holding ``from`` to the end of the
bucket holding the last instant before ``to``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Level = Literal["hour", "day"]
EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # time_bucket's default origin, a Monday


class IntervalName(enum.StrEnum):
    m1 = "1m"
    m5 = "5m"
    m10 = "10m"
    m15 = "15m"
    m30 = "30m"
    h1 = "1h"
    h2 = "2h"
    h3 = "3h"
    h6 = "6h"
    h12 = "12h"
    d1 = "1d"
    w1 = "1w"
    mo1 = "1mo"


@dataclass(frozen=True)
class Interval:
    name: str
    sql: str  # the PostgreSQL interval literal
    step: timedelta | None  # fixed length, None for calendar buckets
    local: bool  # calendar bucket in the park's timezone

    @property
    def level(self) -> Level | None:
        """The rollup a bucket of this interval is a union of, if any."""
        if self.local:
            return "day"
        assert self.step is not None
        return "hour" if self.step % timedelta(hours=1) == timedelta(0) else None


def _fixed(name: str, **kw: float) -> Interval:
    step = timedelta(**kw)
    return Interval(name, f"{int(step.total_seconds())} seconds", step, local=False)


INTERVALS: dict[str, Interval] = {
    "1m": _fixed("1m", minutes=1),
    "5m": _fixed("5m", minutes=5),
    "10m": _fixed("10m", minutes=10),
    "15m": _fixed("15m", minutes=15),
    "30m": _fixed("30m", minutes=30),
    "1h": _fixed("1h", hours=1),
    "2h": _fixed("2h", hours=2),
    "3h": _fixed("3h", hours=3),
    "6h": _fixed("6h", hours=6),
    "12h": _fixed("12h", hours=12),
    "1d": Interval("1d", "1 day", None, local=True),
    "1w": Interval("1w", "7 days", None, local=True),
    "1mo": Interval("1mo", "1 month", None, local=True),
}


def _local_floor(t: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    local = t.astimezone(zone)
    day = local.date()
    if interval.name == "1w":
        day -= timedelta(days=day.weekday())
    elif interval.name == "1mo":
        day = day.replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def bucket_floor(t: datetime, interval: Interval, tz: str) -> datetime:
    """The start (UTC) of the bucket holding ``t``."""
    if interval.step is not None:
        return t - (t - EPOCH) % interval.step
    return _local_floor(t, interval, ZoneInfo(tz))


def next_bucket(start: datetime, interval: Interval, tz: str) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    if interval.step is not None:
        return start + interval.step
    local = start.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    if interval.name == "1mo":
        year, month = divmod(local.month, 12)
        local = local.replace(year=local.year + year, month=month + 1)
    else:
        local += timedelta(days=7 if interval.name == "1w" else 1)
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def covered_range(
    start: datetime, end: datetime, interval: Interval, tz: str
) -> tuple[datetime, datetime]:
    """``[lo, hi)``: the whole buckets a read of ``[start, end)`` covers."""
    lo = bucket_floor(start, interval, tz)
    last = bucket_floor(end - timedelta(microseconds=1), interval, tz)
    return lo, next_bucket(last, interval, tz)


def count_buckets(lo: datetime, hi: datetime, interval: Interval, tz: str, cap: int) -> int:
    """The number of buckets in ``[lo, hi)``, counted up to ``cap + 1``."""
    if interval.step is not None:
        return min(cap + 1, -(-(hi - lo) // interval.step))
    count = 0
    for _ in bucket_starts(lo, hi, interval, tz):
        count += 1
        if count > cap:
            break
    return count


def bucket_starts(lo: datetime, hi: datetime, interval: Interval, tz: str) -> Iterator[datetime]:
    start = lo
    while start < hi:
        yield start
        start = next_bucket(start, interval, tz)


Fill = Literal["none", "null", "zero", "previous"]


def fill_points(
    points: Sequence[tuple[datetime, float | None]], starts: Sequence[datetime], fill: Fill
) -> list[tuple[datetime, float | None]]:
    """One point per bucket start: missing buckets as null, 0, or the previous value."""
    if fill == "none":
        return list(points)
    known = dict(points)
    filled: list[tuple[datetime, float | None]] = []
    previous: float | None = None
    for start in starts:
        value = known.get(start)
        if value is None and start not in known:
            value = 0.0 if fill == "zero" else previous if fill == "previous" else None
        filled.append((start, value))
        previous = value if value is not None else previous
    return filled
