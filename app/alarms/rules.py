"""The rule book: which alarm rules watch which readings, as the ingestor and the worker's timer
job see them (loaded once per connection, cleared when the registry or a rule changes).

The most specific rule of each type wins: a device's own, then its park's for the device type,
then the default for the type; at the park and default levels a rule for the gas the detector
measures (``attributes.gas`` of a toxic-gas detector, matched without regard to case) comes
before a rule for any gas. The watched topics (the telemetry of every device of a type some
rule watches) take the ingestor's urgent lane.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from app.alarms.engine import Level, Rule

Scope = tuple[str | None, str, str | None, str, str | None]  # park, type, device, metric, gas
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
class Condition:
    """Suppressed by design while this holds: the device's newest ``metric`` is below
    ``below`` or above ``above`` (e.g. ``running`` below 0.5: the machine is stopped)."""

    metric: str
    below: float | None = None
    above: float | None = None


@dataclass(frozen=True)
class StoredRule:
    id: int
    type: str
    rule: Rule
    suppress_when: Condition | None = None

    def alarm_type(self, level: int) -> str:
        """The alarm type of a level: a two-sided rule's sides are alarms of their own."""
        if not self.rule.low:
            return self.type
        return f"{self.type}_high" if level > 0 else f"{self.type}_low"


RULES_SQL = """
SELECT id, park_id, device_type, device_id, metric, type, direction, levels, deadband,
       on_delay_s, off_delay_s, latch, low_levels, gas, suppress_when
FROM alarm_rule WHERE enabled
"""

# The gas each detector measures, for the device types some gas-keyed rule watches.
GASES_SQL = """
SELECT park_id, id, lower(attributes->>'gas') FROM device
WHERE type = ANY(%s) AND attributes ? 'gas'
"""

# The MQTT telemetry topic of every device of the given types (the format of CONTRACT §1).
WATCHED_TOPICS = """
SELECT 'parks/' || park_id || '/devices/' || id || '/telemetry' FROM device WHERE type = ANY(%s)
"""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _levels(value: Any) -> tuple[Level, ...]:
    return tuple(Level(lv["severity"], float(lv["threshold"])) for lv in _json(value) or ())


def _condition(value: Any) -> Condition | None:
    data = _json(value)
    if not data:
        return None
    return Condition(data["metric"], data.get("below"), data.get("above"))


def build_rule(row: dict[str, Any]) -> StoredRule:
    return StoredRule(
        id=row["id"],
        type=row["type"],
        suppress_when=_condition(row.get("suppress_when")),
        rule=Rule(
            levels=_levels(row["levels"]),
            low=_levels(row.get("low_levels")),
            direction=row["direction"],
            deadband=row["deadband"],
            on_delay_us=int(row["on_delay_s"] * 1_000_000),
            off_delay_us=int(row["off_delay_s"] * 1_000_000),
            latch=row["latch"],
            rate=row["type"] == "rate_of_change",
        ),
    )


def ahead_of_backlog(stored: StoredRule) -> bool:
    """May ingest's fast path evaluate this rule with a reading ahead of the older ones still in
    the broker's backlog? Not with an on-delay: the delay runs from the first reading past the
    level, which may be in the backlog (evaluated later, it would be a late reading and change
    nothing, so the alarm would come later than in order)."""
    return stored.rule.on_delay_us == 0


class RuleBook:
    """The enabled rules, most specific first: a device's, then its park's, then the default."""

    def __init__(self) -> None:
        self._rules: dict[Scope, list[StoredRule]] | None = None
        self.by_id: dict[int, StoredRule] = {}
        self._gases: dict[tuple[str, str], str] = {}
        self._by_metric: dict[str, tuple[StoredRule, ...]] = {}  # every loaded rule, by metric

    def clear(self) -> None:
        self._rules = None

    @property
    def loaded(self) -> bool:
        return self._rules is not None

    def load(self, conn: psycopg.Connection) -> None:
        if self._rules is not None:
            return
        rules: dict[Scope, list[StoredRule]] = defaultdict(list)
        self.by_id, self._gases = {}, {}
        with conn.cursor(row_factory=dict_row) as cur:
            for row in cur.execute(RULES_SQL):
                stored = build_rule(row)
                self.by_id[stored.id] = stored
                gas = row["gas"].lower() if row["gas"] else None
                scope = (row["park_id"], row["device_type"], row["device_id"], row["metric"], gas)
                rules[scope].append(stored)
        gas_types = sorted({scope[1] for scope in rules if scope[4] is not None})
        if gas_types:
            for park, device, gas in conn.execute(GASES_SQL, (gas_types,)):
                self._gases[(park, device)] = gas
        self._rules = dict(rules)
        by_metric: dict[str, list[StoredRule]] = defaultdict(list)
        for scope, stored_rules in self._rules.items():
            by_metric[scope[3]] += stored_rules
        self._by_metric = {metric: tuple(found) for metric, found in by_metric.items()}

    def for_reading(
        self, park: str, device: str, device_type: str, metric: str
    ) -> list[StoredRule]:
        assert self._rules is not None
        chosen: dict[str, StoredRule] = {}
        gas = self._gases.get((park, device))
        for scope in (
            (park, device_type, device, metric, None),
            (park, device_type, None, metric, gas),
            (park, device_type, None, metric, None),
            (None, device_type, None, metric, gas),
            (None, device_type, None, metric, None),
        ):
            for stored in self._rules.get(scope, ()):
                chosen.setdefault(stored.type, stored)
        return list(chosen.values())

    def resolve(
        self,
        batch: Sequence[DeviceReadings],
        device_types: Mapping[tuple[str, str], str],
        only: Callable[[StoredRule], bool] | None = None,
    ) -> Readings:
        """The readings some rule watches, per (device, metric, rule); ``device_types`` gives
        each device's type. Only the metrics some rule of the type watches are looked at, and
        with ``only`` only the rules it admits."""
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
                        if only is None or only(rule):
                            found.setdefault((*key, metric, rule.id), []).append((us, value))
        return found

    def could_raise(self, metric: str, value: float) -> bool:
        """Could a reading of ``value`` raise or escalate an alarm at once under some loaded
        rule on ``metric`` (of any park, device type or device) that ``ahead_of_backlog``
        admits? True when such a rule asks for a level at that value from quiet, and for any
        value a rate rule judges (one reading cannot tell its rate). An over-approximation for
        ingest's fast path (ingest/fastpath.py); the evaluation itself decides."""
        assert self._rules is not None
        return any(
            ahead_of_backlog(stored) and (stored.rule.rate or stored.rule.raw_level(value, 0) != 0)
            for stored in self._by_metric.get(metric, ())
        )

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
