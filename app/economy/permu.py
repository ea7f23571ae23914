"""亩均效益评价 for a year (亩均论英雄).

For every enterprise of the park: its land in 亩 (permu_repository), its year's figures from
the monthly reports summed over the same months on both sides of each ratio (app.economy.annual),
its kWh from the meters and its total tce 等价值 from the carbon ledger. The firm class is
``above_scale`` when the 规上 register (app.economy.scale) has the firm 规上 at its last
month of the year, else ``small``.
Indicators:

- 规上: tax_per_mu = tax / land, value_added_per_mu = value added / land,
  value_added_per_energy = value added / energy (tce 等价值: the report's ``energy_tce``,
  else the carbon module's total for the month), value_added_per_emission = value added /
  emissions, labour_productivity = value added / average employees, rd_ratio = R&D / revenue;
- small firms: tax_per_mu, and tax_per_kwh = tax (yuan) / kWh.

Points = value / benchmark x weight; the score is their sum. A missing value is scored by the
benchmark's ``when_missing`` rule: ``average`` (the mean points of the class's firms that have
it: the Huangyan rule for emissions), ``zero``, or ``not_evaluated``. Not evaluated (grade T,
with the reason): younger than ``min_age_years`` at the year's end, no land, no report in the
year, or a ``not_evaluated`` item missing. The others are ranked within their class by score
(ties share the better rank) and graded by the cut-offs: the first grade whose ``upper_pct``
exceeds the share of the class ranked ahead (a firm alone in its class: A).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon import ledger as carbon_ledger
from app.carbon import summary as carbon_summary
from app.economy import (
    annual,
    config_repository,
    gb4754,
    permu_repository,
    power_repository,
    schemes,
)
from app.economy.annual import Year
from app.economy.calc import Benchmark, Firm, evaluate
from app.economy.schemas import IndicatorScore, PerMu, PerMuItem
from app.parks.deps import ParkContext

GRADE_RULE = (
    "ranked by score within the class (ties share the better rank); a firm gets the first "
    "grade whose cut-off exceeds the share of its class ranked ahead of it (ahead / firms)"
)
ENERGY_SOURCE = (
    "the report's energy_tce, else the firm's total tce 等价值 of the month from the carbon "
    "ledger (app.carbon: every metered or entered energy carrier, with its coefficient and "
    "source)"
)


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(tz)).astimezone(UTC)


async def carbon_tce(
    session: AsyncSession, ctx: ParkContext, year: int, enterprise_id: str
) -> dict[date, float]:
    """A firm's total tce 等价值 per month from the carbon module's ledger (the rule of
    carriers, coefficients and meter trees has its one home there), read for that firm only
    (``only``: its own meters, as the carbon report of one enterprise reads them)."""
    book = await carbon_ledger.build(
        session, park_id=ctx.park_id, tz=ctx.timezone, days=(date(year, 1, 1), date(year, 12, 31)),
        group_by="enterprise", step="month", only=enterprise_id,
    )  # fmt: skip
    book.lines = [x for x in book.lines if x.group == enterprise_id]
    rows = carbon_summary.rows(book, group_by="enterprise", interval="month",
                               start=date(year, 1, 1))  # fmt: skip
    return {r["period"].replace(day=1): float(r["tce_equal_value"]) for r in rows
            if r["tce_equal_value"]}  # fmt: skip


def _needs_carbon(months: list[RowMapping]) -> bool:
    """Whether a reported month lacks ``energy_tce`` (only then is the ledger read)."""
    return any(m["energy_tce"] is None for m in months)


def _exclusion(row: RowMapping, months: int, land: float, year: int, min_age: int) -> str | None:
    founded = row["founded_on"]
    if founded is not None and founded > date(year - min_age, 12, 31):
        return f"younger than {min_age} years at the end of {year} (founded {founded})"
    if not months:
        return f"no monthly report in {year}"
    if land <= 0:
        return f"no land held in {year} (no parcel, building or space lease)"
    return None


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _item(
    firm: Firm, row: RowMapping, land: float, benches: list[Benchmark], year: Year
) -> PerMuItem:
    scores = {
        b.indicator: IndicatorScore(
            value=firm.indicators.get(b.indicator),
            unit=b.unit,
            benchmark=b.benchmark,
            weight=b.weight,
            points=firm.points.get(b.indicator),
            rule=firm.rules.get(b.indicator),
            months=[_month(m) for m in year.months_used.get(b.indicator, [])],
            source=b.source,
        )
        for b in benches
    }
    return PerMuItem(
        enterprise_id=firm.enterprise_id,
        name=row["name"],
        firm_class=firm.firm_class,
        land_mu=land,
        indicators=scores,
        score=firm.score,
        rank=firm.rank,
        grade=firm.grade,
        reason=firm.excluded,
        share_ahead=firm.share_ahead,
        class_size=firm.class_size,
        months_reported=[_month(m) for m in year.months],
        missing_months=[_month(m) for m in year.missing],
        complete_year=year.complete,
        energy_from={_month(m): how for m, how in sorted(year.energy_from.items())},
    )


async def _inputs(session: AsyncSession, ctx: ParkContext, year: int) -> dict[str, Any]:
    """Everything the evaluation reads: reports, land, meter kWh, the carbon ledger's tce."""
    tz = ctx.timezone
    lo, hi = _midnight(date(year, 1, 1), tz), _midnight(date(year + 1, 1, 1), tz)
    reports: dict[str, list[RowMapping]] = defaultdict(list)
    for r in await permu_repository.months(session, ctx.park_id, year):
        reports[r["enterprise_id"]].append(r)
    kwh: dict[str, dict[date, float]] = defaultdict(dict)
    monthly = await power_repository.monthly_kwh(session, park_id=ctx.park_id, tz=tz, lo=lo, hi=hi)
    for (enterprise_id, month), value in monthly.items():
        kwh[enterprise_id][month] = value
    return {
        "enterprises": await permu_repository.enterprises(session, ctx.park_id),
        "reports": reports,
        "land": await permu_repository.land_mu(session, ctx.park_id, year),
        "kwh": kwh,
        "tce": {
            e: await carbon_tce(session, ctx, year, e)
            for e, months in reports.items()
            if _needs_carbon(months)
        },
        "above_scale": await permu_repository.above_scale(session, ctx.park_id, year),
    }


