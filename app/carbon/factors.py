"""Pure carbon and energy arithmetic: no database, no figures (every coefficient and factor
comes from the versioned tables and is passed in).

Units: quantities in the carrier's unit; coefficients in kgce per unit; factors in kgCO₂ per
unit; results in tce and tCO₂.
"""

from __future__ import annotations

import calendar
from datetime import date

CO2_PER_C = 44.0 / 12.0
"""Molar mass ratio CO₂ / C (a constant of chemistry, not a factor)."""

KG_PER_T = 1000.0


def combustion_factor(ncv: float, carbon_content: float, oxidation: float) -> float:
    """kgCO₂ per unit of fuel: NCV (GJ/unit) x carbon content (tC/TJ = kgC/GJ) x oxidation
    rate x 44/12."""
    return ncv * carbon_content * oxidation * CO2_PER_C


def tce(quantity: float, kgce_per_unit: float) -> float:
    """Tonnes of standard coal of ``quantity``."""
    return quantity * kgce_per_unit / KG_PER_T


def tco2(quantity: float, kgco2_per_unit: float) -> float:
    """Tonnes of CO₂ of ``quantity``."""
    return quantity * kgco2_per_unit / KG_PER_T


def covered_share(grid_kwh: float, green_kwh: float) -> float:
    """The share of grid kWh covered by green power (contracts and 绿证), in [0, 1]."""
    if grid_kwh <= 0 or green_kwh <= 0:
        return 0.0
    return min(green_kwh, grid_kwh) / grid_kwh


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is unknown or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def forecast(to_date: float, as_of: date, year: int) -> float:
    """Straight-line forecast of the year's total from the total up to ``as_of`` (inclusive)."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    if as_of >= end:
        return to_date
    if as_of < start:
        return 0.0
    elapsed = (as_of - start).days + 1
    return to_date * (366 if calendar.isleap(year) else 365) / elapsed


def crossed(value: float, cap: float, thresholds: tuple[int, ...] = (80, 100)) -> list[int]:
    """The thresholds (percent of ``cap``) that ``value`` has reached."""
    return [t for t in thresholds if value * 100 >= cap * t]
