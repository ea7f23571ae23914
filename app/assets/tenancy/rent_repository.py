"""SQL of rent payments and of the rent each lease owes month by month."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.tenancy.repository import write_row

PAYMENT_COLUMNS = "id, lease_id, to_char(period, 'YYYY-MM') AS period, amount_yuan, paid_on, "
PAYMENT_COLUMNS += "reference, created_at"


async def insert_payment(session: AsyncSession, values: dict[str, Any]) -> None:
    sql = (
        "INSERT INTO rent_payment (park_id, id, lease_id, period, amount_yuan, paid_on, reference) "
        "VALUES (:park_id, :id, :lease_id, :period, :amount_yuan, :paid_on, :reference)"
    )
    await write_row(session, sql, values, f"rent payment {values['id']!r}")


async def get_payment(session: AsyncSession, park_id: str, payment_id: str) -> RowMapping | None:
    result = await session.execute(
        text(
            "SELECT id, lease_id, to_char(period, 'YYYY-MM') AS period, amount_yuan, paid_on, "
            "reference, created_at FROM rent_payment WHERE park_id = :park AND id = :id"
        ),
        {"park": park_id, "id": payment_id},
    )
    return result.mappings().one_or_none()


async def list_payments(
    session: AsyncSession, park_id: str, lease_id: str, after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            "SELECT id, lease_id, to_char(period, 'YYYY-MM') AS period, amount_yuan, paid_on, "
            "reference, created_at FROM rent_payment "
            "WHERE park_id = :park AND lease_id = :lease "
            "AND (CAST(:after AS text) IS NULL OR id > :after) ORDER BY id LIMIT :limit"
        ),
        {"park": park_id, "lease": lease_id, "after": after, "limit": limit},
    )
    return result.mappings().all()


async def delete_payment(session: AsyncSession, park_id: str, payment_id: str) -> None:
    await session.execute(
        text("DELETE FROM rent_payment WHERE park_id = :park AND id = :id"),
        {"park": park_id, "id": payment_id},
    )


# Rent due per lease and month: the monthly rent x the share of the month's days the lease
# runs (first and last days inclusive), rounded to the fen per month; paid: what was paid for
# the months of the range, whenever it was paid.
COLLECTION = """
WITH months AS (
    SELECT m::date AS first_day, (m + interval '1 month - 1 day')::date AS last_day
    FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month') AS m
), due AS (
    SELECT l.id AS lease_id,
           sum(round(l.rent_yuan
                     * ((least(l.end_date, mo.last_day) - greatest(l.start_date, mo.first_day)
                         + 1)::numeric
                        / extract(day FROM mo.last_day)::numeric), 2)) AS due
    FROM lease l JOIN months mo ON l.start_date <= mo.last_day AND l.end_date >= mo.first_day
    WHERE l.park_id = :park AND l.rent_yuan IS NOT NULL
    GROUP BY l.id
), paid AS (
    SELECT lease_id, sum(amount_yuan) AS paid FROM rent_payment
    WHERE park_id = :park AND period BETWEEN :first AND :last
    GROUP BY lease_id
)
SELECT l.id AS lease_id, l.enterprise_id, coalesce(l.building_id, s.building_id) AS building_id,
       l.parcel_id, coalesce(d.due, 0) AS due, coalesce(p.paid, 0) AS paid
FROM lease l
LEFT JOIN space s ON s.park_id = l.park_id AND s.id = l.space_id
LEFT JOIN due d ON d.lease_id = l.id
LEFT JOIN paid p ON p.lease_id = l.id
WHERE l.park_id = :park AND (d.due IS NOT NULL OR p.paid IS NOT NULL)
  AND (CAST(:enterprise AS text) IS NULL OR l.enterprise_id = :enterprise)
ORDER BY l.id
"""


async def collection(
    session: AsyncSession, park_id: str, first: date, last: date, enterprise_id: str | None = None
) -> Sequence[RowMapping]:
    """Per lease with rent due or paid in the months ``first``..``last`` (first days);
    ``enterprise_id``: its leases only."""
    params = {"park": park_id, "first": first, "last": last, "enterprise": enterprise_id}
    result = await session.execute(text(COLLECTION), params)
    return result.mappings().all()
