"""SQL of 亩均效益评价: each enterprise's land in 亩 and its figures for a year.

Land comes from the enterprise's leases that run in the year, each weighted by the share of
the year it runs (a lease of half the year counts half its land):

- a parcel lease: the parcel's whole land;
- a building or space lease: the land of the parcel under the building, shared by floor area:
  parcel land x lease area / floor area of all the parcel's buildings (a building's floor area
  as the view ``building_floor_area`` defines it), at most the whole parcel. A building on no
  parcel gives no land.

A parcel's land is its registered certificate area (证载面积) when recorded, else the geodesic
area of its polygon. Leases cannot hold the same land twice (a parcel lease and a lease of a
building on it refuse each other: app/assets/tenancy/leases.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.geodesy import SQUARE_METRES_PER_MU

LAND = """
WITH floor_area AS (
    SELECT building_id AS id, parcel_id, floor_area_m2 AS area FROM building_floor_area
    WHERE park_id = :park
), parcel_floor AS (
    SELECT parcel_id, sum(area) AS area FROM floor_area
    WHERE parcel_id IS NOT NULL GROUP BY parcel_id
), lease_land AS (
    SELECT l.enterprise_id,
           CASE WHEN l.parcel_id IS NOT NULL THEN coalesce(pc.certificate_area_m2, pc.area_m2)
                ELSE coalesce(under.certificate_area_m2, under.area_m2)
                     * least(1, l.area_m2 / nullif(pf.area, 0)) END AS land_m2,
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


ENTERPRISES = """
SELECT id AS enterprise_id, name, founded_on, industry_code FROM enterprise
WHERE park_id = :park ORDER BY id
"""

MONTHS = """
SELECT enterprise_id, month, value_added, tax, revenue, rd_spend, output_value, employees,
       emissions, energy_tce
FROM economy_report
WHERE park_id = :park AND month >= :first AND month <= :last
ORDER BY enterprise_id, month
"""
"""Every report of the year: the evaluation sums the same months on both sides of a ratio."""


async def enterprises(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    return (await session.execute(text(ENTERPRISES), {"park": park_id})).mappings().all()


async def months(session: AsyncSession, park_id: str, year: int) -> Sequence[RowMapping]:
    params = {"park": park_id, "first": date(year, 1, 1), "last": date(year, 12, 1)}
    return (await session.execute(text(MONTHS), params)).mappings().all()


SCALE = """
SELECT DISTINCT ON (enterprise_id) enterprise_id, above_scale FROM economy_scale_status
WHERE park_id = :park AND month >= :first AND month <= :last
ORDER BY enterprise_id, month DESC
"""


async def above_scale(session: AsyncSession, park_id: str, year: int) -> dict[str, bool]:
    """Each enterprise's 规上 status at its last month of ``year`` in the register."""
    params = {"park": park_id, "first": date(year, 1, 1), "last": date(year, 12, 1)}
    rows = await session.execute(text(SCALE), params)
    return {str(r[0]): bool(r[1]) for r in rows}
