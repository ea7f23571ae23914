"""The pure rules: 绿证 matched over the year by vintage, steam by the guide's enthalpy method,
the 零碳园区 targets by the park's energy use. Every number is worked by hand."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.carbon import green, steam, zerocarbon

JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


def cert(month: date, ident: str) -> green.Record:
    """A 绿证: 1 certificate = 1,000 kWh (NDRC/NEA 绿证 rules)."""
    return green.Record("certificate", month, 1000.0, ident)


def test_certificates_matched_over_the_year_excess_stays_available() -> None:
    # grid 1500 (Jan) + 1000 (Feb) = 2500 kWh; five 绿证 of vintage January 2026 (5000 kWh).
    # Whole certificates that fit: 2 (2000 ≤ 2500; a third would need 3000). 3 stay available.
    records = [cert(JAN, f"GEC-{i}") for i in (5, 3, 1, 4, 2)]
    found = green.match(2026, {JAN: 1500.0, FEB: 1000.0}, records)
    assert (found.grid_kwh, found.certificate_kwh, found.kwh) == (2500, 2000, 2000)
    assert found.used == ["GEC-1", "GEC-2"]  # oldest vintage first, then by id
    assert found.excess == ["GEC-3", "GEC-4", "GEC-5"]
    # spread pro rata: Jan 1500 x 2000/2500 = 1200, Feb 1000 x 0.8 = 800
    assert found.covered == pytest.approx({JAN: 1200.0, FEB: 800.0})


def test_only_the_periods_vintage_counts() -> None:
    # a 2025 certificate cannot cover 2026 kWh; a 2026 certificate of December covers March
    records = [cert(date(2025, 12, 1), "OLD"), cert(date(2026, 12, 1), "DEC")]
    found = green.match(2026, {MAR: 1000.0}, records)
    assert found.used == ["DEC"] and found.excess == []
    assert found.covered == {MAR: 1000.0}
    assert green.match(2025, {date(2025, 6, 1): 3000.0}, records).used == ["OLD"]


def test_a_contract_covers_its_month_then_certificates_the_rest() -> None:
    # contract 2000 kWh in Jan against 1500 grid kWh: covers 1500 (the rest is not carried);
    # left: Feb 1000 → one certificate fits, the second stays available.
    records = [green.Record("contract", JAN, 2000.0), cert(JAN, "A"), cert(FEB, "B")]
    found = green.match(2026, {JAN: 1500.0, FEB: 1000.0}, records)
    assert (found.contract_kwh, found.certificate_kwh) == (1500, 1000)
    assert (found.used, found.excess) == (["A"], ["B"])
    assert found.covered == pytest.approx({JAN: 1500.0, FEB: 1000.0})


def test_no_grid_kwh_consumes_nothing() -> None:
    found = green.match(2026, {}, [cert(JAN, "A")])
    assert (found.used, found.excess, found.kwh) == ([], ["A"], 0)


@given(
    st.lists(st.floats(min_value=0, max_value=1e5), min_size=12, max_size=12),
    st.integers(min_value=0, max_value=300),
    st.lists(st.floats(min_value=1, max_value=1e5), max_size=12),
)
def test_never_more_consumed_than_matched(
    grid: list[float], certificates: int, contracts: list[float]
) -> None:
    months = [date(2026, m, 1) for m in range(1, 13)]
    records = [cert(months[i % 12], f"C{i:04d}") for i in range(certificates)]
    records += [green.Record("contract", months[i], kwh) for i, kwh in enumerate(contracts)]
    found = green.match(2026, dict(zip(months, grid, strict=True)), records)
    assert len(found.used) + len(found.excess) == certificates
    assert found.certificate_kwh == 1000 * len(found.used)  # consumed whole, matched in full
    assert found.kwh <= found.grid_kwh + 1e-6
    for month, kwh in found.covered.items():
        assert kwh <= found.grid[month] + 1e-6
    assert sum(found.covered.values()) == pytest.approx(found.kwh, abs=1e-6)
    if found.excess:  # one more certificate would not have fitted
        assert found.grid_kwh - found.kwh < 1000 + 1e-6


def test_steam_by_the_guides_enthalpy_method() -> None:
    # 工业其他行业企业温室气体排放核算方法与报告指南（试行）: heat = Ma x (Enst − 83.74) x 10⁻³ GJ,
    # CO₂ = heat x 0.11 tCO₂/GJ. Saturated steam at 1.0 MPa (abs): Enst = 2777.12 kJ/kg
    # (IAPWS-IF97; steam tables print 2777.1), so (2777.12 − 83.74) / 1000 = 2.69338 MJ/kg and
    # 2.69338 x 0.11 = 0.296272 kgCO₂/kg.
    h = steam.enthalpy(1.0, None)
    assert h == pytest.approx(2777.12, abs=0.01)
    assert steam.heat_mj_per_kg(h, 83.74) == pytest.approx(2.69338, abs=1e-5)
    assert steam.factor(h, 83.74, 0.11) == pytest.approx(0.296272, abs=1e-6)
    # superheated, 0.8 MPa and 200 °C: 2839.77 kJ/kg → (2839.77 − 83.74) x 0.11 / 1000
    superheated = steam.enthalpy(0.8, 200.0)
    assert superheated == pytest.approx(2839.77, abs=0.01)
    assert steam.factor(superheated, 83.74, 0.11) == pytest.approx(0.303163, abs=1e-6)
    # the old rule (0.1286 kgce/kg x 29.307 MJ/kgce x 0.11 = 0.4146) overstated by 40 %
    with pytest.raises(steam.SteamStateError):
        steam.enthalpy(1.0, 150.0)  # below the boiling point at 1.0 MPa (179.9 °C): water


TARGETS = [  # as seeded from 发改环资〔2025〕910号 (verify)
    {"indicator": "co2_per_tce", "min_tce": 200000, "max_tce": 1000000, "comparator": "<=",
     "threshold": 0.20, "document": "910号", "issuer": "NDRC", "verify": True},
    {"indicator": "co2_per_tce", "min_tce": 1000000, "max_tce": None, "comparator": "<=",
     "threshold": 0.30, "document": "910号", "issuer": "NDRC", "verify": True},
    {"indicator": "clean_energy_share", "min_tce": None, "max_tce": None, "comparator": ">=",
     "threshold": 0.90, "document": "910号", "issuer": "NDRC", "verify": True},
]  # fmt: skip


def _by(items: list[dict[str, object]]) -> dict[tuple[object, object], dict[str, object]]:
    return {(i["indicator"], i["basis"]): i for i in items}


def test_zero_carbon_indicators_on_both_bases() -> None:
    # a park of 500,000 tce: 单位能耗碳排放 ≤ 0.20. Location 0.25 misses it; with green power
    # the market-based 0.18 meets it. Clean share 0.85 (location) misses 90 %, 0.92 meets it.
    totals = {"tce_equal_value": 500000.0, "co2_per_tce_location": 0.25,
              "co2_per_tce_market": 0.18, "clean_energy_share_location": 0.85,
              "clean_energy_share_market": 0.92}  # fmt: skip
    found = _by(zerocarbon.indicators(totals, TARGETS))  # type: ignore[arg-type]
    assert found[("co2_per_tce", "location")]["meets"] is False
    assert found[("co2_per_tce", "market")]["meets"] is True
    assert found[("co2_per_tce", "market")]["target"] == 0.20
    assert found[("clean_energy_share", "location")]["meets"] is False
    assert found[("clean_energy_share", "market")]["meets"] is True
    big = _by(zerocarbon.indicators({**totals, "tce_equal_value": 2e6}, TARGETS))  # type: ignore[arg-type]
    assert big[("co2_per_tce", "location")]["target"] == 0.30
    assert big[("co2_per_tce", "location")]["meets"] is True
    small = _by(zerocarbon.indicators({**totals, "tce_equal_value": 5e4}, TARGETS))  # type: ignore[arg-type]
    assert small[("co2_per_tce", "location")]["target"] is None  # below every band
    assert small[("co2_per_tce", "location")]["meets"] is None
