"""SQL of the park overview for a month: totals and by industry, with the comparable bases
of 同比 and 环比, and the 规上 counts and coverage indicators."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from string import Formatter
from typing import LiteralString

from psycopg.sql import Composed, Identifier
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import Fixed, compose, fragment
from app.economy import gb4754
from app.economy.calc import shift_month
from app.economy.power_repository import SECTION
from app.economy.repository import FIELDS

INDICATORS = tuple(f for f in FIELDS if f not in ("digital_transformed", "digital_services"))
"""The report's figures that sum up (its two yes/no answers do not)."""


def _per_indicator(*templates: LiteralString) -> Composed:
    """Each template once per indicator, comma-separated. A placeholder ``{x}`` is the
    indicator's column, ``{cur_x}`` the column named ``cur_`` + the indicator, and so on: every
    name goes in as a quoted identifier."""
    parts = [
        fragment(
            template,
            **{
                name: Identifier(name[:-1] + x)
                for _, name, _, _ in Formatter().parse(template)
                if name
            },
        )
        for x in INDICATORS
        for template in templates
    ]
    return Fixed(",\n       ").join(parts)


PIVOT = _per_indicator(
    "sum({x}) FILTER (WHERE month = :t) AS {cur_x}",
    "sum({x}) FILTER (WHERE month = :t1) AS {mom_x}",
    "sum({x}) FILTER (WHERE month = :t12) AS {yoy_x}",
)

SUMS = _per_indicator(
    "sum({cur_x}) AS {x}",
    "sum({cur_x}) FILTER (WHERE has_t1) AS {mom_cur_x}",
    "sum({mom_x}) FILTER (WHERE has_t) AS {mom_base_x}",
    "sum({cur_x}) FILTER (WHERE has_t12) AS {yoy_cur_x}",
    "sum({yoy_x}) FILTER (WHERE has_t) AS {yoy_base_x}",
)

OVERVIEW = compose(
    """
WITH r AS (
    SELECT r.*, {section} AS section
    FROM economy_report r JOIN enterprise e ON e.park_id = r.park_id AND e.id = r.enterprise_id
    WHERE r.park_id = :park AND r.month IN (:t, :t1, :t12)
), p AS (
    SELECT enterprise_id, section,
       bool_or(month = :t) AS has_t, bool_or(month = :t1) AS has_t1,
       bool_or(month = :t12) AS has_t12,
       {pivot}
    FROM r GROUP BY enterprise_id, section
)
SELECT section, grouping(section) = 0 AS by_section,
       count(*) FILTER (WHERE has_t) AS enterprises,
       count(*) FILTER (WHERE has_t AND has_t1) AS mom_comparable,
       count(*) FILTER (WHERE has_t AND has_t12) AS yoy_comparable,
       {sums}
FROM p GROUP BY GROUPING SETS ((), (section))
ORDER BY by_section, section
""",
    section=Fixed(SECTION),
    pivot=PIVOT,
    sums=SUMS,
)
"""同比/环比 on a comparable basis: only enterprises that reported in both months count in
either side, so a firm that joined or skipped a month does not read as growth or decline."""


async def overview(session: AsyncSession, park_id: str, month: date) -> Sequence[RowMapping]:
    params = {
        "park": park_id,
        "t": month,
        "t1": shift_month(month, -1),
        "t12": shift_month(month, -12),
        **gb4754.sql_ranges(),
    }
    return (await session.execute(text(OVERVIEW), params)).mappings().all()


YTD_COLUMNS = _per_indicator(
    "sum(c.{x}) AS {ytd_x}",
    "sum(c.{x}) FILTER (WHERE b.month IS NOT NULL) AS {ytd_cur_x}",
    "sum(b.{x}) AS {ytd_base_x}",
)

