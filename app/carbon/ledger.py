"""The energy and carbon ledger: quantities from the repository priced with the coefficient
and factor versions in force, then summed per period and group.

A line is one (bucket, group, carrier, versions) quantity; every figure of a line comes from
the row ids it names, so a report can list them and an auditor recompute each line.
Market-based Scope 2: per group and calendar year, green power (contracts and 绿证) is
matched against the year's grid kWh (app/carbon/green.py); the covered share of each grid line
counts at 0, the rest at the market factor in force that day (the location factor where no
market factor is published). Biomass CO₂ is priced apart (``biogenic_t``), never in a scope.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon import factors as calc
from app.carbon import green, repository
from app.core.microcache import MicroCache

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
    factor_biogenic: int | None = None
    tce_equivalent: float = 0.0
    tce_equal_value: float = 0.0
    scope: int | None = None
    location_t: float = 0.0
    market_t: float = 0.0
    green_kwh: float = 0.0
    biogenic_t: float = 0.0


@dataclass
class Ledger:
    lines: list[Line]
    carriers: dict[str, RowMapping]
    coefficients: dict[int, RowMapping]
    factors: dict[int, RowMapping]
    matches: dict[tuple[str, int], green.Match] = field(default_factory=dict)
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


class Flights(MicroCache[Ledger]):
    """An API process's ledgers under way (``app_state(request).cache(Flights)``): reads that
    need the same ledger at the same time build it once. The cockpit's carbon panel asks the
    year to date's emissions and the budgets' year-to-date positions together, the same
    park ledger (8.5 s at 100,000 devices, docs/benchmarks.md). Nothing is kept: a read that
    begins after a build has finished builds again, and sees every write before it; a read
    that joins a build under way gets that build's figures (from the session of the read
    that began it). A ledger so shared is read, never changed."""

    def __init__(self) -> None:
        super().__init__(0, flights_only=True)


async def build(
    session: AsyncSession,
    *,
    park_id: str,
    tz: str,
    days: tuple[date, date],
    group_by: str,
    step: str,
    only: str | None = None,
    green_power: bool = True,
    flights: Flights | None = None,
) -> Ledger:
    """The ledger of every group (or of the group ``only``) over the local ``days``;
    ``green_power=False`` skips the matching (energy figures only); ``flights``: joins the
    same ledger's build under way, if any (:class:`Flights`)."""
    if flights is not None:
        key = (park_id, tz, days, group_by, step, only, green_power)
        return await flights.get(key, lambda: build(
            session, park_id=park_id, tz=tz, days=days, group_by=group_by, step=step,
            only=only, green_power=green_power,
        ))  # fmt: skip
    grid_region = await repository.region(session, park_id)
    rows = await repository.quantities(
        session, park_id=park_id, tz=tz, span=span(tz, *days), group_by=group_by, step=step,
        grid_region=grid_region, only=only,
    )  # fmt: skip
    lines = [_line(row) for row in rows]
    ids = {name: sorted({getattr(x, name) for x in lines} - {None}) for name in
           ("coefficient_equivalent", "coefficient_equal_value", "factor_location",
            "factor_market", "factor_biogenic")}  # fmt: skip
    coefficient_ids = ids["coefficient_equivalent"] + ids["coefficient_equal_value"]
    factor_ids = ids["factor_location"] + ids["factor_market"] + ids["factor_biogenic"]
    ledger = Ledger(
        lines=lines,
        carriers={r["carrier"]: r for r in await repository.carriers(session)},
        coefficients={r["id"]: r for r in await repository.coefficients(
            session, park_id, coefficient_ids)},
        factors={r["id"]: r for r in await repository.factors(session, park_id, factor_ids)},
    )  # fmt: skip
    months = _months(*days)
    ledger.matches = {} if not green_power else await _match(
        session, ledger, park_id=park_id, tz=tz, days=days, group_by=group_by,
        grid_region=grid_region, only=only,
    )  # fmt: skip
    for row in await repository.value_added(session, park_id, months):
        ledger.value_added[(str(row["enterprise_id"]), row["month"])] = float(row["value_added"])
    price(ledger)
    return ledger


def outside(days: tuple[date, date]) -> list[tuple[date, date]]:
    """The days of the calendar years ``days`` touch that ``days`` leaves out, as inclusive
    ranges: before its first day in the first year, after its last in the last year."""
    first, last = date(days[0].year, 1, 1), date(days[1].year, 12, 31)
    pieces = []
    if days[0] > first:
        pieces.append((first, days[0] - timedelta(days=1)))
    if days[1] < last:
        pieces.append((days[1] + timedelta(days=1), last))
    return pieces


async def _year_grid(
    session: AsyncSession, ledger: Ledger, *, park_id: str, tz: str, days: tuple[date, date],
    group_by: str, grid_region: str, only: str | None,
) -> dict[str, dict[date, float]]:  # fmt: skip
    """Grid kWh per group and month over the whole calendar years ``days`` touch: the
    ledger's own lines for ``days``, and the rest of those years read (``outside``). A day's
    quantity is its own (readings against the last one before the day; manual entries by
    day), so the pieces add up to the years: the year to date reads only the rest of the
    year, where it read the whole year again."""
    rows = [(x.group, x.bucket, x.quantity) for x in ledger.lines if x.carrier == GRID]
    for piece in outside(days):
        found = await repository.quantities(
            session, park_id=park_id, tz=tz, span=span(tz, *piece), group_by=group_by,
            step="month", grid_region=grid_region, only=only, carrier=GRID,
        )  # fmt: skip
        rows += [(str(r["group_key"]), r["bucket"], float(r["quantity"] or 0)) for r in found]
    grid: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for group, bucket, quantity in rows:
        grid[group][bucket.replace(day=1)] += quantity
    return grid


async def _match(
    session: AsyncSession, ledger: Ledger, *, park_id: str, tz: str, days: tuple[date, date],
    group_by: str, grid_region: str, only: str | None,
) -> dict[tuple[str, int], green.Match]:  # fmt: skip
    """Green power of each group and year matched against that year's grid kWh."""
    first, last = days[0].year, days[1].year
    found = await repository.green_records(
        session, park_id, group_by, (date(first, 1, 1), date(last + 1, 1, 1))
    )
    records: dict[str, list[green.Record]] = defaultdict(list)
    for r in found:
        if only is None or str(r["group_key"]) == only:
            records[str(r["group_key"])].append(green.Record(
                r["kind"], r["month"], float(r["kwh"]), r["certificate_id"]))  # fmt: skip
    if not records:
        return {}
    grid = await _year_grid(
        session, ledger, park_id=park_id, tz=tz, days=days, group_by=group_by,
        grid_region=grid_region, only=only,
    )  # fmt: skip
    return {
        (group, year): green.match(year, grid.get(group, {}), own)
        for group, own in records.items()
        for year in range(first, last + 1)
    }


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
    for line in ledger.lines:
        biogenic = _value(ledger.factors, line.factor_biogenic)
        if biogenic is not None:
            line.biogenic_t = calc.tco2(line.quantity, biogenic)
    _apply_green(ledger)


def _apply_green(ledger: Ledger) -> None:
    """Each grid line's share of its month's grid kWh covered by the year's matched green
    power counts at 0 in the market-based figure."""
    for line in ledger.lines:
        found = ledger.matches.get((line.group, line.bucket.year))
        if line.carrier != GRID or found is None:
            continue
        month = line.bucket.replace(day=1)
        share = calc.covered_share(found.grid_kwh_of(month), found.covered.get(month, 0.0))
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
