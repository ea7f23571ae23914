"""The pure carbon arithmetic: unit and property tests."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.carbon import factors

amounts = st.floats(min_value=0, max_value=1e9, allow_nan=False)


def test_combustion_factor_of_diesel() -> None:
    assert factors.combustion_factor(0.042652, 20.2, 0.98) == pytest.approx(3.0959, abs=5e-5)


def test_tce_and_tco2() -> None:
    assert factors.tce(1000, 0.1229) == pytest.approx(0.1229)
    assert factors.tco2(4700, 0.5306) == pytest.approx(2.49382)


@given(amounts, amounts)
def test_covered_share_is_a_share(grid: float, green: float) -> None:
    share = factors.covered_share(grid, green)
    assert 0 <= share <= 1
    if grid > 0:
        assert grid * (1 - share) == pytest.approx(max(grid - green, 0), abs=1e-6 * grid)


@given(amounts, amounts, st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_tce_is_linear(a: float, b: float, k: float) -> None:
    assert factors.tce(a + b, k) == pytest.approx(factors.tce(a, k) + factors.tce(b, k))


@given(amounts, st.integers(min_value=0, max_value=364))
def test_forecast_is_straight_line(value: float, day: int) -> None:
    as_of = date(2026, 1, 1) + timedelta(days=day)
    projected = factors.forecast(value, as_of, 2026)
    assert projected == pytest.approx(value * 365 / (day + 1))
    assert projected >= value


@given(amounts, st.floats(min_value=1e-3, max_value=1e9))
def test_crossed_thresholds(value: float, cap: float) -> None:
    crossed = factors.crossed(value, cap)
    assert (80 in crossed) == (value * 100 >= cap * 80)
    assert crossed == sorted(crossed)
    if 100 in crossed:
        assert 80 in crossed


def test_ratio_unknown() -> None:
    assert factors.ratio(1, 0) is None and factors.ratio(None, 2) is None
    assert factors.ratio(3, 2) == 1.5
