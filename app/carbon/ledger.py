"""The energy and carbon ledger: quantities from the repository priced with the coefficient
and factor versions in force, then summed per period and group.

A line is one (bucket, group, carrier, versions) quantity; every figure of a line comes from
the row ids it names, so a report can list them and an auditor recompute each line.
Market-based Scope 2: per group and month, green power (contracts and 绿证) covers grid kWh
up to the month's grid kWh; the covered share of each grid line counts at 0, the rest at the
market factor in force that day (the location factor where no market factor is published).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon import factors as calc
from app.carbon import repository

GRID = "electricity_grid"


@dataclass
class Line:
    bucket: date
    group: str
    carrier: str
    quantity: float
    coefficient_equivalent: int | None
    coefficient_equal_value: int | None
    factor_location: int | None
    factor_market: int | None
    tce_equivalent: float = 0.0
    tce_equal_value: float = 0.0
    scope: int | None = None
    location_t: float = 0.0
    market_t: float = 0.0
    green_kwh: float = 0.0


@dataclass
class Ledger:
    lines: list[Line]
    carriers: dict[str, RowMapping]
    coefficients: dict[int, RowMapping]
    factors: dict[int, RowMapping]
    green: dict[tuple[str, date], RowMapping] = field(default_factory=dict)
    value_added: dict[tuple[str, date], float] = field(default_factory=dict)


def span(tz: str, start: date, end: date) -> tuple[datetime, datetime, date, date]:
    """Local midnights of ``start`` and the day after ``end`` (inclusive), and the dates."""
    zone = ZoneInfo(tz)
    after = end + timedelta(days=1)
    return (
        datetime.combine(start, time(), zone),
        datetime.combine(after, time(), zone),
        start,
        after,
    )


def _months(start: date, end: date) -> tuple[date, date]:
    last = end.replace(day=1)
    after = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return start.replace(day=1), after


async def build(
    session: AsyncSession,
    *,
    park_id: str,
    tz: str,
    days: tuple[date, date],
    group_by: str,
    step: str,
    only: str | None = None,
) -> Ledger:
    """The ledger of every group (or of the group ``only``) over the local ``days``."""
    grid_region = await repository.region(session, park_id)
    rows = await repository.quantities(
        session, park_id=park_id, tz=tz, span=span(tz, *days), group_by=group_by, step=step,
        grid_region=grid_region, only=only,
    )  # fmt: skip
    lines = [_line(row) for row in rows]
    ids = {name: sorted({getattr(x, name) for x in lines} - {None}) for name in
           ("coefficient_equivalent", "coefficient_equal_value", "factor_location",
            "factor_market")}  # fmt: skip
    coefficient_ids = ids["coefficient_equivalent"] + ids["coefficient_equal_value"]
    factor_ids = ids["factor_location"] + ids["factor_market"]
    ledger = Ledger(
        lines=lines,
        carriers={r["carrier"]: r for r in await repository.carriers(session)},
        coefficients={r["id"]: r for r in await repository.coefficients(
            session, park_id, coefficient_ids)},
        factors={r["id"]: r for r in await repository.factors(session, park_id, factor_ids)},
    )  # fmt: skip
    months = _months(*days)
    for row in await repository.green_by_month(session, park_id, group_by, months):
        ledger.green[(str(row["group_key"]), row["month"])] = row
    for row in await repository.value_added(session, park_id, months):
        ledger.value_added[(str(row["enterprise_id"]), row["month"])] = float(row["value_added"])
    price(ledger)
    return ledger


def _line(row: RowMapping) -> Line:
    values = {k: v for k, v in row.items() if k not in ("group_key", "quantity")}
    return Line(**values, group=str(row["group_key"]), quantity=float(row["quantity"] or 0))


def _value(table: dict[int, RowMapping], row_id: int | None) -> float | None:
    return None if row_id is None else float(table[row_id]["value"])


def price(ledger: Ledger) -> None:
    """Fill in every line's tce and tCO₂, then apply green power to the grid lines."""
    for line in ledger.lines:
        carrier = ledger.carriers[line.carrier]
        line.scope = carrier["scope"]
        line.tce_equivalent = calc.tce(
            line.quantity, _value(ledger.coefficients, line.coefficient_equivalent) or 0.0
        )
        line.tce_equal_value = calc.tce(
            line.quantity, _value(ledger.coefficients, line.coefficient_equal_value) or 0.0
        )
        if line.scope is None:
            continue
        location = _value(ledger.factors, line.factor_location) or 0.0
        market = _value(ledger.factors, line.factor_market)
        line.location_t = calc.tco2(line.quantity, location)
        line.market_t = calc.tco2(line.quantity, location if market is None else market)
    _apply_green(ledger)


def _apply_green(ledger: Ledger) -> None:
    grid: dict[tuple[str, date], list[Line]] = defaultdict(list)
    for line in ledger.lines:
        if line.carrier == GRID:
            grid[(line.group, line.bucket.replace(day=1))].append(line)
    for key, lines in grid.items():
        green = ledger.green.get(key)
        if green is None:
            continue
        share = calc.covered_share(sum(x.quantity for x in lines), float(green["kwh"]))
        for line in lines:
            line.green_kwh = line.quantity * share
            line.market_t *= 1 - share


def period_of(bucket: date, interval: str, start: date) -> date:
    if interval == "day":
        return bucket
    if interval == "month":
        return bucket.replace(day=1)
    if interval == "year":
        return date(bucket.year, 1, 1)
    return start
