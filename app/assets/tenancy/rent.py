"""Rent payments and rent collection (收缴率).

收缴率 (collection rate) = rent collected / rent due in a period. Rent due comes from the
lease: ``rent_yuan`` a month for every month the lease runs, a partial month by its share of
days (a lease from the 16th of a 30-day month owes 15/30 of that month), rounded to the fen
month by month. A payment is recorded against the month it pays for (``period``), whenever it
was paid, so the rate of a month rises as late rent comes in; a payment ahead of the range
counts in its own month. Per building (leases of the building or of its spaces), per parcel
(land leases) and per lease.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.tenancy import leases, rent_repository
from app.assets.tenancy.rent_schemas import (
    LeaseCollection,
    RentCollection,
    RentPaymentCreate,
    RentPaymentRead,
    TargetCollection,
)
from app.core.errors import NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext

MAX_MONTHS = 120
RULE = (
    "收缴率 = rent paid for the months of the range / rent due for them; due = the lease's "
    "monthly rent for each month it runs, a partial month by its share of days"
)


def month_start(month: str, field: str) -> date:
    try:
        return date(int(month[:4]), int(month[5:7]), 1)
    except (ValueError, IndexError):
        raise Unprocessable(f"{field}: {month!r} is not YYYY-MM", field=field) from None


def _month_of(day: date) -> date:
    return day.replace(day=1)


async def record(
    session: AsyncSession, *, ctx: ParkContext, lease_id: str, data: RentPaymentCreate
) -> RentPaymentRead:
    lease = await leases.load(session, ctx, lease_id)
    period = month_start(data.period, "period")
    if not _month_of(lease["start_date"]) <= period <= _month_of(lease["end_date"]):
        raise Unprocessable(
            f"period: {data.period} is outside lease {lease_id!r} "
            f"({lease['start_date']}..{lease['end_date']})",
            field="period",
        )
    values = {**data.model_dump(), "period": period, "park_id": ctx.park_id, "lease_id": lease_id}
    await rent_repository.insert_payment(session, values)
    return await get(session, ctx=ctx, lease_id=lease_id, payment_id=data.id)


async def get(
    session: AsyncSession, *, ctx: ParkContext, lease_id: str, payment_id: str
) -> RentPaymentRead:
    row = await rent_repository.get_payment(session, ctx.park_id, payment_id)
    if row is None or row["lease_id"] != lease_id:
        raise NotFound(f"payment {payment_id!r} not found on lease {lease_id!r}")
    return RentPaymentRead.model_validate(dict(row))


async def list_(
    session: AsyncSession, *, ctx: ParkContext, lease_id: str, page: PageParams
) -> Page[RentPaymentRead]:
    await leases.load(session, ctx, lease_id)
    after = page.after(1)
    rows = await rent_repository.list_payments(
        session, ctx.park_id, lease_id, after[0] if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[RentPaymentRead](
        items=[RentPaymentRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def delete(
    session: AsyncSession, *, ctx: ParkContext, lease_id: str, payment_id: str
) -> None:
    await get(session, ctx=ctx, lease_id=lease_id, payment_id=payment_id)
    await rent_repository.delete_payment(session, ctx.park_id, payment_id)


def _figures(due: Decimal, paid: Decimal) -> dict[str, Any]:
    rate = float(paid / due) if due > 0 else None
    return {
        "due_yuan": due,
        "paid_yuan": paid,
        "outstanding_yuan": due - paid,
        "collection_rate": round(rate, 4) if rate is not None else None,
    }


def _by(rows: Iterable[Mapping[Any, Any]], key: str) -> list[TargetCollection]:
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        if row[key] is not None:
            sums[row[key]][0] += row["due"]
            sums[row[key]][1] += row["paid"]
    return [TargetCollection(id=k, **_figures(*v)) for k, v in sorted(sums.items())]


async def collection(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    first: str,
    last: str,
    enterprise_id: str | None = None,
) -> RentCollection:
    """收缴率 of the park, or of one enterprise's leases (``enterprise_id``)."""
    start, end = month_start(first, "from"), month_start(last, "to")
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if not 1 <= months <= MAX_MONTHS:
        raise Unprocessable(f"to: the range must hold 1 to {MAX_MONTHS} months", field="to")
    rows = await rent_repository.collection(session, ctx.park_id, start, end, enterprise_id)
    lease_rows = [
        LeaseCollection(
            lease_id=r["lease_id"],
            enterprise_id=r["enterprise_id"],
            building_id=r["building_id"],
            parcel_id=r["parcel_id"],
            **_figures(r["due"], r["paid"]),
        )
        for r in rows
    ]
    total_due = sum((r["due"] for r in rows), Decimal(0))
    total_paid = sum((r["paid"] for r in rows), Decimal(0))
    return RentCollection(
        from_month=first,
        to_month=last,
        **_figures(total_due, total_paid),
        buildings=_by(rows, "building_id"),
        parcels=_by(rows, "parcel_id"),
        leases=lease_rows,
        rule=RULE,
    )
