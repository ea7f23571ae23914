"""The 零碳园区 indicators of a year, both location- and market-based, against the targets
of the seeded ``carbon_target`` table (发改环资〔2025〕910号; the figures are marked verify).

单位能耗碳排放 = tCO₂ / tce (等价值): location-based counts every grid kWh at the grid
factor, market-based counts grid kWh covered by green power (绿电, 绿证) at 0, so buying green
power moves a park toward its target on the market basis only. The clean-energy share is
clean energy / total energy (当量值): location-based counts on-site clean carriers only,
market-based adds the green-power-covered grid kWh.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping

BASES = {
    "location": "Scope 2 location-based: grid kWh x the grid factor of the park's region",
    "market": "Scope 2 market-based: green-power-covered kWh at 0, the rest x the factor "
    "excluding market-traded non-fossil power",
}
FIELDS = {("co2_per_tce", "location"): "co2_per_tce_location",
          ("co2_per_tce", "market"): "co2_per_tce_market",
          ("clean_energy_share", "location"): "clean_energy_share_location",
          ("clean_energy_share", "market"): "clean_energy_share_market"}  # fmt: skip


def _target(targets: Sequence[RowMapping], indicator: str, tce: float) -> RowMapping | None:
    """The target of ``indicator`` for a park using ``tce`` a year (its band [min, max))."""
    for t in targets:
        low, high = t["min_tce"], t["max_tce"]
        if (
            t["indicator"] == indicator
            and (low is None or tce >= low)
            and (high is None or tce < high)
        ):
            return t
    return None


def _meets(value: float | None, target: RowMapping | None) -> bool | None:
    if value is None or target is None:
        return None
    threshold = float(target["threshold"])
    return value <= threshold if target["comparator"] == "<=" else value >= threshold


def indicators(totals: dict[str, Any], targets: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Each indicator on each basis with its target (None where the park's annual energy
    use is outside every band the notice sets) and whether it is met."""
    tce = float(totals.get("tce_equal_value") or 0.0)
    out = []
    for (indicator, basis), name in FIELDS.items():
        target = _target(targets, indicator, tce)
        value = totals.get(name)
        out.append({
            "indicator": indicator, "basis": basis, "basis_note": BASES[basis],
            "value": value, "comparator": target["comparator"] if target else None,
            "target": float(target["threshold"]) if target else None,
            "meets": _meets(value, target),
            "source": f"{target['document']}, {target['issuer']}" if target else None,
            "verify": bool(target["verify"]) if target else None,
        })  # fmt: skip
    return out
