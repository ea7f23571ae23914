"""SQL of the exports: the chosen series page by page, then their readings or rollup rows
chunk by chunk in the order of ``(time, device_id, metric)`` (ids compared byte by byte),
each chunk a short query of its own: no transaction is held open for the whole download, so
a long export never holds back vacuum nor meets the statement timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import Fixed, compose, statement
from app.telemetry.consumption import DELTA, counter_buckets
from app.telemetry.intervals import Level

SERIES = """
SELECT s.id, s.device_id, s.metric, m.unit, m.kind
FROM series s
JOIN device d ON d.park_id = s.park_id AND d.id = s.device_id
JOIN device_type_metric m ON m.device_type = d.type AND m.name = s.metric
WHERE s.park_id = :park
  AND (CAST(:devices AS text[]) IS NULL OR s.device_id = ANY(:devices))
  AND (CAST(:metrics AS text[]) IS NULL OR s.metric = ANY(:metrics))
  AND (CAST(:after_device AS text) IS NULL
       OR (s.device_id COLLATE "C", s.metric COLLATE "C") > (:after_device, :after_metric))
ORDER BY s.device_id COLLATE "C", s.metric COLLATE "C"
LIMIT :limit
"""


async def series_page(
    session: AsyncSession,
    *,
    park_id: str,
    device_ids: list[str] | None,
    metrics: list[str] | None,
    after: tuple[str, str] | None,
    limit: int,
) -> Sequence[Any]:
    """``(series_id, device_id, metric, unit, kind)`` of the chosen series after ``after``,
    at most ``limit``."""
    result = await session.execute(
        text(SERIES),
        {
            "park": park_id,
            "devices": device_ids,
            "metrics": metrics,
            "after_device": after[0] if after else None,
            "after_metric": after[1] if after else None,
            "limit": limit,
        },
    )
    return result.all()


async def missing_devices(session: AsyncSession, park_id: str, device_ids: list[str]) -> list[str]:
    """The ids among ``device_ids`` that are not devices of the park."""
    result = await session.execute(
        text(
            "SELECT x FROM unnest(CAST(:ids AS text[])) x WHERE NOT EXISTS "
            "(SELECT 1 FROM device d WHERE d.park_id = :park AND d.id = x) ORDER BY x"
        ),
        {"ids": device_ids, "park": park_id},
    )
    return [str(r[0]) for r in result]


async def known_metrics(session: AsyncSession, metrics: list[str]) -> set[str]:
    result = await session.execute(
        text("SELECT DISTINCT name FROM device_type_metric WHERE name = ANY(:m)"), {"m": metrics}
    )
    return {str(r[0]) for r in result}


LOCAL_TEXT = "CAST(({t} AT TIME ZONE CAST(:tz AS text)) AS text)"
"""``YYYY-MM-DD HH:MM:SS`` in the zone ``:tz`` (a fraction only when there is one), by
PostgreSQL's own timestamp output: Excel reads it as a time; seconds kept for raw readings."""

UTC_ISO = "replace(CAST(({t} AT TIME ZONE 'UTC') AS text), ' ', 'T') || 'Z'"
"""RFC 3339 UTC (``2026-11-28T00:02:30.5Z``), the same output function made machine-readable."""

RAW = """
SELECT t.time, k.device_id, k.metric, {select}
FROM telemetry t
JOIN unnest(CAST(:sids AS integer[]), CAST(:devices AS text[]), CAST(:metrics AS text[]),
            CAST(:heads AS text[]), CAST(:tails AS text[]))
     AS k(sid, device_id, metric, head, tail) ON k.sid = t.series_id
WHERE t.series_id = ANY(:sids) AND t.time >= :lo AND t.time < :hi
  AND (t.time, k.device_id COLLATE "C", k.metric COLLATE "C") > (:after_t, :after_d, :after_m)
ORDER BY t.time, k.device_id COLLATE "C", k.metric COLLATE "C"
LIMIT :limit
"""
CSV_LINE = "{ts} || k.head || CAST(t.value AS text) || k.tail"
RAW_SQL = {
    "zh": statement(RAW, select=Fixed(CSV_LINE.format(ts=LOCAL_TEXT.format(t="t.time")))),
    "en": statement(RAW, select=Fixed(CSV_LINE.format(ts=UTC_ISO.format(t="t.time")))),
    "parquet": statement(
        RAW, select=Fixed("CAST(extract(epoch FROM t.time) * 1000000 AS bigint), t.value, k.head")
    ),
}