YTD = compose(
    """
WITH c AS (
    SELECT r.*, {section} AS section
    FROM economy_report r JOIN enterprise e ON e.park_id = r.park_id AND e.id = r.enterprise_id
    WHERE r.park_id = :park AND r.month >= :y0 AND r.month <= :t
)
SELECT c.section, grouping(c.section) = 0 AS by_section,
       count(DISTINCT c.enterprise_id) AS enterprises,
       count(DISTINCT c.enterprise_id) FILTER (WHERE b.month IS NOT NULL) AS comparable,
       {columns}
FROM c
LEFT JOIN economy_report b ON b.park_id = c.park_id AND b.enterprise_id = c.enterprise_id
     AND b.month = (c.month - interval '12 months')::date
GROUP BY GROUPING SETS ((), (c.section))
ORDER BY by_section, section
""",
    section=Fixed(SECTION),
    columns=YTD_COLUMNS,
)
"""累计 (January to the month) per indicator, for the park and each section, and its 同比 on
a comparable basis: the pairs (firm, month) reported in both years, summed on both sides."""


async def ytd(session: AsyncSession, park_id: str, month: date) -> Sequence[RowMapping]:
    params = {"park": park_id, "t": month, "y0": month.replace(month=1), **gb4754.sql_ranges()}
    return (await session.execute(text(YTD), params)).mappings().all()


SPLIT_COLUMNS = _per_indicator(
    "sum(r.{x}) FILTER (WHERE r.month = :t) AS {x}",
    "sum(r.{x}) AS {ytd_x}",
)

SPLIT = compose(
    """
WITH status AS (
    SELECT enterprise_id, above_scale FROM economy_scale_status
    WHERE park_id = :park AND month = :t
)
SELECT CASE s.above_scale WHEN true THEN 'above_scale' WHEN false THEN 'below_scale'
            ELSE 'unclassified' END AS scale,
       count(DISTINCT r.enterprise_id) FILTER (WHERE r.month = :t) AS enterprises,
       {columns}
FROM economy_report r LEFT JOIN status s ON s.enterprise_id = r.enterprise_id
WHERE r.park_id = :park AND r.month >= :y0 AND r.month <= :t
  AND r.enterprise_id IN (SELECT enterprise_id FROM economy_report
                          WHERE park_id = :park AND month = :t)
GROUP BY 1 ORDER BY 1
""",
    columns=SPLIT_COLUMNS,
)
"""规上 / 规下 totals of the month and 累计, the firms reporting in the month classed by their
register status in that month ('unclassified': a sector without a revenue threshold)."""


async def split(session: AsyncSession, park_id: str, month: date) -> Sequence[RowMapping]:
    params = {"park": park_id, "t": month, "y0": month.replace(month=1)}
    return (await session.execute(text(SPLIT), params)).mappings().all()


SCALE = """
WITH status AS (
    SELECT DISTINCT ON (enterprise_id) enterprise_id, above_scale FROM economy_scale_status
    WHERE park_id = :park AND month <= :t AND month > :t - interval '12 months'
    ORDER BY enterprise_id, month DESC
), digital AS (
    SELECT DISTINCT ON (enterprise_id) enterprise_id, digital_transformed, digital_services
    FROM economy_report
    WHERE park_id = :park AND month <= :t
      AND (digital_transformed IS NOT NULL OR digital_services IS NOT NULL)
    ORDER BY enterprise_id, month DESC
)
SELECT count(*) FILTER (WHERE s.above_scale) AS above_scale,
       count(*) FILTER (WHERE s.above_scale AND d.digital_transformed) AS digital_transformed,
       count(*) FILTER (WHERE s.above_scale AND d.digital_services) AS digital_services
FROM status s LEFT JOIN digital d ON d.enterprise_id = s.enterprise_id
"""
"""规上 firms at the month (their latest status within the trailing year) and how many of
them the park records as digitally transformed or using digital producer services."""


async def scale_counts(session: AsyncSession, park_id: str, month: date) -> RowMapping:
    result = await session.execute(text(SCALE), {"park": park_id, "t": month})
    return result.mappings().one()
