"""SQL of 电力看经济: each enterprise's daily kWh from its electricity meters.

An enterprise's kWh is the counter ``delta`` of the ``energy_kwh`` series of its top-level
meters (an ``electricity_meter`` linked to it whose parent meter, if any, is not its own: a
sub-meter under its own main meter would count twice). The delta per park-local day is
telemetry's (``daily_consumption`` in app/telemetry/consumption.py, the rule's one home, as
the read API's ``agg=delta``). All of it in one statement, aggregated in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import Fixed, compose
from app.economy import gb4754
from app.telemetry.consumption import TZ, daily_consumption, holds_a_month

METERS = """meters AS (
    SELECT d.enterprise_id, s.id AS series_id
    FROM device d
    JOIN series s ON s.park_id = d.park_id AND s.device_id = d.id AND s.metric = 'energy_kwh'
    LEFT JOIN device p ON p.park_id = d.park_id AND p.id = d.parent_meter_id
    WHERE d.park_id = :park AND d.type = 'electricity_meter' AND d.enterprise_id IS NOT NULL
      AND (p.id IS NULL OR p.enterprise_id IS DISTINCT FROM d.enterprise_id)
)"""


def daily_ctes(tag: str, *, months: bool = False) -> str:
    """CTEs ending in ``{tag}_daily (enterprise_id, day, kwh)`` for ``[:{tag}_lo, :{tag}_hi)``
    (park-local midnights); needs ``meters``. With ``months``, for a caller that sums by month
    or over the range: a meter's whole month may come as one row dated on its first day, from
    the monthly rollups (``daily_consumption``)."""
    days = tag + "_meter_days"
    return compose(
        """{steps}, {tag}_daily AS (
    SELECT s.enterprise_id, (s.bucket AT TIME ZONE {tz})::date AS day, sum(s.qty) AS kwh
    FROM {days} s
    GROUP BY 1, 2
)""",
        steps=Fixed(
            daily_consumption(
                days,
                keys="meters",
                lo=f":{tag}_lo",
                hi=f":{tag}_hi",
                carry=("enterprise_id",),
                months="true" if months else None,
            )
        ),
        tag=Fixed(tag),
        tz=Fixed(TZ),
        days=Fixed(days),
    )


SECTION = """CASE
    WHEN e.industry_code ~ '^[A-T]' THEN left(e.industry_code, 1)
    WHEN e.industry_code ~ '^[0-9]{2}' THEN (
        SELECT s.letter FROM unnest(CAST(:sec_lo AS int[]), CAST(:sec_hi AS int[]),
                                    CAST(:sec_letter AS text[])) AS s(lo, hi, letter)
        WHERE left(e.industry_code, 2)::int BETWEEN s.lo AND s.hi)
END"""
"""The GB/T 4754 section of enterprise ``e`` (table in app/economy/gb4754.py)."""


POWER_INDEX_SQL = """
WITH {meters}, {base}, {period},
base AS (SELECT enterprise_id, sum(kwh) / :base_days AS baseline FROM b_daily GROUP BY 1),
ent AS (
    SELECT e.id AS enterprise_id, {section} AS section, coalesce(base.baseline, 0) AS baseline
    FROM enterprise e
    JOIN (SELECT DISTINCT enterprise_id FROM meters) m ON m.enterprise_id = e.id
    LEFT JOIN base ON base.enterprise_id = e.id
    WHERE e.park_id = :park
),
grid AS (
    SELECT c.day::date AS day, ent.enterprise_id, ent.section, ent.baseline,
           coalesce(p.kwh, 0) AS kwh, p.kwh IS NOT NULL AS has_data,
           ent.baseline > 0 AND coalesce(p.kwh, 0) > :ratio * ent.baseline AS operating
    FROM generate_series(CAST(:first_day AS date), CAST(:last_day AS date), interval '1 day') c(day)
    CROSS JOIN ent
    LEFT JOIN p_daily p ON p.enterprise_id = ent.enterprise_id AND p.day = c.day::date
)
SELECT day, section, enterprise_id,
       grouping(section) = 0 AND grouping(enterprise_id) = 1 AS by_section,
       grouping(enterprise_id) = 0 AS by_enterprise,
       sum(kwh) AS kwh, sum(baseline) AS baseline, bool_or(has_data) AS has_data,
       count(*) FILTER (WHERE baseline > 0 AND has_data) AS monitored,
       count(*) FILTER (WHERE baseline > 0 AND NOT has_data) AS no_data,
       count(*) FILTER (WHERE operating AND has_data) AS operating,
       coalesce(sum(kwh) FILTER (WHERE baseline > 0 AND has_data), 0) AS comparable_kwh,
       coalesce(sum(baseline) FILTER (WHERE baseline > 0 AND has_data), 0)
           AS comparable_baseline
