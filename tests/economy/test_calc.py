"""The pure calculations: growth rates, grades by percentile, the anomaly rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.economy import gb4754
from app.economy.calc import (
    AnomalyRules,
    Benchmark,
    Change,
    Firm,
    anomalies,
    change,
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


def test_growth_on_a_negative_base() -> None:
    """NBS wording on a loss base, no percentage (国家统计局 工业企业利润 releases: 扭亏, 减亏,
    增亏); a profit turned to a loss is 转亏, also without a percentage."""
    assert change(120, 100) == Change(0.2)
    assert change(50, -100) == Change(None, "扭亏")  # loss of 100 to a profit of 50
    assert change(0, -100) == Change(None, "扭亏")
    assert change(-40, -100) == Change(None, "减亏")  # loss 100 -> 40
    assert change(-150, -100) == Change(None, "增亏")  # loss 100 -> 150
    assert change(-100, -100) == Change(None, "亏损持平")
    assert change(-10, 100) == Change(None, "转亏")
    assert change(10, 0) == Change(None) and change(None, -5) == Change(None)
    assert growth(-40, -100) is None  # never (-40 + 100) / -100 = -60 %


# 亩均 grades by the share of the class ranked ahead (ahead / n) against the cut-offs
# A < 20 %, B < 60 %, C < 95 %, else D (Huai'an 亩均 cut-offs, DOMAIN.md). By hand, distinct
# scores, the k-th firm has k - 1 ahead:
#  n=1: 0/1 -> A.                n=2: 0 -> A, 1/2 = 0.5 -> B.
#  n=3: 0 A, 1/3 = 0.33 B, 2/3 = 0.67 C (rank / count gave B, C, D).
#  n=7: 0, 1/7 = 0.14 A; 2/7 = 0.29, 3/7 = 0.43, 4/7 = 0.57 B; 5/7 = 0.71, 6/7 = 0.86 C.
#  n=19: A while k - 1 < 3.8 (4), B < 11.4 (8), C < 18.05 (7), no D.
#  n=20: A while k - 1 < 4 (4), B < 12 (8), C < 19 (7), D 1 (19/20 = 0.95 is not < 0.95).
#  n=21: A while k - 1 < 4.2 (5), B < 12.6 (8), C < 19.95 (7), D 1 (20/21 = 0.952).
SMALL_CLASSES = {
    1: "A",
    2: "AB",
    3: "ABC",
    7: "AABBBCC",
    19: "A" * 4 + "B" * 8 + "C" * 7,
    20: "A" * 4 + "B" * 8 + "C" * 7 + "D",
    21: "A" * 5 + "B" * 8 + "C" * 7 + "D",
}


@pytest.mark.parametrize("n", sorted(SMALL_CLASSES))
def test_grades_of_small_classes(n: int) -> None:
    assert "".join(grade_of(k, n, CUTOFFS) for k in range(n)) == SMALL_CLASSES[n]
    firms = [Firm(f"f{i:02d}", "above_scale", {"x": float(n - i)}) for i in range(n)]
    evaluate(firms, {"above_scale": [Benchmark("x", 1.0, 1.0, "not_evaluated")]}, CUTOFFS)
    assert "".join(f.grade for f in firms) == SMALL_CLASSES[n]
    assert [f.share_ahead for f in firms] == [k / n for k in range(n)]


def test_ties_share_the_better_grade() -> None:
    """Three firms tied first and one behind: nobody ahead of the three (A), 3/4 ahead of
    the last (0.75: C)."""
    firms = [Firm(f"f{i}", "above_scale", {"x": s}) for i, s in enumerate([5.0, 5.0, 5.0, 1.0])]
    evaluate(firms, {"above_scale": [Benchmark("x", 1.0, 1.0, "not_evaluated")]}, CUTOFFS)
    assert [f.grade for f in firms] == ["A", "A", "A", "C"]
    assert [f.rank for f in firms] == [1, 1, 1, 4]


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
