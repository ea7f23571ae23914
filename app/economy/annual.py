"""A firm's year for 亩均效益评价, from its monthly reports: every ratio sums its numerator and
its denominator over the same months.

- Reported months: the months with a report. The year is complete when every month from
  January (or the founding month, for a firm founded in the year) to December is reported;
  an incomplete year is flagged with its missing months, never filled with zeros.
- Energy of a month (tce 等价值): the report's ``energy_tce``, else the firm's total 等价值 tce
  from the carbon ledger (every energy carrier it meters or enters: electricity, gas, steam,
  heat, fuels), else unknown. ``value_added_per_energy`` sums value added and energy over the
  reported months whose energy is known; ``value_added_per_emission`` over those with
  emissions; ``tax_per_kwh`` over those with metered kWh.
- Flows per land: the reported months' sums over the year's land (land is a stock).

Pure: every figure comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.economy.calc import ratio

YUAN_PER_10K = 10_000  # the reports are in 10⁴ yuan

Month = Mapping[str, Any]


@dataclass
class Year:
    months: list[date]
    missing: list[date]
    indicators: dict[str, float | None] = field(default_factory=dict)
    months_used: dict[str, list[date]] = field(default_factory=dict)
    energy_from: dict[date, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.missing


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def expected_months(year: int, founded: date | None) -> list[date]:
    """The months a firm reports in ``year``: all twelve, from its founding month on."""
    if founded is not None and founded.year > year:
        return []
    first = founded.month if founded is not None and founded.year == year else 1
    return [date(year, m, 1) for m in range(first, 13)]


def _sum(rows: Sequence[Month], get: Callable[[Month], float | None]) -> float | None:
    values = [v for v in (get(r) for r in rows) if v is not None]
    return sum(values) if values else None


def figures(
    reports: Sequence[Month],
    *,
    year: int,
    founded: date | None,
    land_mu: float,
    carbon_tce: Mapping[date, float],
    kwh: Mapping[date, float],
) -> Year:
    """The year's indicators of one firm (``reports``: its months, each with ``month``)."""
    reported = sorted(r["month"] for r in reports)
    out = Year(months=reported, missing=[m for m in expected_months(year, founded)
                                         if m not in set(reported)])  # fmt: skip
    energy: dict[date, float] = {}
    for r in reports:
        if r["energy_tce"] is not None:
            energy[r["month"]], out.energy_from[r["month"]] = float(r["energy_tce"]), "report"
        elif carbon_tce.get(r["month"], 0) > 0:
            energy[r["month"]], out.energy_from[r["month"]] = carbon_tce[r["month"]], "carbon"
    with_energy = [r for r in reports if r["month"] in energy]
    with_emissions = [r for r in reports if r["emissions"] is not None]
    with_kwh = [r for r in reports if kwh.get(r["month"], 0) > 0]

    def va(rows: Sequence[Month]) -> float | None:
        return _sum(rows, lambda r: _f(r["value_added"]))

    def tax(rows: Sequence[Month]) -> float | None:
        return _sum(rows, lambda r: _f(r["tax"]))

    tax_yuan = tax(with_kwh)
    employees = _sum(reports, lambda r: _f(r["employees"]))
    rows_of = {
        "tax_per_mu": (reports, ratio(tax(reports), land_mu)),
        "value_added_per_mu": (reports, ratio(va(reports), land_mu)),
        "value_added_per_energy": (
            with_energy, ratio(va(with_energy), _sum(with_energy, lambda r: energy[r["month"]]))
        ),
        "value_added_per_emission": (
            with_emissions, ratio(va(with_emissions), _sum(with_emissions,
                                                           lambda r: _f(r["emissions"])))
        ),
        "labour_productivity": (
            reports, ratio(va(reports), None if employees is None else employees / len(reports))
        ),
        "rd_ratio": (
            reports, ratio(_sum(reports, lambda r: _f(r["rd_spend"])),
                           _sum(reports, lambda r: _f(r["revenue"])))
        ),
        "revenue_per_mu": (reports, ratio(_sum(reports, lambda r: _f(r["revenue"])), land_mu)),
        "tax_per_energy": (
            with_energy, ratio(tax(with_energy), _sum(with_energy, lambda r: energy[r["month"]]))
        ),
        "tax_per_kwh": (
            with_kwh, ratio(None if tax_yuan is None else tax_yuan * YUAN_PER_10K,
                            sum(kwh[r["month"]] for r in with_kwh) or None)
        ),
    }  # fmt: skip
    for name, (rows, value) in rows_of.items():
        out.indicators[name] = value
        out.months_used[name] = sorted(r["month"] for r in rows)
    return out
