"""SQL of the read path: latest values, raw and bucketed series, the rejection log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.fetch import fetch_all, fetch_one
from app.core.sqlcompose import Fixed, compose, statement
from app.telemetry.consumption import DELTA, counter_buckets, last_before
from app.telemetry.intervals import Interval, Level
from app.telemetry.sql import STEP

Agg = Literal["avg", "min", "max", "sum", "count", "first", "last", "delta"]


UTC_TEXT = (
    "CASE WHEN extract(microseconds FROM {t})::int % 1000000 = 0 "
    "THEN to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "ELSE to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END"
)
"""RFC 3339 UTC text of a timestamptz, as the API renders times elsewhere."""

DEVICES = Fixed("device d")
"""Every device of the park (``d``), the filters choose."""

WANTED = Fixed(
    "(SELECT DISTINCT unnest(CAST(:devices AS text[])) AS id) want"
    " CROSS JOIN LATERAL"
    " (SELECT * FROM device d WHERE d.park_id = :park AND d.id = want.id OFFSET 0) d"
)
"""The devices asked by id (duplicates once) as ``d``, each looked up by the primary key. A
plain join (``want.id = d.id``), like ``d.id = ANY(:devices)`` before it, let the planner hash
the ids and scan the park's every device: at 100,000 devices 73 ms of a 1,000-tile wall's 95
under the live load (EXPLAIN ANALYZE, bench/park100k); ``OFFSET 0`` keeps the lookup from
being flattened into that join, so it is 1,000 index probes whatever the park's size."""

DEVICE_FILTERS = Fixed(
    "AND (CAST(:type AS text) IS NULL OR d.type = :type)"
    " AND (CAST(:domain AS text) IS NULL OR t.domain = :domain)"
    " AND (CAST(:building_id AS text) IS NULL OR d.building_id = :building_id)"
    " AND (CAST(:enterprise_id AS text) IS NULL OR d.enterprise_id = :enterprise_id)"
    " AND (CAST(:space_id AS text) IS NULL OR d.space_id = :space_id)"
    " AND (CAST(:parent_meter_id AS text) IS NULL OR d.parent_meter_id = :parent_meter_id)"
    " AND (CAST(:status AS text) IS NULL OR d.status = :status)"
)
"""The device filters of the bulk latest reads (``d`` a device joined to its type ``t``)."""
LV_TIME = Fixed(UTC_TEXT.format(t="lv.time"))

# One join and GROUP BY rather than a LATERAL subquery per device: about twice as fast for a
# wall of 1,000 devices (measured in bench/api). The metric filter sits in the join, so a
# device without the chosen metrics still answers with {}. ``{devices}``: DEVICES or WANTED.
_BULK_LATEST = """
SELECT coalesce(json_agg(json_build_object('device_id', id, 'values', values) ORDER BY id),
                '[]')::text
FROM (
    SELECT d.id,
           coalesce(json_object_agg(
               s.metric,
               json_build_object('ts', {ts}, 'value', lv.value)
               ORDER BY s.metric
           ) FILTER (WHERE lv.series_id IS NOT NULL), '{{}}') AS values
    FROM {devices}
    JOIN device_type t ON t.type = d.type
    LEFT JOIN series s ON s.park_id = d.park_id AND s.device_id = d.id
        AND (CAST(:metrics AS text[]) IS NULL OR s.metric = ANY(:metrics))
    LEFT JOIN latest_value lv ON lv.series_id = s.id
    WHERE d.park_id = :park
      {filters}
    GROUP BY d.id
) per_device
"""
BULK_LATEST = statement(_BULK_LATEST, ts=LV_TIME, devices=DEVICES, filters=DEVICE_FILTERS)
BULK_LATEST_WANTED = statement(_BULK_LATEST, ts=LV_TIME, devices=WANTED, filters=DEVICE_FILTERS)


