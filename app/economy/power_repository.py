"""SQL of 电力看经济: each enterprise's daily kWh from its electricity meters.

An enterprise's kWh is the counter ``delta`` of the ``energy_kwh`` series of its top-level
meters (an ``electricity_meter`` linked to it whose parent meter, if any, is not its own: a
sub-meter under its own main meter would count twice). The delta per park-local day is built
exactly as the read API's ``agg=delta`` over ``rollup_day`` (app/telemetry/repository.py): the
day's ``increase`` plus the step from the previous day's last reading to its first, a drop
meaning a meter reset; days still queued for the rollup worker are made from raw readings
with the worker's own SQL. All of it in one statement, aggregated in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.economy import gb4754
from app.telemetry.sql import DAY_END, RAW_ROLLUP, STEP

METERS = """meters AS (
    SELECT d.enterprise_id, s.id AS sid
    FROM device d
    JOIN series s ON s.park_id = d.park_id AND s.device_id = d.id AND s.metric = 'energy_kwh'
    LEFT JOIN device p ON p.park_id = d.park_id AND p.id = d.parent_meter_id
    WHERE d.park_id = :park AND d.type = 'electricity_meter' AND d.enterprise_id IS NOT NULL
      AND (p.id IS NULL OR p.enterprise_id IS DISTINCT FROM d.enterprise_id)
)"""

TZ = "CAST(:tz AS text)"


def daily_ctes(tag: str) -> str:
    """CTEs ending in ``{tag}_daily (enterprise_id, day, kwh)`` for ``[:{tag}_lo, :{tag}_hi)``
    (park-local midnights); needs ``meters``."""
    lo, hi = f":{tag}_lo", f":{tag}_hi"
    fresh = RAW_ROLLUP.format(keys=f"{tag}_dirty", lo=lo, hi=hi)
    step = STEP.format(before="before", value="first_value")
    return f"""{tag}_dirty AS (
    SELECT DISTINCT d.series_id, v.b AS bucket, {DAY_END.format(b="v.b", tz=TZ)} AS bucket_end
    FROM telemetry_dirty d JOIN meters m ON m.sid = d.series_id
    CROSS JOIN LATERAL (VALUES
        (time_bucket('1 day', d.bucket, {TZ})),
        (time_bucket('1 day', d.bucket + interval '1 hour' - interval '1 microsecond', {TZ}))
    ) v(b)
    WHERE d.bucket >= {lo} - interval '1 day' AND d.bucket < {hi} AND v.b >= {lo} AND v.b < {hi}
), {tag}_rows AS (
    SELECT r.series_id, r.bucket, r.first_value, r.last_value, r.increase
    FROM rollup_day r JOIN meters m ON m.sid = r.series_id
    WHERE r.bucket >= {lo} AND r.bucket < {hi}
      AND NOT EXISTS (SELECT 1 FROM {tag}_dirty k
                      WHERE k.series_id = r.series_id AND k.bucket = r.bucket)
    UNION ALL
    SELECT series_id, bucket, first_value, last_value, increase FROM ({fresh}) fresh
), {tag}_prev AS (
    SELECT m.sid, coalesce(
        (SELECT value FROM telemetry WHERE series_id = m.sid AND time < {lo}
         ORDER BY time DESC LIMIT 1),
        (SELECT last_value FROM rollup_hour WHERE series_id = m.sid AND bucket < {lo}
         AND last_time < {lo} ORDER BY bucket DESC LIMIT 1),
        (SELECT last_value FROM rollup_day WHERE series_id = m.sid AND bucket < {lo}
         AND last_time < {lo} ORDER BY bucket DESC LIMIT 1)) AS value
    FROM meters m
), {tag}_steps AS (
    SELECT r.series_id, r.bucket, r.increase + {step} AS kwh
    FROM (SELECT x.*, lag(x.last_value, 1, p.value)
                          OVER (PARTITION BY x.series_id ORDER BY x.bucket) AS before
          FROM {tag}_rows x JOIN {tag}_prev p ON p.sid = x.series_id) r
), {tag}_daily AS (
    SELECT m.enterprise_id, (s.bucket AT TIME ZONE {TZ})::date AS day, sum(s.kwh) AS kwh
    FROM {tag}_steps s JOIN meters m ON m.sid = s.series_id
    GROUP BY 1, 2
)"""  # noqa: S608 (fixed SQL: tag is a literal; values are bound parameters)


SECTION = """CASE
    WHEN e.industry_code ~ '^[A-T]' THEN left(e.industry_code, 1)
    WHEN e.industry_code ~ '^[0-9]{2}' THEN (
        SELECT s.letter FROM unnest(CAST(:sec_lo AS int[]), CAST(:sec_hi AS int[]),
                                    CAST(:sec_letter AS text[])) AS s(lo, hi, letter)
        WHERE left(e.industry_code, 2)::int BETWEEN s.lo AND s.hi)
