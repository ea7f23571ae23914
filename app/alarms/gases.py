"""Toxic-gas concentrations: mg/m³ and ppm (pure).

ppm (µmol/mol) = mg/m³ × Vm / M, with Vm = 24.45 L/mol, the molar volume of an ideal gas at
25 °C and 101.325 kPa (the reference conditions of occupational exposure limits given in both
units, e.g. ACGIH TLVs and GBZ/T 300 sampling practice), and M the gas's molar mass in g/mol.
GB/T 50493-2019 §5.5.2 sets toxic-gas alarms at 100 % / 200 % of the OEL, which GBZ 2.1-2019
gives in mg/m³; a detector reading ppm is compared with the same limits converted.
"""

from __future__ import annotations

MOLAR_VOLUME_L_MOL = 24.45  # ideal gas at 25 °C (298.15 K) and 101.325 kPa

CONVERSION = "ppm = mg/m³ × 24.45 / M (molar volume 24.45 L/mol at 25 °C, 101.325 kPa)"


def mg_m3_to_ppm(mg_m3: float, molar_mass: float) -> float:
    """A concentration in mg/m³ as ppm (by volume) at 25 °C and 101.325 kPa."""
    return mg_m3 * MOLAR_VOLUME_L_MOL / molar_mass


def ppm_to_mg_m3(ppm: float, molar_mass: float) -> float:
    return ppm * molar_mass / MOLAR_VOLUME_L_MOL
