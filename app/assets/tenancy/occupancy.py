"""Occupancy (出租率 / 空置率) per building and park at a date, and leases expiring soon.

出租率 = leased leasable area / total leasable area on the day; 空置率 = 1 − 出租率. A space
counts as leased on a day when a lease of it, or of its whole building, runs that day (the
spaces' ``status`` field is what an operator set, not a calendar, so it is not used, except that
``not_leasable`` spaces are left out of both areas). A building without spaces counts its floor
area and its whole-building leases. Land (parcel) leases are not floor space: they are not in
the rate.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.tenancy import repository
from app.assets.tenancy.schemas import BuildingOccupancy, ExpiringLease, Occupancy
from app.core.errors import Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext


def today(ctx: ParkContext) -> date:
    """The date in the park's timezone."""
    return datetime.now(ZoneInfo(ctx.timezone)).date()


def rates(leasable: float, leased: float) -> dict[str, float | None]:
    if leasable <= 0:
        return {"occupancy_rate": None, "vacancy_rate": None}
    rate = leased / leasable
    return {"occupancy_rate": rate, "vacancy_rate": 1 - rate}


async def occupancy(session: AsyncSession, *, ctx: ParkContext, on: date | None) -> Occupancy:
    on = on or today(ctx)
    rows = await repository.occupancy(session, ctx.park_id, on)
    buildings = []
    for row in rows:
        leasable, leased = float(row["leasable_m2"] or 0), float(row["leased_m2"] or 0)
        values: dict[str, Any] = {**row, "leasable_m2": leasable, "leased_m2": leased}
        buildings.append(BuildingOccupancy.model_validate({**values, **rates(leasable, leased)}))
    leasable = sum(b.leasable_m2 for b in buildings)
    leased = sum(b.leased_m2 for b in buildings)
    return Occupancy.model_validate(
        {
            "date": on,
            "leasable_m2": leasable,
            "leased_m2": leased,
            **rates(leasable, leased),
            "buildings": buildings,
        }
    )


def _cursor(after: list[Any] | None) -> tuple[date, str] | None:
    if after is None:
        return None
    try:
        return date.fromisoformat(str(after[0])), str(after[1])
    except ValueError as exc:
        raise Unprocessable("cursor: not a cursor for this list") from exc


async def expiring(
    session: AsyncSession, *, ctx: ParkContext, days: int, on: date | None, page: PageParams
) -> Page[ExpiringLease]:
    """Leases whose last day is within ``days`` days from ``on`` (default today), soonest
    first; a lease ending on ``on`` itself is included (0 days left)."""
    on = on or today(ctx)
    rows = await repository.expiring(
        session,
        ctx.park_id,
        on,
        on + timedelta(days=days),
        _cursor(page.after(2)),
        page.fetch_limit,
    )
    items, cursor = paginate(rows, page, lambda r: [r["end_date"].isoformat(), r["id"]])
    return Page[ExpiringLease](
        items=[ExpiringLease.model_validate(dict(r)) for r in items], next_cursor=cursor
    )
