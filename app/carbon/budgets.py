"""Annual energy and carbon budgets and intensity targets: the year-to-date position, a
straight-line forecast, and the ``carbon.budget_warning`` (80%) and ``carbon.budget_exceeded``
(100%) events, each announced once per budget (``carbon_budget_announcement``).

Metrics: ``energy_tce`` (tce, 等价值), ``carbon_t`` (tCO₂, Scope 1 + Scope 2 location-based),
``tce_per_value_added`` and ``co2_per_value_added`` (per 10⁴ yuan; no forecast: a ratio).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon import factors as calc
from app.carbon import ledger, repository, summary
from app.carbon.schemas import BudgetPut, BudgetRead
from app.carbon.service import check_links, today
from app.core.config import Settings
from app.parks.deps import ParkContext
from app.webhooks.outbox import enqueue

logger = logging.getLogger(__name__)

FIELD = {
    "energy_tce": "tce_equal_value",
    "carbon_t": "total_location_t",
    "tce_per_value_added": "tce_per_value_added",
    "co2_per_value_added": "co2_per_value_added",
}
EVENTS = {80: ("carbon.budget_warning", "warning"), 100: ("carbon.budget_exceeded", "major")}


async def put(session: AsyncSession, *, ctx: ParkContext, data: BudgetPut) -> BudgetRead:
    await check_links(session, ctx, data.enterprise_id, None)
    row = await repository.upsert_budget(session, {**data.model_dump(), "park_id": ctx.park_id})
    rows = await repository.budgets(session, ctx.park_id, data.year)
    (position,) = await positions(session, [r for r in rows if r["id"] == row["id"]])
    return BudgetRead.model_validate(position)  # only this budget's ledger is built


async def list_(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    year: int | None,
    flights: ledger.Flights | None = None,
) -> list[BudgetRead]:
    rows = await repository.budgets(session, ctx.park_id, year)
    return [BudgetRead.model_validate(p) for p in await positions(session, rows, flights)]


async def positions(
    session: AsyncSession, rows: list[RowMapping] | Any, flights: ledger.Flights | None = None
) -> list[dict[str, Any]]:
    """Each budget with its year-to-date value, share of the cap and forecast; ``flights``:
    the API process's ledgers under way (the carbon panel asks the same year to date's
    emissions at the same time)."""
    books: dict[tuple[str, int, str], dict[str, dict[str, Any]]] = {}
    out = []
    for row in rows:
        as_of = min(today(row["timezone"]), date(row["year"], 12, 31))
        group_by = "park" if row["enterprise_id"] is None else "enterprise"
        key = (row["park_id"], row["year"], group_by)
        if key not in books:
            books[key] = await _year_to_date(session, row, group_by, as_of, flights)
        group = row["park_id"] if group_by == "park" else row["enterprise_id"]
        value = books[key].get(group, {}).get(FIELD[row["metric"]])
        if (
            value is None
            and row["metric"] in ("energy_tce", "carbon_t")
            and as_of.year == row["year"]
        ):
            value = 0.0
        ratio = row["metric"].endswith("_per_value_added")
        projected = value if ratio or value is None else calc.forecast(value, as_of, row["year"])
        out.append({**row, "as_of": as_of, "to_date": value, "forecast": projected,
                    "share": calc.ratio(value, row["cap"])})  # fmt: skip
    return out


async def _year_to_date(
    session: AsyncSession,
    row: RowMapping,
    group_by: str,
    as_of: date,
    flights: ledger.Flights | None,
) -> dict[str, dict[str, Any]]:
    start = date(row["year"], 1, 1)
    if as_of < start:
        return {}
    book = await ledger.build(
        session, park_id=row["park_id"], tz=row["timezone"], days=(start, as_of),
        group_by=group_by, step="month", flights=flights,
    )  # fmt: skip
    return {r["group"]: r for r in summary.rows(book, group_by=group_by, interval="all",
                                                 start=start)}  # fmt: skip


async def check(session: AsyncSession, settings: Settings) -> int:
    """Worker job: announce every budget threshold newly reached in the current year(s)."""
    del settings
    rows = [r for r in await repository.budgets(session, None, None)
            if r["year"] == today(r["timezone"]).year]  # fmt: skip
    fired = 0
    for budget in await positions(session, rows):
        if budget["to_date"] is None:
            continue
        for threshold in calc.crossed(budget["to_date"], budget["cap"]):
            if await repository.announce(session, budget["id"], threshold, budget["to_date"]):
                await _event(session, budget, threshold)
                fired += 1
    if fired:
        logger.info("carbon budgets: %d threshold event(s) announced", fired)
    return 0  # a check, not a backlog: no need to run again at once


async def _event(session: AsyncSession, budget: dict[str, Any], threshold: int) -> None:
    event_type, severity = EVENTS[threshold]
    data = {"budget_id": str(budget["id"]), "enterprise_id": budget["enterprise_id"],
            "year": budget["year"], "metric": budget["metric"], "cap": budget["cap"],
            "to_date": budget["to_date"], "share": budget["share"], "threshold_pct": threshold,
            "forecast": budget["forecast"], "as_of": budget["as_of"].isoformat()}  # fmt: skip
    await enqueue(session, park_id=budget["park_id"], type=event_type, severity=severity, data=data)
