"""The pure calculations: growth rates, grades by percentile, the anomaly rules."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from app.economy import gb4754
from app.economy.calc import (
    AnomalyRules,
    Benchmark,
    Firm,
    anomalies,
    evaluate,
    grade_of,
    growth,
    shift_month,
)

CUTOFFS = [("A", 0.2), ("B", 0.6), ("C", 0.95), ("D", 1.0)]
RULES = AnomalyRules(drop_ratio=0.5, drop_window_days=3, zero_days=2, zero_kwh=0)


def test_growth_and_months() -> None:
    assert growth(120, 100) == 0.2
    assert growth(None, 100) is None and growth(5, None) is None and growth(5, 0) is None
    assert shift_month(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert shift_month(date(2026, 3, 1), -12) == date(2025, 3, 1)


def test_grades_of_twenty() -> None:
    grades = [grade_of(rank, 20, CUTOFFS) for rank in range(1, 21)]
    assert grades == ["A"] * 4 + ["B"] * 8 + ["C"] * 7 + ["D"]


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=60))
def test_grades_follow_scores(scores: list[float]) -> None:
    """A higher score never gets a worse grade, and equal scores get the same grade."""
    firms = [Firm(f"f{i}", "above_scale", {"x": s}) for i, s in enumerate(scores)]
    evaluate(firms, {"above_scale": [Benchmark("x", 1.0, 1.0, "not_evaluated")]}, CUTOFFS)
    order = "ABCD"
    for f in firms:
        for g in firms:
            if (f.score or 0) > (g.score or 0):
                assert order.index(f.grade) <= order.index(g.grade)
            if f.score == g.score:
                assert f.grade == g.grade


def test_anomaly_rules() -> None:
    assert anomalies([100, 100, 100, 40], RULES) == [
        ("sudden_drop", {"kwh": 40, "trailing_average_kwh": 100})
    ]
    assert anomalies([100, 100, 100, 60], RULES) == []
    assert anomalies([100, 100, 0, 0], RULES) == [("zero_load", {"kwh": 0, "days": 2.0})]
    assert anomalies([100, 0, 0, 0], RULES) == []  # the same outage, already raised
    assert anomalies([], RULES) == []


def test_sections() -> None:
    assert gb4754.section("C3484") == "C" and gb4754.section("2611") == "C"
    assert gb4754.section("65") == "I" and gb4754.section("I") == "I"
    assert gb4754.section(None) is None and gb4754.section("99") is None
