"""Severity is spelled once (app/core/severity.py): the twin's status order and the incident
levels' webhook severities are derived from it."""

from __future__ import annotations

from app.assets.twin.status import STATUSES, worst
from app.core.severity import RANKED, SEVERITIES, rank
from app.emergency.calc import LEVEL_SEVERITY, LEVELS


def test_the_twin_puts_open_alarms_first_in_severity_order() -> None:
    assert STATUSES[:4] == ("critical", "major", "minor", "warning")
    assert STATUSES[4:] == ("offline", "maintenance", "unknown", "normal")
    assert worst(["offline", "minor", "normal"]) == "minor"


def test_incident_levels_take_the_alarm_severity_of_their_colour() -> None:
    # CONTRACT section 3: critical red, major orange, minor yellow, warning blue.
    assert [LEVEL_SEVERITY[level] for level in LEVELS] == ["critical", "major", "minor", "warning"]


def test_the_sql_rank_array_is_lowest_first() -> None:
    assert RANKED == ["warning", "minor", "major", "critical"]
    assert (
        [RANKED.index(s) + 1 for s in SEVERITIES] == [rank(s) for s in SEVERITIES] == [4, 3, 2, 1]
    )
