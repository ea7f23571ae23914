"""The alarm module's side of the ingest seam: the rule book picks the readings its rules watch
(the most specific rule of each type), and names the topics that take the urgent lane; the
severity order is the same in Python and in SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

from app.alarms.rules import RuleBook
from app.core.severity import COLORS, SEVERITIES, SQL_ORDER, rank

LEVELS = '[{"severity": "minor", "threshold": 10}]'


@dataclass(frozen=True)
class Readings:
    park_id: str
    device_id: str
    readings: list[tuple[int, str, float]]


def a_park(db: psycopg.Connection[tuple[object, ...]]) -> str:
    """A park with gas detectors g1, g2 and a meter m1; g2 has a rule of its own."""
    park = f"rules-{uuid.uuid4().hex[:6]}"
    db.execute("INSERT INTO park (id, name) VALUES (%s, %s)", (park, park))
    for device, kind in (
        ("g1", "gas_detector"),
        ("g2", "gas_detector"),
        ("m1", "electricity_meter"),
    ):
        db.execute(
            "INSERT INTO device (park_id, id, type, name) VALUES (%s, %s, %s, %s)",
            (park, device, kind, device),
        )
    db.execute(
        "INSERT INTO alarm_rule (park_id, device_type, device_id, metric, type, levels)"
        " VALUES (%s, 'gas_detector', 'g2', 'gas_lel_pct', 'threshold', %s)",
        (park, LEVELS),
    )
    return park


def test_resolve_keeps_the_watched_readings_under_the_most_specific_rule(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    park = a_park(db)
    book = RuleBook()
    book.load(db)
    types = {(park, "g1"): "gas_detector", (park, "g2"): "gas_detector"}
    types[(park, "m1")] = "electricity_meter"
    batch = [
        Readings(park, "g1", [(1, "gas_lel_pct", 3.0), (2, "temperature", 20.0)]),
        Readings(park, "g2", [(1, "gas_lel_pct", 30.0), (2, "gas_lel_pct", 31.0)]),
        Readings(park, "m1", [(1, "power_kw", 5.0)]),
    ]
    found = book.resolve(batch, types)
    default = book.for_reading(park, "g1", "gas_detector", "gas_lel_pct")[0]
    own = book.for_reading(park, "g2", "gas_detector", "gas_lel_pct")[0]
    assert default.id != own.id
    assert own.rule.levels[0].severity == "minor"
    assert found == {
        (park, "g1", "gas_lel_pct", default.id): [(1, 3.0)],
        (park, "g2", "gas_lel_pct", own.id): [(1, 30.0), (2, 31.0)],
    }


def test_watched_topics_are_the_telemetry_of_every_watched_type(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    park = a_park(db)
    book = RuleBook()
    book.load(db)
    topics = book.watched_topics(db)
    assert f"parks/{park}/devices/g1/telemetry" in topics
    assert f"parks/{park}/devices/g2/telemetry" in topics
    assert f"parks/{park}/devices/m1/telemetry" not in topics


def test_the_sql_order_ranks_as_python_does(db: psycopg.Connection[tuple[object, ...]]) -> None:
    for severity in SEVERITIES:
        row = db.execute(f"SELECT array_position({SQL_ORDER}, %s)", (severity,)).fetchone()
        assert row is not None and row[0] == rank(severity)
    assert [rank(s) for s in SEVERITIES] == [4, 3, 2, 1]
    assert COLORS == {"critical": "red", "major": "orange", "minor": "yellow", "warning": "blue"}
