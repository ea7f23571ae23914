"""The pure calculations: growth rates, grades by percentile, the anomaly rules."""

from __future__ import annotations

from datetime import date, timedelta

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
    day_class,
    evaluate,
    grade_of,
    growth,
    rest_day,
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
    work = ["working"] * 4
    assert anomalies([100, 100, 100, 40], work, RULES) == [
        ("sudden_drop", {"kwh": 40, "trailing_average_kwh": 100, "rest_day": 0.0,
                         "compared_days": 3.0})
    ]  # fmt: skip
    assert anomalies([100, 100, 100, 60], work, RULES) == []
    assert anomalies([100, 100, 0, 0], work, RULES) == [("zero_load", {"kwh": 0, "days": 2.0})]
    assert anomalies([100, 0, 0, 0], work, RULES) == []  # the same outage, already raised
    assert anomalies([], [], RULES) == []


def test_no_data_is_not_zero_load() -> None:
    """A day without any reading (communications outage) raises no_data once, never
    zero_load nor a drop; zero load needs days with data."""
    work = ["working"] * 4
    assert anomalies([100, 100, 100, None], work, RULES) == [("no_data", {"last_kwh": 100})]
    assert anomalies([100, 100, None, None], work, RULES) == []  # raised the day before
    # two days of data at zero after the outage: zero load (2 days); one is not enough
    assert anomalies([100, None, 0, 0], work, RULES) == [("zero_load", {"kwh": 0, "days": 2.0})]
    assert anomalies([100, None, None, 0], work, RULES) == []


def test_a_firm_resting_on_sundays_raises_nothing() -> None:
    """Seven weeks of 100 kWh Monday-Saturday and 10 on Sunday (window 7, ratio 0.5).
    The old rule: Sunday against the 7 days before it, (6 x 100 + 10) / 7 = 87.1: 10 < 43.6,
    a drop every week. By the calendar: Sunday against the Sundays before it (10 each), a
    Saturday (worked) against Saturdays (100 each): no drop. A Sunday at 4 (< 0.5 x 10) is a
    drop; a Monday at 40 against working days (100) is one."""
    rules = AnomalyRules(drop_ratio=0.5, drop_window_days=7, zero_days=3, zero_kwh=0)
    first = date(2026, 3, 2)  # a Monday
    days = [first + timedelta(days=i) for i in range(49)]
    classes = [day_class(d, {}) for d in days]
    assert classes[5:7] == ["saturday", "sunday"]
    kwh: list[float | None] = [10.0 if d.weekday() == 6 else 100.0 for d in days]
    assert anomalies(kwh, classes, rules) == []
    assert anomalies(kwh[:-1], classes[:-1], rules) == []  # the Saturday
    assert anomalies([*kwh[:-1], 4.0], classes, rules)[0][0] == "sudden_drop"
    assert anomalies([*kwh, 40.0], [*classes, "working"], rules)[0][0] == "sudden_drop"


def test_calendar_days() -> None:
    """2026: Sunday Jan 4 a make-up working day (调休), Thursday Jan 1 a holiday (a Sunday
    class of rest), Saturday Jan 10 an ordinary Saturday."""
    kinds = {date(2026, 1, 4): "workday", date(2026, 1, 1): "holiday"}
    assert not rest_day(date(2026, 1, 4), kinds) and rest_day(date(2026, 1, 1), kinds)
    assert rest_day(date(2026, 1, 10), kinds) and not rest_day(date(2026, 1, 5), kinds)
    assert [day_class(date(2026, 1, d), kinds) for d in (1, 4, 5, 10, 11)] == [
        "sunday", "working", "working", "saturday", "sunday",
    ]  # fmt: skip


def test_sections() -> None:
    assert gb4754.section("C3484") == "C" and gb4754.section("2611") == "C"
    assert gb4754.section("65") == "I" and gb4754.section("I") == "I"
    assert gb4754.section(None) is None and gb4754.section("99") is None
