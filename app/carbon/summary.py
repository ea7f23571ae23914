"""Ledger lines summed per period and group: the rows of ``/carbon/energy`` and
``/carbon/emissions`` and the totals of the annual report."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from app.carbon import factors as calc
from app.carbon.ledger import Ledger, Line, period_of

ROUND = 6  # tonnes to the gram, kWh to the mWh: rounding noise only


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, ROUND)


def carrier_rows(ledger: Ledger, lines: list[Line]) -> list[dict[str, Any]]:
    by_carrier: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        by_carrier[line.carrier].append(line)
    rows = []
    for carrier, items in sorted(by_carrier.items()):
        meta = ledger.carriers[carrier]
        rows.append({
            "carrier": carrier, "unit": meta["unit"], "scope": meta["scope"],
            "energy": meta["energy"], "clean": meta["clean"],
            "quantity": _r(sum(x.quantity for x in items)),
            "tce_equivalent": _r(sum(x.tce_equivalent for x in items)),
            "tce_equal_value": _r(sum(x.tce_equal_value for x in items)),
            "location_t": _r(sum(x.location_t for x in items)),
            "market_t": _r(sum(x.market_t for x in items)),
            "green_kwh": _r(sum(x.green_kwh for x in items)),
            "biogenic_t": _r(sum(x.biogenic_t for x in items)),
        })  # fmt: skip
    return rows


def _renewable_tce(ledger: Ledger, lines: list[Line], basis: str) -> float:
    """Renewable energy (tce, ``basis``): renewable carriers (on-site PV, biomass) plus the
    grid kWh covered by green power (绿电, 绿证)."""
    tce = "tce_equivalent" if basis == "equivalent" else "tce_equal_value"
    own = sum(getattr(x, tce) for x in lines if ledger.carriers[x.carrier]["renewable"])
    bought = sum(getattr(x, tce) * x.green_kwh / x.quantity for x in lines if x.green_kwh)
    return float(own + bought)


def totals(
    ledger: Ledger, lines: list[Line], value_added: float | None, process_t: float = 0.0
) -> dict[str, Any]:
    """The totals of ``lines``; ``process_t``: process emissions entered for the period
    (Scope 1). Intensities and the clean-energy share both location- and market-based."""
    energy = [x for x in lines if ledger.carriers[x.carrier]["energy"]]
    tce_eq = sum(x.tce_equivalent for x in energy)
    tce_ev = sum(x.tce_equal_value for x in energy)
    own_clean = sum(x.tce_equivalent for x in energy if ledger.carriers[x.carrier]["clean"])
    bought = sum(x.tce_equivalent * x.green_kwh / x.quantity for x in energy if x.green_kwh)
    scope1 = sum(x.location_t for x in lines if x.scope == 1) + process_t
    scope2_location = sum(x.location_t for x in lines if x.scope == 2)
    scope2_market = sum(x.market_t for x in lines if x.scope == 2)
    location, market = scope1 + scope2_location, scope1 + scope2_market
    return {
        "tce_equivalent": _r(tce_eq),
        "tce_equal_value": _r(tce_ev),
        "tce_equivalent_excl_renewables": _r(tce_eq - _renewable_tce(ledger, energy, "equivalent")),
        "tce_equal_value_excl_renewables": _r(
            tce_ev - _renewable_tce(ledger, energy, "equal_value")
        ),
        "scope1_t": _r(scope1),
        "process_t": _r(process_t),
        "scope2_location_t": _r(scope2_location),
        "scope2_market_t": _r(scope2_market),
        "total_location_t": _r(location),
        "total_market_t": _r(market),
        "biogenic_t": _r(sum(x.biogenic_t for x in lines)),
        "green_kwh": _r(sum(x.green_kwh for x in lines)),
        "value_added": _r(value_added),
        "tce_per_value_added": _r(calc.ratio(tce_ev, value_added)),
        "co2_per_value_added": _r(calc.ratio(location, value_added)),
        "co2_per_tce": _r(calc.ratio(location, tce_ev)),
        "co2_per_tce_location": _r(calc.ratio(location, tce_ev)),
        "co2_per_tce_market": _r(calc.ratio(market, tce_ev)),
        "clean_energy_share": _r(calc.ratio(own_clean + bought, tce_eq)),
        "clean_energy_share_location": _r(calc.ratio(own_clean, tce_eq)),
        "clean_energy_share_market": _r(calc.ratio(own_clean + bought, tce_eq)),
    }


def value_added(ledger: Ledger, group_by: str, group: str, months: set[date]) -> float | None:
    """Value added of the group over ``months`` (10⁴ yuan), None when none is known."""
    if group_by == "building":
        return None
    known = [v for (e, m), v in ledger.value_added.items()
             if m in months and (group_by != "enterprise" or e == group)]  # fmt: skip
    return sum(known) if known else None


def rows(ledger: Ledger, *, group_by: str, interval: str, start: date) -> list[dict[str, Any]]:
    """One row per (period, group), with its carriers and totals."""
    grouped: dict[tuple[date, str], list[Line]] = defaultdict(list)
    for line in ledger.lines:
        group = line.carrier if group_by == "carrier" else line.group
        grouped[(period_of(line.bucket, interval, start), group)].append(line)
    out = []
    for (period, group), lines in sorted(grouped.items()):
        months = {x.bucket.replace(day=1) for x in lines}
        va = None if group_by == "carrier" else value_added(ledger, group_by, group, months)
        out.append({"period": period, "group": group, **totals(ledger, lines, va),
                    "carriers": carrier_rows(ledger, lines)})  # fmt: skip
    return out
