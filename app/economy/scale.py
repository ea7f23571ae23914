"""规上 (规模以上 / 限额以上) status as the statistics register fixes it.

The register (名录库) is updated once a year: a firm's status for year Y is its result for
year Y-1, the revenue of every month it should have reported (January, or its founding
month, to December) against the threshold of its industry sector in force for Y (as in 2011,
when the register of 2011 applied the new 2,000 × 10⁴ yuan standard to the results of 2010). A firm
whose Y-1 result is complete and reaches the threshold is 规上 for all of Y; one below it is
规下 for all of Y, however its revenue grows within Y (it enters for Y+1). A missing month is
not a zero: a year with a missing month gives no result, and the status of the year before
is carried (basis ``carried``). A firm with no earlier status (new, or first reported in Y),
or one that had not yet entered by its 累计 revenue, enters in the month its 累计 (January
to that month) revenue of Y reaches the threshold (basis ``cumulative``), as a newly opened
firm enters the register during the year.

The threshold depends on the sector (GB/T 4754 code, the most specific prefix of
``economy_scale_threshold``): industry 2,000 × 10⁴ yuan main-business revenue; wholesale
2,000, retail 500, accommodation and catering 200; services 2,000 / 1,000 / 500 by
section; each row versioned by ``valid_from`` and citing its NBS document. A sector without
a row gets no status from revenue.

Pure: every figure comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from app.economy import gb4754
from app.economy.annual import expected_months


@dataclass(frozen=True)
class Threshold:
    sector: str
    prefixes: tuple[str, ...]
    valid_from: date
    revenue: float
    source: str
    own: bool = False  # the park's own row (before the defaults)


@dataclass(frozen=True)
class Status:
    month: date
    above_scale: bool
    basis: str  # 'annual', 'carried', 'cumulative'
    revenue: float  # the revenue the status rests on (10⁴ yuan)
    months_reported: int
    threshold: Threshold


def _digits(code: str) -> str:
    return code.lstrip("ABCDEFGHIJKLMNOPQRST") if code[:1].isalpha() else code


def _specificity(code: str, prefix: str) -> int:
    """How closely ``prefix`` (a section letter or leading digits) matches ``code``; 0: not."""
    if prefix.isalpha():
        return 1 if gb4754.section(code) == prefix else 0
    return 1 + len(prefix) if _digits(code).startswith(prefix) else 0


def threshold_for(code: str | None, year: int, rows: Sequence[Threshold]) -> Threshold | None:
    """The threshold of the firm's sector in force in ``year`` (most specific
    prefix first, the park's own row before a default, then the newest version)."""
    if not code:
        return None
    best: tuple[int, bool, date] | None = None
    found = None
    for t in rows:
        score = max((_specificity(code, p) for p in t.prefixes), default=0)
        if score == 0 or t.valid_from > date(year, 12, 31):
            continue
        key = (score, t.own, t.valid_from)
        if best is None or key > best:
            best, found = key, t
    return found


def _annual(
    revenue: Mapping[date, float], year: int, founded: date | None, t: Threshold | None
) -> Status | None:
    """The complete result of ``year`` against ``t`` (None when a month is missing)."""
    months = expected_months(year, founded)
    if t is None or not months or any(m not in revenue for m in months):
        return None
    total = sum(revenue[m] for m in months)
    return Status(date(year + 1, 1, 1), total >= t.revenue, "annual", total, len(months), t)


def statuses(
    revenue: Mapping[date, float],
    *,
    code: str | None,
    founded: date | None,
    thresholds: Sequence[Threshold],
) -> list[Status]:
    """The status of every month from the first report to the last (``revenue``: the
    reported months' main revenue, 10⁴ yuan)."""
    if not revenue:
        return []
    first, last = min(revenue), max(revenue)
    out: list[Status] = []
    carried: Status | None = None
    for year in range(first.year, last.year + 1):
        t = threshold_for(code, year, thresholds)
        if t is None:
            continue
        result = _annual(revenue, year - 1, founded, t)
        if (
            result is None
            and carried is not None
            and (carried.above_scale or carried.basis != "cumulative")
        ):
            result = Status(carried.month, carried.above_scale, "carried", carried.revenue,
                            carried.months_reported, carried.threshold)  # fmt: skip
        cumulative, count, entered = 0.0, 0, False
        for m in range(1, 13):
            month = date(year, m, 1)
            if month in revenue:
                cumulative, count = cumulative + revenue[month], count + 1
            if month < first or month > last:
                continue
            if result is not None:
                status = Status(month, result.above_scale, result.basis, result.revenue,
                                result.months_reported, result.threshold)  # fmt: skip
            else:
                entered = entered or cumulative >= t.revenue
                status = Status(month, entered, "cumulative", cumulative, count, t)
            out.append(status)
        carried = out[-1] if out and out[-1].month.year == year else carried
    return out
