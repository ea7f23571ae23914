"""The enterprise report workflow's rules, pure: the states and who moves a report between
them, the jump check against the previous month and the same month a year before, and the
monthly deadline.

States: ``draft`` → ``submitted`` → ``returned`` (with the park's comment) → ``resubmitted``
→ ``accepted``; the park may reopen an accepted report (back to ``returned``). The enterprise
(or park staff on its behalf) saves a draft or a returned report and submits it; the park
returns or accepts a submitted or resubmitted one.

The figures are the month's own (当月), never 累计 (January to the month): the 累计 the
overview shows are sums of accepted months, so a month compared with the month before is
like with like, and January is compared with December as any other month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.economy.repository import FIELDS

NONE = "none"  # no submission yet (not stored)
EDITABLE = ("draft", "returned")
IN_REVIEW = ("submitted", "resubmitted")
REPORTED = ("submitted", "resubmitted", "accepted")
"""The states in which the enterprise has done its part for the month (not overdue)."""

SAVE = {NONE: "draft", "draft": "draft", "returned": "returned"}
SUBMIT = {"draft": "submitted", "returned": "resubmitted"}
RETURN = {"submitted": "returned", "resubmitted": "returned"}
ACCEPT = {"submitted": "accepted", "resubmitted": "accepted"}
REOPEN = {"accepted": "returned"}
MOVES = {"save": SAVE, "submit": SUBMIT, "return": RETURN, "accept": ACCEPT, "reopen": REOPEN}

CHECKED = tuple(f for f in FIELDS if f not in ("digital_transformed", "digital_services"))
"""The numeric figures that are compared (the two yes/no indicators are not)."""
DEADLINE_TIME = time(12, 0)
"""Noon park-local, as NBS's 联网直报 deadlines (月后N日12时)."""


def next_state(action: str, state: str) -> str | None:
    """The state ``action`` leads to from ``state``, or None when it is not allowed."""
    return MOVES[action].get(state)


@dataclass(frozen=True)
class Comparison:
    month: str
    value: float | None  # the accepted figure of that month; None: no report or no figure
    ratio: float | None  # this month / that month, when both are non-zero
    flagged: bool
    reason: str  # 'ok', 'no_base', 'jump', 'drop', 'from_zero', 'to_zero', 'sign_change'


def compare(value: float | None, base: float | None, month: str, ratio: float) -> Comparison:
    """``value`` against ``base``: flagged when it is more than ``ratio`` times the base or
    less than 1/``ratio`` of it; from or to zero and a change of sign (profit to loss, a tax
    refund) are flagged too, as no ratio says how far they moved; 0 against 0 is fine."""
    if value is None or base is None:
        return Comparison(month, base, None, False, "no_base")
    if value == 0 or base == 0:
        reason = "ok" if value == base else "from_zero" if base == 0 else "to_zero"
        return Comparison(month, base, None, reason != "ok", reason)
    if (value > 0) != (base > 0):
        return Comparison(month, base, None, True, "sign_change")
    r = value / base
    reason = "jump" if r > ratio else "drop" if r < 1 / ratio else "ok"
    return Comparison(month, base, round(r, 4), reason != "ok", reason)


def month_key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def deadline(month: date, day: int, timezone: str) -> datetime:
    """When ``month``'s report is due: ``day`` of the following month at noon, park-local."""
    due = next_month(month).replace(day=day)
    return datetime.combine(due, DEADLINE_TIME, tzinfo=ZoneInfo(timezone))


def month_due_around(now: datetime, timezone: str) -> date:
    """The month whose report falls due in the park-local month of ``now``: the one before."""
    local = now.astimezone(ZoneInfo(timezone)).date()
    return previous_month(local.replace(day=1))


def latest_past_due(now: datetime, day: int, timezone: str) -> date:
    """The latest month whose deadline has passed at ``now``."""
    month = month_due_around(now, timezone)
    return month if deadline(month, day, timezone) <= now else previous_month(month)


def reminder_kind(now: datetime, due: datetime, remind: timedelta) -> str | None:
    """``due`` within ``remind`` ahead of ``now``, ``overdue`` once passed, else None."""
    if now >= due:
        return "overdue"
    return "due" if remind > timedelta(0) and now >= due - remind else None
