"""Purchased steam by the accounting guide's method (pure; no database).

工业其他行业企业温室气体排放核算方法与报告指南（试行）(发改办气候〔2015〕1722号), 外购热力:
the heat of purchased steam is AD = Ma x (Enst − 83.74) x 10⁻³ GJ, Ma the steam in t, Enst
its enthalpy in kJ/kg at the measured pressure and temperature (the guide's steam tables),
83.74 kJ/kg the enthalpy of water at 20 °C; its CO₂ = AD x the heat factor (0.11 tCO₂/GJ).
Enthalpy comes from IAPWS-IF97 (the formulation the guide's steam tables are printed from),
through the ``iapws`` package; the figures (83.74, 0.11) are passed in from the seeded tables.
"""

from __future__ import annotations

from iapws import IAPWS97  # type: ignore[import-untyped]

KELVIN = 273.15


class SteamStateError(ValueError):
    """Pressure and temperature do not describe steam (e.g. below the boiling point)."""


def enthalpy(pressure_mpa: float, temperature_c: float | None) -> float:
    """Specific enthalpy (kJ/kg) of saturated (``temperature_c`` None) or superheated steam."""
    saturated = IAPWS97(P=pressure_mpa, x=1)
    if temperature_c is None:
        return float(saturated.h)
    if temperature_c + KELVIN < float(saturated.T) - 1e-6:
        boiling = float(saturated.T) - KELVIN
        raise SteamStateError(
            f"{temperature_c} °C is below the boiling point {boiling:.1f} °C at "
            f"{pressure_mpa} MPa: not steam"
        )
    return float(IAPWS97(P=pressure_mpa, T=temperature_c + KELVIN).h)


def heat_mj_per_kg(enthalpy_kj_kg: float, feedwater_kj_kg: float) -> float:
    """Heat of 1 kg of steam by the guide: (Enst − 83.74) kJ/kg, in MJ/kg."""
    return (enthalpy_kj_kg - feedwater_kj_kg) / 1000.0


def factor(enthalpy_kj_kg: float, feedwater_kj_kg: float, heat_kg_per_mj: float) -> float:
    """kgCO₂ per kg of steam = heat (MJ/kg) x the heat factor (kgCO₂/MJ = tCO₂/GJ)."""
    return heat_mj_per_kg(enthalpy_kj_kg, feedwater_kj_kg) * heat_kg_per_mj
