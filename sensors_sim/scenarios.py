"""Scenarios: scripted events in simulated time, the same for the same seed.

A scenario starts ``at`` simulated seconds after the stream's start and picks its targets from
the park with its own seeded generator. Before each reading the stream asks it
:meth:`Scenario.before`, which may change the device's state (gas, smoke, an outage) and
answers whether the reading is sent, withheld for a later burst, or never sent (the device is
silent).

- ``gas_leak``: a leak at a gas detector; every gas detector reads the leak's strength times
  e^(-distance/25 m), the strength ramping to 90 %LEL over ``ramp`` seconds, holding, then
  fading: the nearest pass 25 and then 50 %LEL, farther ones only 25 or nothing.
- ``fire``: smoke in one building, its smoke detectors going off floor by floor (the fire's floor
  first) and its temperature sensors climbing up to 45 °C above normal.
- ``power_outage``: a building's electricity meters and inverters read 0 kW (energy flat) for
  ``duration`` seconds.
- ``device_offline``: a few devices fall silent for good (on MQTT their connections drop
  without a goodbye, so the broker publishes their last will).
- ``meter_reset``: a few electricity meters restart from 0 kWh.
- ``burst``: a building's gateway loses its uplink for ``duration`` seconds, then replays the
  backlog at once.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import Enum

from sensors_sim.layout import Device, Park
from sensors_sim.signals import Climate, Electricity, GasDetector, Signal, SmokeDetector


class Action(Enum):
    SEND = "send"
    HOLD = "hold"  # keep for the burst
    SILENT = "silent"


@dataclass
class Scenario:
    park: Park
    signals: list[Signal]
    seed: int
    at: float = 60.0
    duration: float = 300.0
    targets: set[int] = field(default_factory=set)
    rng: random.Random = field(init=False)

    name = "none"

    def __post_init__(self) -> None:
        self.rng = random.Random(f"scenario/{self.name}/{self.park.id}/{self.seed}")
        self.choose()

    def choose(self) -> None:
        """Pick the devices the scenario acts on."""

    def before(self, index: int, s: float, t: float) -> Action:
        """Called before device ``index`` reads at ``s`` seconds into the stream (epoch ``t``)."""
        return Action.SEND

    def release_at(self) -> float | None:
        """When withheld readings go out (burst), in stream seconds."""
        return None

    def pick(self, device_type: str) -> Device | None:
        candidates = [d for d in self.park.devices if d.type == device_type]
        return self.rng.choice(candidates) if candidates else None


@dataclass
class GasLeak(Scenario):
    ramp: float = 120.0
    peak: float = 90.0
    length_m: float = 25.0
    source: tuple[float, float] = (0.0, 0.0)

    name = "gas_leak"

    def choose(self) -> None:
        origin = self.pick("gas_detector")
        if origin is None:
            return
        self.source = (origin.x, origin.y)
        self.targets = {d.index for d in self.park.devices if d.type == "gas_detector"}

    def strength(self, s: float) -> float:
        since = s - self.at
        if since < 0 or since > self.ramp + self.duration + self.ramp:
            return 0.0
        if since < self.ramp:
            return self.peak * since / self.ramp
        if since < self.ramp + self.duration:
            return self.peak
        return self.peak * (1 - (since - self.ramp - self.duration) / self.ramp)

    def before(self, index: int, s: float, t: float) -> Action:
        if index in self.targets:
            device = self.park.devices[index]
            distance = math.hypot(device.x - self.source[0], device.y - self.source[1])
            signal = self.signals[index]
            assert isinstance(signal, GasDetector)
            signal.extra = self.strength(s) * math.exp(-distance / self.length_m)
        return Action.SEND


@dataclass
class Fire(Scenario):
    building_id: str = ""
    floor: int = 1
    spread_s: float = 60.0

    name = "fire"

    def choose(self) -> None:
        origin = self.pick("smoke_detector")
        if origin is None:
            return
        self.building_id, self.floor = origin.building_id, origin.floor
        self.targets = {
            d.index
            for d in self.park.devices
            if d.building_id == self.building_id
            and d.type in ("smoke_detector", "temperature_sensor")
        }

    def before(self, index: int, s: float, t: float) -> Action:
        if index not in self.targets:
            return Action.SEND
        device, signal = self.park.devices[index], self.signals[index]
        delay = abs(device.floor - self.floor) * self.spread_s
        since = s - self.at - delay
        if isinstance(signal, SmokeDetector):
            signal.smoke = since >= 0
        elif isinstance(signal, Climate):
            signal.extra = 0.0 if since < 0 else min(45.0, 45.0 * since / 180.0)
        return Action.SEND


@dataclass
class PowerOutage(Scenario):
    building_id: str = ""

    name = "power_outage"

    def choose(self) -> None:
        origin = self.pick("electricity_meter")
        if origin is None:
            return
        self.building_id = origin.building_id
        self.targets = {
            d.index
            for d in self.park.devices
            if d.building_id == self.building_id and d.type in ("electricity_meter", "pv_inverter")
        }

    def before(self, index: int, s: float, t: float) -> Action:
        if index in self.targets:
            signal = self.signals[index]
            assert isinstance(signal, Electricity)
            signal.outage = self.at <= s < self.at + self.duration
        return Action.SEND


@dataclass
class DeviceOffline(Scenario):
    share: float = 0.05

    name = "device_offline"

    def choose(self) -> None:
        count = max(1, round(len(self.park.devices) * self.share))
        chosen = self.rng.sample(self.park.devices, min(count, len(self.park.devices)))
        self.targets = {d.index for d in chosen}

    def before(self, index: int, s: float, t: float) -> Action:
        return Action.SILENT if index in self.targets and s >= self.at else Action.SEND


@dataclass
class MeterReset(Scenario):
    count: int = 3
    done: set[int] = field(default_factory=set)

    name = "meter_reset"

    def choose(self) -> None:
        meters = [d for d in self.park.devices if d.type == "electricity_meter"]
        self.targets = {d.index for d in self.rng.sample(meters, min(self.count, len(meters)))}

    def before(self, index: int, s: float, t: float) -> Action:
        if index in self.targets and s >= self.at and index not in self.done:
            self.done.add(index)
            self.signals[index].reset(t)
        return Action.SEND


@dataclass
class Burst(Scenario):
    building_id: str = ""

    name = "burst"

    def choose(self) -> None:
        origin = self.pick("electricity_meter") or self.rng.choice(self.park.devices)
        self.building_id = origin.building_id
        self.targets = {d.index for d in self.park.devices if d.building_id == self.building_id}

    def before(self, index: int, s: float, t: float) -> Action:
        if index in self.targets and self.at <= s < self.at + self.duration:
            return Action.HOLD
        return Action.SEND

    def release_at(self) -> float:
        return self.at + self.duration


SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls for cls in (GasLeak, Fire, PowerOutage, DeviceOffline, MeterReset, Burst)
}