# A page of the same: the devices first (keyset on id, ``LIMIT``), then their series and
# latest values, so a page of 1,000 out of 100,000 devices touches 1,000 devices' rows only.
# The series by a LATERAL lookup per device, kept from being flattened by ``OFFSET 0``:
# joined plainly, PostgreSQL hashed the page and scanned every series of the park (200,000
# at 100,000 devices: 100 ms of a page's 130 under load; 30 ms this way).
_BULK_LATEST_PAGE = """
SELECT d.id,
       json_build_object('device_id', d.id, 'values', coalesce(json_object_agg(
           s.metric,
           json_build_object('ts', {ts}, 'value', lv.value)
           ORDER BY s.metric
       ) FILTER (WHERE lv.series_id IS NOT NULL), '{{}}'))::text AS item
FROM (
    SELECT d.park_id, d.id FROM {devices}
    JOIN device_type t ON t.type = d.type
    WHERE d.park_id = :park
      AND (CAST(:after AS text) IS NULL OR d.id > :after)
      {filters}
    ORDER BY d.id
    LIMIT :limit
) d
LEFT JOIN LATERAL (
    SELECT s.id, s.metric FROM series s WHERE s.park_id = d.park_id AND s.device_id = d.id
      AND (CAST(:metrics AS text[]) IS NULL OR s.metric = ANY(:metrics))
    OFFSET 0
) s ON true
LEFT JOIN latest_value lv ON lv.series_id = s.id
GROUP BY d.id
ORDER BY d.id
"""
BULK_LATEST_PAGE = statement(_BULK_LATEST_PAGE, ts=LV_TIME, devices=DEVICES, filters=DEVICE_FILTERS)
BULK_LATEST_PAGE_WANTED = statement(
    _BULK_LATEST_PAGE, ts=LV_TIME, devices=WANTED, filters=DEVICE_FILTERS
)


async def bulk_latest_page(
    session: AsyncSession,
    park_id: str,
    device_ids: list[str] | None,
    metrics: list[str] | None,
    filters: dict[str, Any],
    after: str | None,
    limit: int,
) -> Sequence[Any]:
    """``(device_id, item JSON text)`` of up to ``limit`` devices after ``after``, in id order."""
    params = {"park": park_id, "devices": device_ids, "metrics": metrics, "after": after}
    query = BULK_LATEST_PAGE if device_ids is None else BULK_LATEST_PAGE_WANTED
    result = await session.execute(query, {**params, **filters, "limit": limit})
    return result.all()


async def bulk_latest(
    session: AsyncSession,
    park_id: str,
    device_ids: list[str] | None,
    metrics: list[str] | None,
    filters: dict[str, Any],
) -> str:
    """The JSON array of ``{"device_id", "values"}`` items, built by PostgreSQL in one go
    (a wall of 1,000 tiles is one row, not 2,000 rows to turn into objects)."""
    query = BULK_LATEST if device_ids is None else BULK_LATEST_WANTED
    result = await session.execute(
        query, {"park": park_id, "devices": device_ids, "metrics": metrics, **filters}
    )
    return str(result.scalar_one())


async def series_info(
    session: AsyncSession, park_id: str, device_id: str, metric: str
) -> RowMapping | None:
    """The metric's catalogue entry for the device's type, with its series id (None if no data)."""
    return await fetch_one(
        session,
        text(
            "SELECT s.id AS series_id, m.unit, m.kind FROM device d "
            "JOIN device_type_metric m ON m.device_type = d.type AND m.name = :metric "
            "LEFT JOIN series s ON s.park_id = d.park_id AND s.device_id = d.id "
            "AND s.metric = m.name WHERE d.park_id = :park AND d.id = :device"
        ),
        {"park": park_id, "device": device_id, "metric": metric},
    )


async def raw_points(
    session: AsyncSession, series_id: int, start: datetime, end: datetime, limit: int
) -> Sequence[Any]:
    result = await session.execute(
        text(
            "SELECT time, value FROM telemetry WHERE series_id = :sid "
            "AND time >= :start AND time < :end ORDER BY time LIMIT :limit"
        ),
        {"sid": series_id, "start": start, "end": end, "limit": limit},
    )
    return result.all()