async def evaluate_year(
    session: AsyncSession, *, ctx: ParkContext, year: int, scheme: str | None = None
) -> PerMu:
    rules = await schemes.rules_for(session, ctx, year, scheme)
    data = await _inputs(session, ctx, year)
    events: dict[str, list[RowMapping]] = defaultdict(list)
    for e in await config_repository.events(session, ctx.park_id, year):
        events[e["enterprise_id"]].append(e)
    firms, years, applied = [], [], []
    for r in data["enterprises"]:
        e = r["enterprise_id"]
        mu = data["land"].get(e, 0.0)
        months = data["reports"].get(e, [])
        y = annual.figures(
            months, year=year, founded=r["founded_on"], land_mu=mu,
            carbon_tce=data["tce"].get(e, {}), kwh=data["kwh"].get(e, {}),
        )  # fmt: skip
        firm_class = "above_scale" if data["above_scale"].get(e) else "small"
        excluded = _exclusion(r, len(months), mu, year, rules.min_age) or schemes.out_of_scope(
            rules, gb4754.section(r["industry_code"]), firm_class, mu
        )
        firm = Firm(e, firm_class, y.indicators, excluded=excluded)
        applied.append(schemes.apply_events(firm, events.get(e, []), rules))
        firms.append(firm)
        years.append(y)
    evaluate(firms, rules.benches, rules.cutoffs)
    items = [
        _item(
            f, r, data["land"].get(r["enterprise_id"], 0.0), rules.benches[f.firm_class], y
        ).model_copy(update={"adjustments": a, "veto": f.veto if f.excluded is None else None})
        for f, r, y, a in zip(firms, data["enterprises"], years, applied, strict=True)
    ]
    return PerMu(
        year=year,
        benchmark_year=rules.benchmark_year,
        region=rules.region,
        cutoffs=dict(rules.cutoffs),
        grade_rule=GRADE_RULE,
        energy_source=ENERGY_SOURCE,
        sources=rules.sources,
        scheme=rules.scheme,
        items=items,
    )


def table(result: PerMu) -> tuple[list[str], list[list[Any]]]:
    """The evaluation as one table: a row per firm, value and points of every indicator."""
    names: list[str] = []
    for item in result.items:
        names += [n for n in item.indicators if n not in names]
    columns = ["enterprise_id", "name", "firm_class", "land_mu", "score", "rank", "grade",
               "reason"]  # fmt: skip
    for n in names:
        columns += [n, f"{n}_benchmark", f"{n}_points"]
    rows = []
    for i in result.items:
        row: list[Any] = [i.enterprise_id, i.name, i.firm_class, i.land_mu, i.score, i.rank,
                          i.grade, i.reason]  # fmt: skip
        for n in names:
            s = i.indicators.get(n)
            row += [s.value, s.benchmark, s.points] if s else [None, None, None]
        rows.append(row)
    return columns, rows
