"""Pure calculations of the economy module: growth rates, 亩均效益 scores and grades,
electricity anomalies. No I/O: every figure comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

GROWTH_SOURCE = (
    "国家统计局 practice for profit and tax on a loss base (e.g. 规模以上工业企业利润 releases): "
    "no percentage; 扭亏 (loss to non-loss), 减亏 (smaller loss), 增亏 (larger loss), "
    "转亏 (profit to loss)"
)


@dataclass(frozen=True)
class Change:
    """A 同比/环比: the rate, or (on a negative base, or a profit turned to loss) the NBS
    wording with no rate."""

    rate: float | None
    note: str | None = None


def change(current: float | None, base: float | None) -> Change:
    """The one owner of the growth rule.

    (current - base) / base when both are known, the base is positive and the current figure
    is not negative (a percentage of a loss reads backwards). On a negative base (a loss, a
    net tax refund): 扭亏 when the current figure is >= 0, 减亏 when the loss shrank, 增亏 when
    it grew, 亏损持平 when equal; from a positive base to a negative figure: 转亏. A zero base
    has no rate.
    """
    if current is None or base is None or base == 0:
        return Change(None)
    if base < 0:
        if current >= 0:
            return Change(None, "扭亏")
        if current == base:
            return Change(None, "亏损持平")
        return Change(None, "减亏" if current > base else "增亏")
    if current < 0:
        return Change(None, "转亏")
    return Change((current - base) / base)


def growth(current: float | None, base: float | None) -> float | None:
    """The rate of :func:`change` (None where the rule gives a wording instead)."""
    return change(current, base).rate


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
    source: str | None = None
    cap: float | None = None  # at most cap x weight points for the item


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
    share_ahead: float | None = None
    class_size: int | None = None
    bonus: float = 0.0  # 加分 / 减分 items of the scheme
    veto: str | None = None  # 一票否决: the item that sets D


def _direct_points(firm: Firm, benchmarks: Sequence[Benchmark]) -> None:
    for b in benchmarks:
        value = firm.indicators.get(b.indicator)
        if value is not None:
            points = value / b.benchmark * b.weight
            if b.cap is not None and points > b.cap * b.weight:
                points = b.cap * b.weight
                firm.rules[b.indicator] = f"capped at {b.cap:g} x weight"
            firm.points[b.indicator] = points
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


def grade_of(ahead: int, count: int, cutoffs: Sequence[tuple[str, float]]) -> str:
    """The first grade (cut-offs in ascending order) whose cut-off exceeds the share of the
    class ranked ahead of the firm, ``ahead / count``.

    A firm alone in its class, or first, has nobody ahead: grade A. With cut-offs 20/60/95 %
    a class of 20 gets 4 A, 8 B, 7 C and 1 D, as rank / count did; a class of 3 gets A, B, C
    (rank / count gave B, C, D). Compared in whole firms (ahead < cut-off x count) so that
    4 of 20 ahead is not "under 20 %" by a rounding error.
    """
    for grade, upper in cutoffs:
        if ahead < upper * count - 1e-9:
            return grade
    return cutoffs[-1][0]


def _grade(firms: Sequence[Firm], cutoffs: Sequence[tuple[str, float]]) -> None:
    """Rank by score (ties share the better rank) and grade by the share ranked ahead."""
    ordered = sorted(firms, key=lambda f: (-(f.score or 0.0), f.enterprise_id))
    for f in ordered:
        ahead = sum(1 for o in ordered if (o.score or 0.0) > (f.score or 0.0))
        f.rank, f.class_size, f.share_ahead = ahead + 1, len(ordered), ahead / len(ordered)
        f.grade = grade_of(ahead, len(ordered), cutoffs)


def evaluate(
    firms: Sequence[Firm],
    benchmarks: Mapping[str, Sequence[Benchmark]],
    cutoffs: Sequence[tuple[str, float]],
) -> None:
    """Score and grade ``firms`` in place, each class on its own; excluded firms get T.

    Points per item are capped at the benchmark's ``cap`` x weight; the score adds the
    firm's 加分 / 减分 (``bonus``); a firm with a 一票否决 item (``veto``) is ranked with the
    others but graded D.
    """
    for firm_class, class_benchmarks in benchmarks.items():
        members = [f for f in firms if f.firm_class == firm_class and f.excluded is None]
        for f in members:
            _direct_points(f, class_benchmarks)
        evaluated = [f for f in members if f.excluded is None]
        _fill_averages(evaluated, class_benchmarks)
        for f in evaluated:
            f.score = sum(p for p in f.points.values() if p is not None) + f.bonus
        if evaluated:
            _grade(evaluated, cutoffs)
        for f in evaluated:
            if f.veto is not None:
                f.grade = "D"  # 一票否决: whatever the score
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


CALENDAR_SOURCE = (
    "国务院办公厅 annual notices of public holidays and make-up working days (调休): 2025 "
    "国办发明电〔2024〕12号, 2026 notice of 2025-11-04; other days Monday-Friday work"
)


def rest_day(day: date, kinds: Mapping[date, str]) -> bool:
    """A public holiday, or a Saturday or Sunday that is not a make-up working day (调休)."""
    kind = kinds.get(day)
    if kind is not None:
        return kind == "holiday"
    return day.weekday() >= 5


def day_class(day: date, kinds: Mapping[date, str]) -> str:
    """``working``, ``saturday`` (a Saturday rest day: many plants work it) or ``sunday``
    (a Sunday rest day or a public holiday: the deepest rest). A day is compared with the
    days of its own class."""
    if not rest_day(day, kinds):
        return "working"
    return "saturday" if day.weekday() == 5 and kinds.get(day) is None else "sunday"


def _drop(
    days: Sequence[float | None], rest: Sequence[str], rules: AnomalyRules
) -> dict[str, float] | None:
    """The day against the average of the last ``drop_window_days`` days of its own class
    (:func:`day_class`) that have data; at least half the window of them."""
    today = days[-1]
    same = [d for d, r in zip(days[:-1], rest[:-1], strict=True) if r == rest[-1]]
    known = [d for d in same if d is not None][-rules.drop_window_days :]
    if today is None or len(known) < max(1, (rules.drop_window_days + 1) // 2):
        return None
    average = sum(known) / len(known)
    if average > 0 and rules.zero_kwh < today < rules.drop_ratio * average:
        return {"kwh": today, "trailing_average_kwh": average,
                "rest_day": float(rest[-1] != "working"),
                "compared_days": float(len(known))}  # fmt: skip
    return None


def _zero(
    days: Sequence[float | None], rest: Sequence[str], rules: AnomalyRules
) -> dict[str, float] | None:
    """The last ``zero_days`` working days all with data at or below ``zero_kwh`` (the day
    itself a working day), and the working day before them not: raised once per outage."""
    if rest[-1] != "working":
        return None
    working = [d for d, r in zip(days, rest, strict=True) if r == "working"]
    tail = working[-rules.zero_days :]
    if len(tail) < rules.zero_days or any(d is None or d > rules.zero_kwh for d in tail):
        return None
    before = working[-rules.zero_days - 1] if len(working) > rules.zero_days else None
    if before is not None and before <= rules.zero_kwh:
        return None
    return {"kwh": float(days[-1] or 0.0), "days": float(rules.zero_days)}


def anomalies(
    days: Sequence[float | None], rest: Sequence[str], rules: AnomalyRules
) -> list[tuple[str, dict[str, float]]]:
    """Anomalies of the last day of ``days`` (daily kWh, oldest first; None: no data that
    day; ``rest``: each day's :func:`day_class` by the park's calendar).

    ``no_data``: no reading at all on the day after a day with data (a communications
    outage, raised once; never read as zero load). ``sudden_drop``: the day below
    ``drop_ratio`` x the average of its own class of day (a Sunday against Sundays and
    holidays, a Saturday against Saturdays, a working day against working days), so a firm
    resting at weekends raises nothing. ``zero_load``: ``zero_days`` working days at or
    below ``zero_kwh``.
    """
    if not days:
        return []
    if days[-1] is None:
        before = days[-2] if len(days) > 1 else None
        return [] if before is None else [("no_data", {"last_kwh": before})]
    found = []
    for kind, rule in (("sudden_drop", _drop), ("zero_load", _zero)):
        detail = rule(days, rest, rules)
        if detail is not None:
            found.append((kind, detail))
    return found
