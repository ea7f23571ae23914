"""The alarm module's side of the ingest seam: the rule book picks the readings its rules watch
(the most specific rule of each type), and names the topics that take the urgent lane; the
severity order is the same in Python and in SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import orjson
import psycopg

from app.alarms.rules import RuleBook, ahead_of_backlog
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


def test_a_toxic_detector_gets_the_rules_of_the_gas_it_measures(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    """Most specific first: the device's own rule, the park's for its gas, the park's for any
    gas, the default for its gas, the default for any gas (there is none for toxic gases)."""
    park = f"gas-{uuid.uuid4().hex[:6]}"
    db.execute("INSERT INTO park (id, name) VALUES (%s, %s)", (park, park))
    for device, gas in (("h", "H2S"), ("c", "cl2"), ("n", None), ("own", "H2S")):
        attributes = orjson.dumps({"gas": gas} if gas else {}).decode()
        db.execute(
            "INSERT INTO device (park_id, id, type, name, attributes) "
            "VALUES (%s, %s, 'toxic_gas_detector', %s, %s)",
            (park, device, device, attributes),
        )
    insert = (
        "INSERT INTO alarm_rule (park_id, device_type, device_id, metric, type, levels, gas) "
        "VALUES (%s, 'toxic_gas_detector', %s, 'concentration_mg_m3', 'threshold', %s, %s)"
    )
    db.execute(insert, (park, None, '[{"severity": "minor", "threshold": 5}]', "Cl2"))
    db.execute(insert, (park, "own", '[{"severity": "minor", "threshold": 3}]', None))
    book = RuleBook()
    book.load(db)

    def thresholds(device: str) -> list[float]:
        rules = book.for_reading(park, device, "toxic_gas_detector", "concentration_mg_m3")
        return [level.threshold for rule in rules for level in rule.rule.levels]

    assert thresholds("h") == [10.0, 20.0]  # the default for H₂S (GB/T 50493-2019)
    assert thresholds("c") == [5.0]  # the park's Cl₂ rule beats the default Cl₂ 1 / 2
    assert thresholds("n") == []  # no gas named: no toxic default
    assert thresholds("own") == [3.0]
    ppm = book.for_reading(park, "h", "toxic_gas_detector", "concentration_ppm")
    # H₂S: 10 mg/m³ × 24.45 / 34.08 = 7.174 ppm, 20 → 14.349 ppm
    assert [level.threshold for level in ppm[0].rule.levels] == [7.174, 14.349]


def test_a_change_of_a_devices_attributes_tells_the_rule_books(
    database_url: str,
) -> None:
    park = f"notify-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO park (id, name) VALUES (%s, %s)", (park, park))
        conn.execute(
            "INSERT INTO device (park_id, id, type, name) "
            "VALUES (%s, 't', 'toxic_gas_detector', 't')",
            (park,),
        )
        conn.execute("LISTEN parktwin_registry")
        list(conn.notifies(timeout=0.1, stop_after=100))  # what earlier statements sent
        conn.execute(
            "UPDATE device SET attributes = '{\"gas\": \"CO\"}' WHERE park_id = %s AND id = 't'",
            (park,),
        )
        assert [n.channel for n in conn.notifies(timeout=10, stop_after=1)] == ["parktwin_registry"]


def test_could_raise_names_the_readings_some_rule_asks_a_level_for(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    """The fast path's filter (ingest/fastpath.py): any rule of any park, device type or device
    on the metric; rolled back with the test, like the rules switched off here."""
    park = a_park(db)
    db.execute("UPDATE alarm_rule SET enabled = false")
    insert = (
        "INSERT INTO alarm_rule (park_id, device_type, device_id, metric, type, direction, "
        "levels, deadband) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    )
    high = '[{"severity": "major", "threshold": 25}, {"severity": "critical", "threshold": 50}]'
    low = '[{"severity": "minor", "threshold": 5}]'
    rate = '[{"severity": "warning", "threshold": 100}]'
    db.execute(insert, (park, "gas_detector", None, "gas_lel_pct", "threshold", "above", high, 2))
    db.execute(insert, (park, "gas_detector", "g1", "gas_lel_pct", "threshold", "below", low, 0))
    db.execute(
        insert, (None, "electricity_meter", None, "power_kw", "rate_of_change", "above", rate, 0)
    )
    smoke = '[{"severity": "critical", "threshold": 0.5}]'
    db.execute(insert, (park, "smoke_detector", None, "smoke", "state", "above", smoke, 0))
    db.execute(
        "UPDATE alarm_rule SET on_delay_s = 10 WHERE park_id = %s AND metric = 'smoke'", (park,)
    )
    book = RuleBook()
    book.load(db)
    assert book.could_raise("gas_lel_pct", 25.0)  # level 1 from quiet (no deadband from 0)
    assert book.could_raise("gas_lel_pct", 60.0)
    assert not book.could_raise("gas_lel_pct", 24.9)  # 23-25 is only the clearing band
    assert book.could_raise("gas_lel_pct", 5.0)  # g1's own rule, below
    assert not book.could_raise("gas_lel_pct", 5.1)
    assert book.could_raise("power_kw", 0.0)  # a rate: one reading cannot tell
    assert not book.could_raise("energy_kwh", 1e12)  # no rule on the metric
    # a rule with an on-delay raises from the first reading past its level, which may still be
    # in the backlog: the fast path leaves it to the readings in order
    assert not book.could_raise("smoke", 1.0)
    types = {(park, "g1"): "gas_detector", (park, "s1"): "smoke_detector"}
    batch = [
        Readings(park, "g1", [(1, "gas_lel_pct", 30.0)]),
        Readings(park, "s1", [(1, "smoke", 1.0)]),
    ]
    assert [key[2] for key in book.resolve(batch, types)] == ["gas_lel_pct", "smoke"]
    assert [key[2] for key in book.resolve(batch, types, ahead_of_backlog)] == ["gas_lel_pct"]