NO_INDEX_WALK = text("SET LOCAL enable_indexscan = off")


@dataclass(frozen=True)
class Chosen:
    """The series of an export as parallel arrays, with what each row of a series starts and
    ends with (CSV: its cells before the time and after the value; Parquet: its unit)."""

    sids: list[int]
    devices: list[str]
    metrics: list[str]
    heads: list[str]
    tails: list[str]


async def raw_chunk(
    session: AsyncSession, *, chosen: Chosen, lo: datetime, hi: datetime,
    after: tuple[datetime, str, str], limit: int, shape: str, tz: str,
) -> Sequence[Any]:  # fmt: skip
    """Up to ``limit`` readings of ``[lo, hi)`` after the row ``after`` (time, device,
    metric), in that order: ``(time, device_id, metric, csv line)`` (``shape`` ``zh`` or
    ``en``) or ``(time, device_id, metric, epoch µs, value, unit)`` (``parquet``)."""
    params = {
        "sids": chosen.sids, "devices": chosen.devices, "metrics": chosen.metrics,
        "heads": chosen.heads, "tails": chosen.tails, "lo": lo, "hi": hi,
        "after_t": after[0], "after_d": after[1], "after_m": after[2], "limit": limit,
    }  # fmt: skip
    if shape == "zh":
        params["tz"] = tz
    # The planner prefers walking (series_id, time) in series order and merge-joining: one
    # heap page per reading, as rows of a minute for all series share pages. A bitmap scan of
    # the same index reads each page once (a tenth of the pages and half the time for 1,000
    # series, bench/export). SET LOCAL: for this chunk's transaction only.
    await session.execute(NO_INDEX_WALK)
    return (await session.execute(RAW_SQL[shape], params)).all()


def _rollup_sql(level: Level) -> str:
    keys = "(SELECT unnest(CAST(:sids AS integer[])) AS series_id)"
    return compose(
        """WITH {buckets}
SELECT r.bucket, k.device_id, k.metric, r.count, r.sum / r.count, r.min, r.max,
       r.first_value, r.last_value, CASE WHEN k.kind = 'counter' THEN {delta} END, k.unit
FROM r
JOIN unnest(CAST(:sids AS integer[]), CAST(:devices AS text[]), CAST(:metrics AS text[]),
            CAST(:heads AS text[]), CAST(:tails AS text[]))
     AS k(sid, device_id, metric, unit, kind) ON k.sid = r.series_id
WHERE (r.bucket, k.device_id COLLATE "C", k.metric COLLATE "C") > (:after_t, :after_d, :after_m)
ORDER BY r.bucket, k.device_id COLLATE "C", k.metric COLLATE "C"
""",
        buckets=Fixed(counter_buckets("r", keys=keys, level=level)),
        delta=Fixed(DELTA),
    )


ROLLUP_SQL = {level: text(_rollup_sql(level)) for level in ("hour", "day")}


async def rollup_window(
    session: AsyncSession, *, chosen: Chosen, level: Level, lo: datetime, hi: datetime,
    after: tuple[datetime, str, str], tz: str,
) -> Sequence[Any]:  # fmt: skip
    """The rollup rows of the buckets ``[lo, hi)`` of every chosen series (``chosen.heads``
    their units, ``chosen.tails`` their kinds) after the row ``after``, as the read API
    computes them (buckets still queued for the worker made from raw readings):
    ``(bucket, device_id, metric, count, avg, min, max, first, last, delta, unit)``."""
    params = {
        "sids": chosen.sids, "devices": chosen.devices, "metrics": chosen.metrics,
        "heads": chosen.heads, "tails": chosen.tails, "lo": lo, "hi": hi, "tz": tz,
        "after_t": after[0], "after_d": after[1], "after_m": after[2],
    }  # fmt: skip
    return (await session.execute(ROLLUP_SQL[level], params)).all()
