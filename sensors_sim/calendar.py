"""Working days in China: weekends, public holidays and the make-up working days (调休).

From the State Council's annual notices on public holidays (国务院办公厅关于…部分节假日安排的
通知) for 2025 and 2026. Outside those years only weekends count as rest days.
"""

from __future__ import annotations

from datetime import date, timedelta


def _span(first: str, days: int) -> set[date]:
    start = date.fromisoformat(first)
    return {start + timedelta(days=i) for i in range(days)}


HOLIDAYS: frozenset[date] = frozenset(
    # 2025: 元旦, 春节, 清明, 劳动节, 端午, 国庆+中秋
    _span("2025-01-01", 1)
    | _span("2025-01-28", 8)
    | _span("2025-04-04", 3)
    | _span("2025-05-01", 5)
    | _span("2025-05-31", 3)
    | _span("2025-10-01", 8)
    # 2026: 元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆
    | _span("2026-01-01", 3)
    | _span("2026-02-15", 9)
    | _span("2026-04-04", 3)
    | _span("2026-05-01", 5)
    | _span("2026-06-19", 3)
    | _span("2026-09-25", 3)
    | _span("2026-10-01", 7)
)
"""Public holidays (rest days, whatever the weekday)."""

MAKEUP_WORKDAYS: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in (
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    )
)
"""Saturdays and Sundays that are working days in exchange for a longer holiday."""


def is_workday(day: date) -> bool:
    if day in HOLIDAYS:
        return False
    if day in MAKEUP_WORKDAYS:
        return True
    return day.weekday() < 5


def day_kind(day: date) -> str:
    """``workday``, ``saturday`` (a normal Saturday), ``rest`` (Sunday) or ``holiday``."""
    if day in HOLIDAYS:
        return "holiday"
    if is_workday(day):
        return "workday"
    return "saturday" if day.weekday() == 5 else "rest"
