"""Alarm severity: the one definition (../shared/CONTRACT.md section 3), for Python and SQL.

Highest first: ``critical`` (red), ``major`` (orange), ``minor`` (yellow), ``warning`` (blue).
Events and alarms carry the name; whatever compares two severities uses :func:`rank` in Python
or :data:`RANKED` bound as a SQL text[] (``array_position(CAST(:ranked AS text[]), x)``: 1 for
warning up to 4 for critical; NULL for no severity).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Severity = Literal["critical", "major", "minor", "warning"]
Color = Literal["red", "orange", "yellow", "blue"]

SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
"""Highest first."""

COLORS: Final[dict[str, Color]] = dict(zip(SEVERITIES, get_args(Color), strict=True))
"""critical red, major orange, minor yellow, warning blue."""

CRITICAL: Final[Severity] = SEVERITIES[0]

RANKED: Final[list[str]] = list(reversed(SEVERITIES))
"""Lowest first, to bind as a text[]: ``array_position(CAST(:ranked AS text[]), severity)`` is
the rank (1 for warning up to 4 for critical), ``(CAST(:ranked AS text[]))[rank]`` the name."""

SQL_ORDER: Final[str] = "ARRAY[" + ", ".join(f"'{s}'" for s in reversed(SEVERITIES)) + "]"
"""A text[] literal, lowest first: ``array_position(SQL_ORDER, severity)`` is the rank."""


def rank(severity: str) -> int:
    """4 for critical down to 1 for warning."""
    return len(SEVERITIES) - SEVERITIES.index(severity)
