"""Exports: check the ask (range, devices, metrics, resume point), then stream the file.

A stream reads one series at a time, ``PARKTWIN_EXPORT_CHUNK_ROWS`` readings per query, each
query in a short session of its own from the API's pool: memory stays the size of one chunk
whatever the export's size, and no transaction is held open for the whole download.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import NotFound, Unprocessable
from app.core.types import IDENT_PATTERN, to_utc
from app.export import repository
from app.export.repository import Chosen
from app.export.stream import TICK, Key, Out, raw_parts, rollup_parts
from app.export.writers import csv_affixes
from app.parks.deps import ParkContext
from app.reports.files import Lang
from app.telemetry.intervals import INTERVALS, Level, bucket_floor, covered_range
from app.telemetry.service import check_range

Dataset = Literal["readings", "rollups"]
Format = Literal["csv", "parquet"]
SERIES_PAGE = 1000
MAX_SERIES = 20_000
_IDENT = re.compile(IDENT_PATTERN)


@dataclass(frozen=True)
class Resume:
    """Where a stopped export starts again: after this row (exclusive)."""

    device_id: str
    metric: str
    ts: datetime


@dataclass(frozen=True)
class Plan:
    park_id: str
    tz: str
    fmt: Format
    lang: Lang
    level: Level | None  # None: raw readings
    lo: datetime
    hi: datetime
    series: Chosen
    after: Resume | None
    chunk_rows: int


def _idents(name: str, values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    for value in values:
        if not _IDENT.fullmatch(value):
            raise Unprocessable(f"{name}: {value[:80]!r} is not an id (1-64 of A-Z a-z 0-9 _ . -)")
    return sorted(set(values))


def parse_after(value: str | None) -> Resume | None:
    """``time,device_id,metric`` (the last row received; time with its offset) or None."""
    if value is None:
        return None
    parts = value.split(",")
    try:
        if len(parts) != 3 or not all(_IDENT.fullmatch(p) for p in parts[1:]):
            raise ValueError
        ts = datetime.fromisoformat(parts[0].replace(" ", "+").replace("Z", "+00:00"))
        if ts.tzinfo is None:
            raise ValueError
        return Resume(parts[1], parts[2], to_utc(ts))
    except (ValueError, OverflowError) as exc:
        raise Unprocessable(
            "after: not `time,device_id,metric` (the last row received, its time with an "
            "offset, e.g. 2026-11-28T08:01:00Z,m1,energy_kwh)"
        ) from exc


async def plan(
    session: AsyncSession, *, ctx: ParkContext, dataset: Dataset, level: Level, fmt: Format,
    lang: Lang, start: datetime | None, end: datetime | None, device_ids: list[str] | None,
    metrics: list[str] | None, after: str | None, max_range: timedelta, chunk_rows: int,
) -> Plan:  # fmt: skip
    """The export asked for, checked: 422 for a bad range, id or resume point, 404 for a
    device that is not the park's."""
    lo, hi = check_range(start, end)
    if hi - lo > max_range:
        raise Unprocessable(f"from/to: at most {max_range} per export (split the range)")
    devices, chosen = _idents("device_id", device_ids), _idents("metric", metrics)
    if devices and (missing := await repository.missing_devices(session, ctx.park_id, devices)):
        raise NotFound(f"device(s) {', '.join(missing[:10])} not found in park {ctx.park_id!r}")
    if chosen and (unknown := set(chosen) - await repository.known_metrics(session, chosen)):
        raise Unprocessable(f"metric: {', '.join(sorted(unknown))} in no device type's catalogue")
    rollup: Level | None = None if dataset == "readings" else level
    if rollup is not None:
        lo, hi = covered_range(lo, hi, INTERVALS["1h" if rollup == "hour" else "1d"], ctx.timezone)
    resume = parse_after(after)
    series = await _chosen(session, ctx.park_id, devices, chosen)
    arrays = _arrays(series, csv_cells=fmt == "csv" and rollup is None)
    return Plan(ctx.park_id, ctx.timezone, fmt, lang, rollup, lo, hi, arrays, resume, chunk_rows)


async def _chosen(
    session: AsyncSession, park_id: str, devices: list[str] | None, metrics: list[str] | None
) -> list[Any]:
    """The chosen series in (device_id, metric) order, a page at a time; 422 past
    ``MAX_SERIES`` (before the answer starts)."""
    found: list[Any] = []
    after: tuple[str, str] | None = None
    while True:
        page = await repository.series_page(
            session, park_id=park_id, device_ids=devices, metrics=metrics, after=after,
            limit=SERIES_PAGE,
        )  # fmt: skip
        found += page
        if len(found) > MAX_SERIES:
            raise Unprocessable(f"more than {MAX_SERIES} series: choose devices or metrics")
        if len(page) < SERIES_PAGE:
            return found
        after = (str(page[-1][1]), str(page[-1][2]))


def _arrays(series: list[Any], *, csv_cells: bool) -> Chosen:
    """The series with what their rows need: CSV cells around the value, or unit and kind."""
    ends = [
        csv_affixes(str(d), str(m), str(u)) if csv_cells else (str(u), str(k))
        for _sid, d, m, u, k in series
    ]  # fmt: skip
    ids, devices, metrics = ([row[i] for row in series] for i in range(3))
    return Chosen(ids, devices, metrics, [e[0] for e in ends], [e[1] for e in ends])


def _start(plan: Plan) -> tuple[datetime, Key]:
    """Where the rows start: after the resume row, else at the range's start."""
    a = plan.after
    if a is None or a.ts < plan.lo:
        return plan.lo, (plan.lo - TICK, "", "")
    if plan.level is None:
        return a.ts, (a.ts, a.device_id, a.metric)
    interval = INTERVALS["1h" if plan.level == "hour" else "1d"]
    return bucket_floor(a.ts, interval, plan.tz), (a.ts, a.device_id, a.metric)


async def stream(maker: async_sessionmaker[AsyncSession], plan: Plan) -> AsyncIterator[bytes]:
    """The file, part by part: the header, the rows, the end (Parquet's footer)."""
    out = Out(plan.fmt, plan.level, plan.lang, plan.tz, plan.chunk_rows)
    yield out.head()
    chosen = plan.series
    lo, after = _start(plan)
    if chosen.sids and lo < plan.hi:
        parts = (
            raw_parts(maker, chosen, (lo, plan.hi), after, out)
            if plan.level is None
            else rollup_parts(maker, chosen, plan.level, (lo, plan.hi), after, out)
        )
        async for part in parts:
            if part:
                yield part
    yield await out.close()