PREV = compose("prev AS (SELECT {before} AS value)", before=Fixed(last_before(":sid", ":lo")))
"""The last reading before the range: the baseline of the raw read's first ``delta``."""

RAW_AGG: dict[str, str] = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::float8",
    "first": "first(value, time)",
    "last": "last(value, time)",
    "delta": f"sum({STEP.format(before='before', value='value')})",
}

ROLLUP_AGG: dict[str, str] = {
    "avg": "sum(sum) / sum(count)",
    "min": "min(min)",
    "max": "max(max)",
    "sum": "sum(sum)",
    "count": "sum(count)::float8",
    "first": "first(first_value, first_time)",
    "last": "last(last_value, last_time)",
    "delta": f"sum({DELTA})",
}


def _bucket(interval: Interval, column: str) -> str:
    if interval.local:
        return f"time_bucket(CAST(:step AS interval), {column}, CAST(:tz AS text))"
    return f"time_bucket(CAST(:step AS interval), {column})"


def _raw_sql(interval: Interval, agg: Agg) -> str:
    return compose(
        """WITH {prev}, r AS (
    SELECT time, value, lag(value, 1, (SELECT value FROM prev)) OVER (ORDER BY time) AS before
    FROM telemetry WHERE series_id = :sid AND time >= :lo AND time < :hi)
SELECT {bucket} AS ts, {agg} AS value FROM r GROUP BY 1 ORDER BY 1""",
        prev=Fixed(PREV),
        bucket=Fixed(_bucket(interval, "time")),
        agg=Fixed(RAW_AGG[agg]),
    )


def _rollup_sql(interval: Interval, agg: Agg, level: Level) -> str:
    """Rollup rows of the range, with the buckets still queued for the worker made from raw."""
    # The one series as a subquery, not a CTE: PostgreSQL pulls it up, so every lookup is
    # on ``series_id = :sid`` (the indexes' first column), as a hand-written query would be.
    keys = "(SELECT CAST(:sid AS integer) AS series_id)"
    return compose(
        """WITH {buckets}
SELECT {bucket} AS ts, {agg} AS value
FROM r GROUP BY 1 ORDER BY 1""",
        buckets=Fixed(counter_buckets("r", keys=keys, level=level)),
        bucket=Fixed(_bucket(interval, "bucket")),
        agg=Fixed(ROLLUP_AGG[agg]),
    )


async def bucketed(
    session: AsyncSession,
    *,
    series_id: int,
    lo: datetime,
    hi: datetime,
    interval: Interval,
    tz: str,
    agg: Agg,
    level: Level | None,
) -> Sequence[Any]:
    """``(bucket start, value)`` per non-empty bucket of ``[lo, hi)``, from raw or a rollup."""
    statement = _raw_sql(interval, agg) if level is None else _rollup_sql(interval, agg, level)
    params = {"sid": series_id, "lo": lo, "hi": hi, "step": interval.sql, "tz": tz}
    if ":tz" not in statement:
        params.pop("tz")
    return (await session.execute(text(statement), params)).all()