END"""
"""The GB/T 4754 section of enterprise ``e`` (table in app/economy/gb4754.py)."""


POWER_INDEX = f"""
WITH {METERS}, {daily_ctes("b")}, {daily_ctes("p")},
base AS (SELECT enterprise_id, sum(kwh) / :base_days AS baseline FROM b_daily GROUP BY 1),
ent AS (
    SELECT e.id AS enterprise_id, {SECTION} AS section, coalesce(base.baseline, 0) AS baseline
    FROM enterprise e
    JOIN (SELECT DISTINCT enterprise_id FROM meters) m ON m.enterprise_id = e.id
    LEFT JOIN base ON base.enterprise_id = e.id
    WHERE e.park_id = :park
),
grid AS (
    SELECT c.day::date AS day, ent.enterprise_id, ent.section, ent.baseline,
           coalesce(p.kwh, 0) AS kwh,
           ent.baseline > 0 AND coalesce(p.kwh, 0) > :ratio * ent.baseline AS operating
    FROM generate_series(CAST(:first_day AS date), CAST(:last_day AS date), interval '1 day') c(day)
    CROSS JOIN ent
    LEFT JOIN p_daily p ON p.enterprise_id = ent.enterprise_id AND p.day = c.day::date
)
SELECT day, section, enterprise_id,
       grouping(section) = 0 AND grouping(enterprise_id) = 1 AS by_section,
       grouping(enterprise_id) = 0 AS by_enterprise,
       sum(kwh) AS kwh, sum(baseline) AS baseline,
       count(*) FILTER (WHERE baseline > 0) AS monitored,
       count(*) FILTER (WHERE operating) AS operating
FROM grid
GROUP BY GROUPING SETS ((day), (day, section), (day, section, enterprise_id))
ORDER BY day, by_section, by_enterprise, section, enterprise_id
"""  # noqa: S608
"""Per day: the park (no section, no enterprise), each section, each enterprise: kWh, the
baseline daily kWh, firms monitored (a positive baseline) and operating."""


async def power_index(
    session: AsyncSession,
    *,
    park_id: str,
    tz: str,
    period: tuple[datetime, datetime, date, date],
    base: tuple[datetime, datetime, int],
    ratio: float,
) -> Sequence[RowMapping]:
    params: dict[str, Any] = {
        "park": park_id,
        "tz": tz,
        "p_lo": period[0],
        "p_hi": period[1],
        "first_day": period[2],
        "last_day": period[3],
        "b_lo": base[0],
        "b_hi": base[1],
        "base_days": base[2],
        "ratio": ratio,
        **gb4754.sql_ranges(),
    }
    return (await session.execute(text(POWER_INDEX), params)).mappings().all()


DAILY = f"""
WITH {METERS}, {daily_ctes("p")}
SELECT m.enterprise_id, d.day, coalesce(d.kwh, 0) AS kwh
FROM (SELECT DISTINCT enterprise_id FROM meters) m
LEFT JOIN p_daily d ON d.enterprise_id = m.enterprise_id
ORDER BY 1, 2
"""  # noqa: S608


async def daily_kwh(
    session: AsyncSession, *, park_id: str, tz: str, lo: datetime, hi: datetime
) -> Sequence[RowMapping]:
    """``(enterprise_id, day, kwh)`` of every metered enterprise (day None: no data at all)."""
    params = {"park": park_id, "tz": tz, "p_lo": lo, "p_hi": hi}
    return (await session.execute(text(DAILY), params)).mappings().all()


TOTAL = f"""
WITH {METERS}, {daily_ctes("p")}
SELECT enterprise_id, sum(kwh) AS kwh FROM p_daily GROUP BY 1
"""  # noqa: S608


async def total_kwh(
    session: AsyncSession, *, park_id: str, tz: str, lo: datetime, hi: datetime
) -> dict[str, float]:
    params = {"park": park_id, "tz": tz, "p_lo": lo, "p_hi": hi}
    rows = (await session.execute(text(TOTAL), params)).mappings()
    return {str(r["enterprise_id"]): float(r["kwh"]) for r in rows}


async def parks(session: AsyncSession) -> Sequence[RowMapping]:
    return (
        (await session.execute(text("SELECT id, timezone FROM park ORDER BY id"))).mappings().all()
    )


async def insert_anomaly(
    session: AsyncSession, park_id: str, enterprise_id: str, day: date, kind: str, detail: str
) -> bool:
    """Record an anomaly; False when it was already recorded."""
    result = await session.execute(
        text(
            "INSERT INTO economy_anomaly (park_id, enterprise_id, day, kind, detail) "
            "VALUES (:park, :e, :day, :kind, CAST(:detail AS jsonb)) "
            "ON CONFLICT (park_id, enterprise_id, day, kind) DO NOTHING RETURNING id"
        ),
        {"park": park_id, "e": enterprise_id, "day": day, "kind": kind, "detail": detail},
    )
    return result.first() is not None


async def list_anomalies(
    session: AsyncSession, park_id: str, first: date, last: date
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            "SELECT id, enterprise_id, day, kind, detail, detected_at FROM economy_anomaly "
            "WHERE park_id = :park AND day BETWEEN :first AND :last "
            "ORDER BY day, enterprise_id, kind"
        ),
        {"park": park_id, "first": first, "last": last},
    )
    return result.mappings().all()