FROM grid
GROUP BY GROUPING SETS ((day), (day, section), (day, section, enterprise_id))
ORDER BY day, by_section, by_enterprise, section, enterprise_id
"""
"""Per day: the park (no section, no enterprise), each section, each enterprise: kWh, the
baseline daily kWh, firms monitored (a positive baseline and data that day), without data
(an outage: neither operating nor idle), operating, and the 同口径 kWh and baseline (the
firms with a baseline and data that day, on both sides of the index)."""

POWER_INDEX = {
    whole: compose(
        POWER_INDEX_SQL,
        meters=Fixed(METERS),
        base=Fixed(daily_ctes("b", months=whole)),
        period=Fixed(daily_ctes("p")),
        section=Fixed(SECTION),
    )
    for whole in (False, True)
}
"""``POWER_INDEX_SQL`` by whether the base period holds a whole month (its whole months then
read from the monthly rollups: ``daily_ctes``)."""


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
    statement = POWER_INDEX[holds_a_month(base[0], base[1], tz)]
    return (await session.execute(text(statement), params)).mappings().all()


DAILY = compose(
    """
WITH {meters}, {period}
SELECT m.enterprise_id, d.day, coalesce(d.kwh, 0) AS kwh
FROM (SELECT DISTINCT enterprise_id FROM meters) m
LEFT JOIN p_daily d ON d.enterprise_id = m.enterprise_id
ORDER BY 1, 2
""",
    meters=Fixed(METERS),
    period=Fixed(daily_ctes("p")),
)


async def daily_kwh(
    session: AsyncSession, *, park_id: str, tz: str, lo: datetime, hi: datetime
) -> Sequence[RowMapping]:
    """``(enterprise_id, day, kwh)`` of every metered enterprise (day None: no data at all)."""
    params = {"park": park_id, "tz": tz, "p_lo": lo, "p_hi": hi}
    return (await session.execute(text(DAILY), params)).mappings().all()


TOTAL = {
    whole: compose(
        "WITH {meters}, {period} SELECT enterprise_id, sum(kwh) AS kwh FROM p_daily GROUP BY 1",
        meters=Fixed(METERS),
        period=Fixed(daily_ctes("p", months=whole)),
    )
    for whole in (False, True)
}
"""Each enterprise's kWh over ``[p_lo, p_hi)``, by whether it holds a whole month."""


async def total_kwh(
    session: AsyncSession, *, park_id: str, tz: str, lo: datetime, hi: datetime
) -> dict[str, float]:
    params = {"park": park_id, "tz": tz, "p_lo": lo, "p_hi": hi}
    rows = (await session.execute(text(TOTAL[holds_a_month(lo, hi, tz)]), params)).mappings()
    return {str(r["enterprise_id"]): float(r["kwh"]) for r in rows}


MONTHLY = {
    whole: compose(
        """
WITH {meters}, {period}
SELECT enterprise_id, date_trunc('month', day)::date AS month, sum(kwh) AS kwh
FROM p_daily GROUP BY 1, 2
""",
        meters=Fixed(METERS),
        period=Fixed(daily_ctes("p", months=whole)),
    )
    for whole in (False, True)
}
"""Each enterprise's kWh per month of ``[p_lo, p_hi)``, by whether it holds a whole month."""


async def monthly_kwh(
    session: AsyncSession, *, park_id: str, tz: str, lo: datetime, hi: datetime
) -> dict[tuple[str, date], float]:
    """kWh per (enterprise, park-local month) of ``[lo, hi)``, months with readings only."""
    params = {"park": park_id, "tz": tz, "p_lo": lo, "p_hi": hi}
    statement = MONTHLY[holds_a_month(lo, hi, tz)]
    rows = (await session.execute(text(statement), params)).mappings()
    return {(str(r["enterprise_id"]), r["month"]): float(r["kwh"]) for r in rows}


CALENDAR = """
SELECT DISTINCT ON (day) day, kind, name, source, park_id FROM economy_calendar
WHERE (park_id = :park OR park_id IS NULL) AND day >= :first AND day <= :last
ORDER BY day, park_id NULLS LAST
"""
"""The calendar's days of a span, the park's own row before the default for the same day."""


async def calendar(
    session: AsyncSession, park_id: str, first: date, last: date
) -> Sequence[RowMapping]:
    params = {"park": park_id, "first": first, "last": last}
    return (await session.execute(text(CALENDAR), params)).mappings().all()


async def put_calendar_day(session: AsyncSession, park_id: str, values: dict[str, Any]) -> None:
    """The park's own holiday or make-up working day (replacing its row for that day)."""
    await session.execute(
        text(
            "INSERT INTO economy_calendar (park_id, day, kind, name, source) "
            "VALUES (:park, :day, :kind, :name, :source) ON CONFLICT (park_id, day) "
            "DO UPDATE SET kind = excluded.kind, name = excluded.name, source = excluded.source"
        ),
        {"park": park_id, **values},
    )


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