async def rejections(
    session: AsyncSession,
    *,
    park_id: str | None,
    reason: str | None,
    since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT id, received_at, park_id, device_id, topic, reason, detail, payload, "
            "payload_size FROM ingest_rejection "
            "WHERE (CAST(:park AS text) IS NULL OR park_id = :park) "
            "AND (CAST(:reason AS text) IS NULL OR reason = :reason) "
            "AND (CAST(:since AS timestamptz) IS NULL OR received_at >= :since) "
            "AND (CAST(:after_at AS timestamptz) IS NULL "
            "OR (received_at, id) < (:after_at, :after_id)) "
            "ORDER BY received_at DESC, id DESC LIMIT :limit"
        ),
        {
            "park": park_id,
            "reason": reason,
            "since": since,
            "after_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    )


# The oldest rejections first, through ingest_rejection_received_idx (read backwards), at most
# :limit per call so that one transaction stays small however far behind retention is.
PURGE_REJECTIONS = """
DELETE FROM ingest_rejection WHERE id IN (
    SELECT id FROM ingest_rejection WHERE received_at < now() - CAST(:age AS interval)
    ORDER BY received_at LIMIT :limit
)
"""


async def purge_rejections(session: AsyncSession, *, older_than: timedelta, limit: int) -> int:
    """Delete up to ``limit`` rejections received more than ``older_than`` ago; their count."""
    result = await session.execute(text(PURGE_REJECTIONS), {"age": older_than, "limit": limit})
    return int(getattr(result, "rowcount", 0) or 0)


LOAD_DEVICES = (
    "(d.type = 'pv_inverter' OR (d.type = 'electricity_meter' AND d.parent_meter_id IS NULL))"
)
"""The devices (``d``) of the park's load, its root electricity meters (no parent meter, so
each kWh counts once), and of its PV output, every inverter."""

PARK_LOAD_KEYS = Fixed(
    """keys AS (
    SELECT s.id AS series_id, d.id AS device_id, d.name, d.type = 'pv_inverter' AS pv
    FROM device d
    JOIN series s ON s.park_id = d.park_id AND s.device_id = d.id AND s.metric = 'energy_kwh'
    WHERE d.park_id = :park AND {devices}
)"""
).format(devices=Fixed(LOAD_DEVICES))
"""The park's load and PV output: those devices' energy counters."""


def _park_load_sql(level: Level) -> str:
    return compose(
        """WITH {keys}, {buckets}, per AS (
    SELECT b.series_id, b.bucket, {delta} AS kwh FROM load b
)
SELECT NULL AS device_id, NULL AS name, p.bucket AS ts,
       sum(p.kwh) FILTER (WHERE NOT k.pv) AS load_kwh, sum(p.kwh) FILTER (WHERE k.pv) AS pv_kwh
FROM per p JOIN keys k ON k.series_id = p.series_id
GROUP BY p.bucket
UNION ALL
SELECT k.device_id, k.name, {day} AS ts, sum(p.kwh), NULL
FROM per p JOIN keys k ON k.series_id = p.series_id
WHERE NOT k.pv
GROUP BY 1, 2, 3
ORDER BY 1 NULLS FIRST, 3""",
        keys=PARK_LOAD_KEYS,
        buckets=Fixed(counter_buckets("load", keys="keys", level=level)),
        delta=Fixed(DELTA),
        day=Fixed("time_bucket('1 day', p.bucket, CAST(:tz AS text))"),
    )


PARK_POWER = statement(
    """SELECT d.type = 'pv_inverter' AS pv,
       sum(lv.value) FILTER (WHERE d.status <> 'offline') AS kw,
       count(*) FILTER (WHERE d.status <> 'offline') AS devices,
       count(*) FILTER (WHERE d.status = 'offline') AS offline,
       max(lv.time) FILTER (WHERE d.status <> 'offline') AS newest
FROM device d
JOIN series s ON s.park_id = d.park_id AND s.device_id = d.id AND s.metric = 'power_kw'
JOIN latest_value lv ON lv.series_id = s.id
WHERE d.park_id = :park AND {devices}
GROUP BY 1""",
    devices=Fixed(LOAD_DEVICES),
)


async def park_power(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    """Per side (``pv`` false: the load, true: PV output) the newest ``power_kw`` summed over
    the devices not offline, their count, the offline ones' count and the newest reading's
    time; a side with no device reporting power has no row."""
    return await fetch_all(session, PARK_POWER, {"park": park_id})


async def park_load(
    session: AsyncSession, *, park_id: str, lo: datetime, hi: datetime, tz: str, level: Level
) -> Sequence[RowMapping]:
    """Per bucket of ``level`` in ``[lo, hi)`` with readings: the park's load and PV output in
    kWh (``device_id`` NULL); then per root meter and park-local day, its kWh. The counters'
    consumption is the owner's (``counter_buckets``, ``DELTA``)."""
    params = {"park": park_id, "lo": lo, "hi": hi, "tz": tz}
    return await fetch_all(session, _park_load_sql(level), params)
