"""The message stream: devices in turn, at a fixed rate, with the faults real parks have.

Message ``k`` belongs to the ``k mod n``-th device of a seeded order and reads the park at
``start + k * speed / rate`` (simulated time); it is due ``k / rate`` seconds after the stream
starts (wall time). So every device reports every ``n * speed / rate`` simulated seconds, and
the same (park, seed, start, rate, speed, scenario) always gives the same bytes.

Faults, all seeded: timestamp jitter (at most a third of a device's period, so a device's
readings keep their order), dropped readings, store-and-forward batches (a device keeps 3-12
readings and sends them late as one array), and a small share of malformed messages (bad
JSON, unknown metrics, wrong shapes, timestamps out of range), which the ingestor rejects.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from sensors_sim.layout import Park
from sensors_sim.scenarios import SCENARIOS, Action, Scenario
from sensors_sim.signals import Signal, build_all

Reading = dict[str, Any]


@dataclass(frozen=True)
class Faults:
    jitter_ms: int = 250
    drop: float = 0.002  # share of readings lost
    late: float = 0.0005  # chance per reading that a device starts storing and forwarding
    late_readings: tuple[int, int] = (3, 12)
    malformed: float = 0.001  # share of messages that break the contract

    @classmethod
    def none(cls) -> Faults:
        return cls(jitter_ms=0, drop=0.0, late=0.0, malformed=0.0)


@dataclass(frozen=True)
class Message:
    due: float  # seconds after the stream's start (wall time)
    device: int  # index in park.devices
    topic: str
    payload: bytes


MALFORMED_KINDS = ("malformed_json", "unknown_metric", "invalid_schema", "timestamp_out_of_range")


def malformed(kind: str, reading: Reading) -> bytes:
    """A message that breaks the contract in the way ``kind`` names (the rejection reason)."""
    if kind == "malformed_json":
        return orjson.dumps(reading)[:-3]
    if kind == "unknown_metric":
        return orjson.dumps({"ts": reading["ts"], "values": {"flux_capacitance": 1.21}})
    if kind == "invalid_schema":
        return orjson.dumps({"ts": reading["ts"], "values": list(reading["values"])})
    return orjson.dumps({"ts": 978_307_200_000, "values": reading["values"]})  # 2001-01-01


class Stream:
    """Iterate for :class:`Message` s in due order (an endless stream)."""

    def __init__(
        self,
        park: Park,
        *,
        seed: int,
        start: float,
        rate: float,
        speed: float = 1.0,
        scenario: str | None = None,
        scenario_at: float = 60.0,
        scenario_duration: float = 300.0,
        faults: Faults | None = None,
        devices: list[int] | None = None,
    ) -> None:
        if rate <= 0 or speed <= 0:
            raise ValueError("rate and speed must be positive")
        self.park, self.seed, self.start = park, seed, start
        self.rate, self.speed = rate, speed
        self.faults = faults or Faults()
        self.signals: list[Signal] = build_all(park, seed, start)
        self.scenario: Scenario | None = None
        if scenario is not None:
            if scenario not in SCENARIOS:
                raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
            self.scenario = SCENARIOS[scenario](
                park, self.signals, seed, at=scenario_at, duration=scenario_duration
            )
        order = list(range(len(park.devices))) if devices is None else list(devices)
        random.Random(f"order/{park.id}/{seed}").shuffle(order)
        self.order = order
        self.topics = [f"parks/{park.id}/devices/{d.id}/telemetry" for d in park.devices]
        self.rng = random.Random(f"stream/{park.id}/{seed}")
        period_ms = len(order) * speed / rate * 1000
        self.jitter_ms = min(self.faults.jitter_ms, int(period_ms / 3))
        self.stored: dict[int, tuple[int, list[Reading]]] = {}  # store-and-forward
        self.held: list[Message] = []  # burst backlog

    def __iter__(self) -> Iterator[Message]:
        k = 0
        n = len(self.order)
        release = self.scenario.release_at() if self.scenario else None
        while n:
            index = self.order[k % n]
            s, due = k * self.speed / self.rate, k / self.rate
            k += 1
            if release is not None and s >= release and self.held:
                yield from (Message(due, m.device, m.topic, m.payload) for m in self.held)
                self.held.clear()
            message = self._next(index, s, due)
            if message is not None:
                yield message

    def _next(self, index: int, s: float, due: float) -> Message | None:
        t = self.start + s
        action = self.scenario.before(index, s, t) if self.scenario else Action.SEND
        if action is Action.SILENT:
            return None
        rng = self.rng
        values = self.signals[index].values(t, rng)
        jitter = rng.randint(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0
        reading: Reading = {"ts": int(t * 1000) + jitter, "values": values}
        faults = self.faults
        if faults.drop and rng.random() < faults.drop:
            return None
        payload = self._store_and_forward(index, reading)
        if payload is None:
            return None
        if faults.malformed and rng.random() < faults.malformed:
            payload = malformed(rng.choice(MALFORMED_KINDS), reading)
        message = Message(due, index, self.topics[index], payload)
        if action is Action.HOLD:
            self.held.append(message)
            return None
        return message

    def _store_and_forward(self, index: int, reading: Reading) -> bytes | None:
        """The payload to send now: the reading, nothing (kept for later), or a late batch."""
        stored = self.stored.get(index)
        if stored is None:
            if self.faults.late and self.rng.random() < self.faults.late:
                self.stored[index] = (self.rng.randint(*self.faults.late_readings), [reading])
                return None
            return orjson.dumps(reading)
        size, readings = stored
        readings.append(reading)
        if len(readings) < size:
            return None
        del self.stored[index]
        return orjson.dumps(readings)


def dry_run_lines(stream: Stream, count: int) -> Iterator[bytes]:
    """``topic<TAB>payload`` lines of the first ``count`` messages."""
    for n, message in enumerate(stream):
        if n >= count:
            return
        yield message.topic.encode() + b"\t" + message.payload + b"\n"
