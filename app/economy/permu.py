"""亩均效益评价 for a year (亩均论英雄).

For every enterprise of the park: its land in 亩 (permu_repository), its year's figures from
the monthly reports, and its kWh from the meters. The firm class is ``above_scale`` when the
year's main revenue reaches ``above_scale_revenue`` (the 规上 rule on the calendar year),
else ``small``. Indicators:

- 规上: tax_per_mu = tax / land, value_added_per_mu = value added / land,
  value_added_per_energy = value added / energy (tce 等价值: the reports' ``energy_tce``,
  else meter kWh x ``electricity_tce_per_kwh``), value_added_per_emission = value added /
  emissions, labour_productivity = value added / average employees, rd_ratio = R&D / revenue;
- small firms: tax_per_mu, and tax_per_kwh = tax (yuan) / kWh.

Points = value / benchmark x weight; the score is their sum. A missing value is scored by the
benchmark's ``when_missing`` rule: ``average`` (the mean points of the class's firms that have
it: the Huangyan rule for emissions), ``zero``, or ``not_evaluated``. Not evaluated (grade T,
with the reason): younger than ``min_age_years`` at the year's end, no land, no report in the
year, or a ``not_evaluated`` item missing. The others are ranked within their class by score
(ties share the better rank) and graded by the cut-offs: the first grade whose ``upper_pct``
holds rank / count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.economy import config_repository, permu_repository, power_repository
from app.economy.calc import Benchmark, Firm, evaluate, ratio
from app.economy.schemas import IndicatorScore, PerMu, PerMuItem
from app.parks.deps import ParkContext

YUAN_PER_10K = 10_000  # the reports are in 10⁴ yuan


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(tz)).astimezone(UTC)


def _energy(row: RowMapping, kwh: float | None, tce_per_kwh: float) -> float | None:
    if row["energy_tce"] is not None:
        return float(row["energy_tce"])
    return kwh * tce_per_kwh if kwh else None


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def indicators(
    row: RowMapping, land: float, kwh: float | None, tce_per_kwh: float
) -> dict[str, float | None]:
    value_added, tax = _f(row["value_added"]), _f(row["tax"])
    emissions = _f(row["emissions"])
    return {
        "tax_per_mu": ratio(tax, land),
        "value_added_per_mu": ratio(value_added, land),
        "value_added_per_energy": ratio(value_added, _energy(row, kwh, tce_per_kwh)),
        "value_added_per_emission": ratio(value_added, emissions),
        "labour_productivity": ratio(value_added, _f(row["employees"])),
        "rd_ratio": ratio(_f(row["rd_spend"]), _f(row["revenue"])),
        "tax_per_kwh": ratio(None if tax is None else tax * YUAN_PER_10K, kwh),
    }


def _exclusion(row: RowMapping, land: float, year: int, min_age: int) -> str | None:
    founded = row["founded_on"]
    if founded is not None and founded > date(year - min_age, 12, 31):
        return f"younger than {min_age} years at the end of {year} (founded {founded})"
    if not row["months"]:
        return f"no monthly report in {year}"
    if land <= 0:
        return f"no land held in {year} (no parcel, building or space lease)"
    return None


def _benchmarks(rows: Sequence[RowMapping]) -> dict[str, list[Benchmark]]:
    out: dict[str, list[Benchmark]] = {"above_scale": [], "small": []}
    for r in rows:
        out[r["firm_class"]].append(
            Benchmark(r["indicator"], r["benchmark"], r["weight"], r["when_missing"], r["unit"])
        )
    return out


def _item(firm: Firm, row: RowMapping, land: float, benches: list[Benchmark]) -> PerMuItem:
    scores = {
        b.indicator: IndicatorScore(
            value=firm.indicators.get(b.indicator),
            unit=b.unit,
            benchmark=b.benchmark,
            weight=b.weight,
            points=firm.points.get(b.indicator),
            rule=firm.rules.get(b.indicator),
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
    )


async def evaluate_year(session: AsyncSession, *, ctx: ParkContext, year: int) -> PerMu:
    year_end = date(year, 12, 31)
    params = await config_repository.parameters(session, ctx.park_id, year_end)
    threshold = float(config_repository.value(params, "above_scale_revenue"))
    min_age = int(config_repository.value(params, "min_age_years"))
    tce_per_kwh = float(config_repository.value(params, "electricity_tce_per_kwh"))
    bench_rows = await config_repository.benchmarks(session, ctx.park_id, year)
    cut_rows = await config_repository.cutoffs(session, ctx.park_id, year)
    benches = _benchmarks(bench_rows)
    land = await permu_repository.land_mu(session, ctx.park_id, year)
    tz = ctx.timezone
    kwh = await power_repository.total_kwh(
        session,
        park_id=ctx.park_id,
        tz=tz,
        lo=_midnight(date(year, 1, 1), tz),
        hi=_midnight(date(year + 1, 1, 1), tz),
    )
    rows = await permu_repository.annual(session, ctx.park_id, year)
    firms = []
    for r in rows:
        mu = land.get(r["enterprise_id"], 0.0)
        firm_class = "above_scale" if (r["revenue"] or 0) >= threshold else "small"
        firm = Firm(r["enterprise_id"], firm_class,
                    indicators(r, mu, kwh.get(r["enterprise_id"]), tce_per_kwh),
                    excluded=_exclusion(r, mu, year, min_age))  # fmt: skip
        firms.append(firm)
    evaluate(firms, benches, [(c["grade"], c["upper_pct"]) for c in cut_rows])
    items = [
        _item(f, r, land.get(r["enterprise_id"], 0.0), benches[f.firm_class])
        for f, r in zip(firms, rows, strict=True)
    ]
    return PerMu(
        year=year,
        benchmark_year=bench_rows[0]["year"] if bench_rows else None,
        region=bench_rows[0]["region"] if bench_rows else None,
        cutoffs={c["grade"]: c["upper_pct"] for c in cut_rows},
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
