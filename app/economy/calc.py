"""Pure calculations of the economy module: growth rates, 亩均效益 scores and grades,
electricity anomalies. No I/O: every figure comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date


def growth(current: float | None, base: float | None) -> float | None:
    """(current - base) / base; None when either is missing or the base is zero."""
    if current is None or base is None or base == 0:
        return None
    return (current - base) / base


def shift_month(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


# ---------------------------------------------------------------- 亩均效益评价


@dataclass(frozen=True)
class Benchmark:
    indicator: str
    benchmark: float
    weight: float
    when_missing: str  # 'average', 'zero', 'not_evaluated'
    unit: str | None = None


@dataclass
class Firm:
    enterprise_id: str
    firm_class: str  # 'above_scale' or 'small'
    indicators: dict[str, float | None]
    excluded: str | None = None  # why it is not evaluated (grade T), if so
    points: dict[str, float | None] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    score: float | None = None
    grade: str = "T"
    rank: int | None = None


def _direct_points(firm: Firm, benchmarks: Sequence[Benchmark]) -> None:
    for b in benchmarks:
        value = firm.indicators.get(b.indicator)
        if value is not None:
            firm.points[b.indicator] = value / b.benchmark * b.weight
        elif b.when_missing == "zero":
            firm.points[b.indicator], firm.rules[b.indicator] = 0.0, "missing: 0 points"
        elif b.when_missing == "average":
            firm.points[b.indicator], firm.rules[b.indicator] = None, "missing: average points"
        else:
            firm.excluded = f"{b.indicator}: no data"


def _fill_averages(firms: Sequence[Firm], benchmarks: Sequence[Benchmark]) -> None:
    """A missing item scored 'average' gets the mean points of the firms that have it."""
    for b in benchmarks:
        known = [f.points[b.indicator] for f in firms if f.points.get(b.indicator) is not None]
        mean = sum(p for p in known if p is not None) / len(known) if known else 0.0
        for f in firms:
            if b.indicator in f.points and f.points[b.indicator] is None:
                f.points[b.indicator] = mean


def grade_of(rank: int, count: int, cutoffs: Sequence[tuple[str, float]]) -> str:
    """The first grade whose cut-off holds rank / count (cut-offs in ascending order)."""
    position = rank / count
    for grade, upper in cutoffs:
        if position <= upper + 1e-12:
            return grade
    return cutoffs[-1][0]


def _grade(firms: Sequence[Firm], cutoffs: Sequence[tuple[str, float]]) -> None:
    """Rank by score (ties share the better rank) and grade by percentile."""
    ordered = sorted(firms, key=lambda f: (-(f.score or 0.0), f.enterprise_id))
    for f in ordered:
        f.rank = 1 + sum(1 for o in ordered if (o.score or 0.0) > (f.score or 0.0))
        f.grade = grade_of(f.rank, len(ordered), cutoffs)


def evaluate(
    firms: Sequence[Firm],
    benchmarks: Mapping[str, Sequence[Benchmark]],
    cutoffs: Sequence[tuple[str, float]],
) -> None:
    """Score and grade ``firms`` in place, each class on its own; excluded firms get T."""
    for firm_class, class_benchmarks in benchmarks.items():
        members = [f for f in firms if f.firm_class == firm_class and f.excluded is None]
        for f in members:
            _direct_points(f, class_benchmarks)
        evaluated = [f for f in members if f.excluded is None]
        _fill_averages(evaluated, class_benchmarks)
        for f in evaluated:
            f.score = sum(p for p in f.points.values() if p is not None)
        if evaluated:
            _grade(evaluated, cutoffs)
    for f in firms:
        if f.excluded is not None:
            f.score, f.grade, f.rank = None, "T", None


# ---------------------------------------------------------------- 电力看经济 anomalies


@dataclass(frozen=True)
class AnomalyRules:
    drop_ratio: float
    drop_window_days: int
    zero_days: int
    zero_kwh: float


def anomalies(days: Sequence[float], rules: AnomalyRules) -> list[tuple[str, dict[str, float]]]:
    """Anomalies of the last day of ``days`` (daily kWh, oldest first).

    ``sudden_drop``: the day below ``drop_ratio`` x the average of the ``drop_window_days``
    before it (when that average is positive). ``zero_load``: the last ``zero_days`` days all
    at or below ``zero_kwh``, and the day before them not (so a long outage raises once).
    """
    found: list[tuple[str, dict[str, float]]] = []
    if not days:
        return found
    today = days[-1]
    window = days[-1 - rules.drop_window_days : -1]
    if len(window) == rules.drop_window_days:
        average = sum(window) / len(window)
        if average > 0 and today < rules.drop_ratio * average and today > rules.zero_kwh:
            found.append(("sudden_drop", {"kwh": today, "trailing_average_kwh": average}))
    tail = days[-rules.zero_days :]
    if len(tail) == rules.zero_days and all(d <= rules.zero_kwh for d in tail):
        before = days[-rules.zero_days - 1] if len(days) > rules.zero_days else None
        if before is None or before > rules.zero_kwh:
            found.append(("zero_load", {"kwh": today, "days": float(rules.zero_days)}))
    return found
