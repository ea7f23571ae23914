"""The rule book: which alarm rules watch which readings, as the ingestor and the worker's timer
job see them (loaded once per connection, cleared when the registry or a rule changes).

The most specific rule of each type wins: a device's own, then its park's for the device type,
then the default for the type. The watched topics (the telemetry of every device of a type some
rule watches) take the ingestor's urgent lane.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from app.alarms.engine import Level, Rule

Scope = tuple[str | None, str, str | None, str]  # park, device type, device, metric
Key = tuple[str, str, str, int]  # park, device, metric, rule id
Readings = dict[Key, list[tuple[int, float]]]  # per key, its (time in us, value) readings


class DeviceReadings(Protocol):
    """One device's accepted readings (ingest's ``Telemetry``): (time in us, metric, value)."""

    @property
    def park_id(self) -> str: ...
    @property
    def device_id(self) -> str: ...
    @property
    def readings(self) -> Sequence[tuple[int, str, float]]: ...


@dataclass(frozen=True)
class StoredRule:
    id: int
    type: str
    rule: Rule


RULES_SQL = """
SELECT id, park_id, device_type, device_id, metric, type, direction, levels, deadband,
       on_delay_s, off_delay_s, latch
FROM alarm_rule WHERE enabled
"""

# The MQTT telemetry topic of every device of the given types (the format of CONTRACT §1).
WATCHED_TOPICS = """
SELECT 'parks/' || park_id || '/devices/' || id || '/telemetry' FROM device WHERE type = ANY(%s)
"""


def build_rule(row: dict[str, Any]) -> StoredRule:
    levels = row["levels"] if isinstance(row["levels"], list) else json.loads(row["levels"])
    return StoredRule(
        id=row["id"],
        type=row["type"],
        rule=Rule(
            levels=tuple(Level(lv["severity"], float(lv["threshold"])) for lv in levels),
            direction=row["direction"],
            deadband=row["deadband"],
            on_delay_us=int(row["on_delay_s"] * 1_000_000),
            off_delay_us=int(row["off_delay_s"] * 1_000_000),
            latch=row["latch"],
            rate=row["type"] == "rate_of_change",
        ),
    )


class RuleBook:
    """The enabled rules, most specific first: a device's, then its park's, then the default."""

    def __init__(self) -> None:
        self._rules: dict[Scope, list[StoredRule]] | None = None
        self.by_id: dict[int, StoredRule] = {}

    def clear(self) -> None:
        self._rules = None

    @property
    def loaded(self) -> bool:
        return self._rules is not None

    def load(self, conn: psycopg.Connection) -> None:
        if self._rules is not None:
            return
        rules: dict[Scope, list[StoredRule]] = defaultdict(list)
        with conn.cursor(row_factory=dict_row) as cur:
            for row in cur.execute(RULES_SQL):
                stored = build_rule(row)
                self.by_id[stored.id] = stored
                scope = (row["park_id"], row["device_type"], row["device_id"], row["metric"])
                rules[scope].append(stored)
        self._rules = dict(rules)

    def for_reading(
        self, park: str, device: str, device_type: str, metric: str
    ) -> list[StoredRule]:
        assert self._rules is not None
        chosen: dict[str, StoredRule] = {}
        for scope in (
            (park, device_type, device, metric),
            (park, device_type, None, metric),
            (None, device_type, None, metric),
        ):
            for stored in self._rules.get(scope, ()):
                chosen.setdefault(stored.type, stored)
        return list(chosen.values())

    def resolve(
        self, batch: Sequence[DeviceReadings], device_types: Mapping[tuple[str, str], str]
    ) -> Readings:
        """The readings some rule watches, per (device, metric, rule); ``device_types`` gives
        each device's type. Only the metrics some rule of the type watches are looked at."""
        assert self._rules is not None
        watched_by_type: dict[str, frozenset[str]] = {}
        found: Readings = {}
        for item in batch:
            key = (item.park_id, item.device_id)
            device_type = device_types[key]
            watched = watched_by_type.get(device_type)
            if watched is None:
                watched = watched_by_type[device_type] = self.watched_metrics(device_type)
            if not watched:
                continue
            for us, metric, value in item.readings:
                if metric in watched:
                    for rule in self.for_reading(*key, device_type, metric):
                        found.setdefault((*key, metric, rule.id), []).append((us, value))
        return found

    def watched_types(self) -> frozenset[str]:
        """The device types some rule watches (of any park or device)."""
        assert self._rules is not None
        return frozenset(k[1] for k in self._rules)

    def watched_metrics(self, device_type: str) -> frozenset[str]:
        """The metrics of this device type that some rule watches (a cheap pre-filter)."""
        assert self._rules is not None
        return frozenset(k[3] for k in self._rules if k[1] == device_type)

    def watched_topics(self, conn: psycopg.Connection) -> frozenset[str]:
        """The telemetry topics of every device of a type some rule watches (one query; none
        when no rule is loaded)."""
        types = sorted(self.watched_types())
        rows = conn.execute(WATCHED_TOPICS, (types,)).fetchall() if types else []
        return frozenset(topic for (topic,) in rows)
