"""SQL of 亩均效益评价: each enterprise's land in 亩 and its figures for a year.

Land comes from the enterprise's leases that run in the year, each weighted by the share of
the year it runs (a lease of half the year counts half its land):

- a parcel lease: the parcel's whole land (``parcel.area_m2``);
- a building or space lease: the land of the parcel under the building, shared by floor area:
  parcel land x lease area / floor area of all the parcel's buildings (a building's floor area
  is the sum of its floors' areas when they are recorded, else footprint x floors), at most
  the whole parcel. A building on no parcel gives no land.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.geodesy import SQUARE_METRES_PER_MU

LAND = """
WITH floor_area AS (
    SELECT b.id, b.parcel_id,
           coalesce(nullif(f.area, 0), b.area_m2 * greatest(b.floors, 1)) AS area
    FROM building b
    LEFT JOIN (SELECT building_id, sum(area_m2) AS area FROM floor
               WHERE park_id = :park GROUP BY building_id) f ON f.building_id = b.id
    WHERE b.park_id = :park
), parcel_floor AS (
    SELECT parcel_id, sum(area) AS area FROM floor_area
    WHERE parcel_id IS NOT NULL GROUP BY parcel_id
), lease_land AS (
    SELECT l.enterprise_id,
           CASE WHEN l.parcel_id IS NOT NULL THEN pc.area_m2
                ELSE under.area_m2 * least(1, l.area_m2 / nullif(pf.area, 0)) END AS land_m2,
           (least(l.end_date, :last) - greatest(l.start_date, :first) + 1)::float8
               / (:last - :first + 1) AS share
    FROM lease l
    LEFT JOIN parcel pc ON pc.park_id = l.park_id AND pc.id = l.parcel_id
    LEFT JOIN space s ON s.park_id = l.park_id AND s.id = l.space_id
    LEFT JOIN floor_area fa ON fa.id = coalesce(l.building_id, s.building_id)
    LEFT JOIN parcel under ON under.park_id = l.park_id AND under.id = fa.parcel_id
    LEFT JOIN parcel_floor pf ON pf.parcel_id = fa.parcel_id
    WHERE l.park_id = :park AND l.start_date <= :last AND l.end_date >= :first
)
SELECT enterprise_id, sum(coalesce(land_m2, 0) * share) / :m2_per_mu AS land_mu
FROM lease_land GROUP BY enterprise_id
"""


async def land_mu(session: AsyncSession, park_id: str, year: int) -> dict[str, float]:
    params = {
        "park": park_id,
        "first": date(year, 1, 1),
        "last": date(year, 12, 31),
        "m2_per_mu": SQUARE_METRES_PER_MU,
    }
    rows = await session.execute(text(LAND), params)
    return {r[0]: float(r[1]) for r in rows}


ANNUAL = """
SELECT e.id AS enterprise_id, e.name, e.founded_on, count(r.month)::int AS months,
       sum(r.value_added) AS value_added, sum(r.tax) AS tax, sum(r.revenue) AS revenue,
       sum(r.rd_spend) AS rd_spend, sum(r.output_value) AS output_value,
       avg(r.employees) AS employees, sum(r.emissions) AS emissions,
       sum(r.energy_tce) AS energy_tce
FROM enterprise e
LEFT JOIN economy_report r ON r.park_id = e.park_id AND r.enterprise_id = e.id
     AND r.month >= :first AND r.month <= :last
WHERE e.park_id = :park
GROUP BY e.id, e.name, e.founded_on
ORDER BY e.id
"""
"""Every enterprise of the park with its year's sums (employees: the monthly average;
emissions and energy: NULL when no month has them)."""


async def annual(session: AsyncSession, park_id: str, year: int) -> Sequence[RowMapping]:
    params = {"park": park_id, "first": date(year, 1, 1), "last": date(year, 12, 1)}
    return (await session.execute(text(ANNUAL), params)).mappings().all()
