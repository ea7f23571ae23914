"""Signal models: what each simulated device reads at a moment of simulated time.

Each device has a small state object (its counter, its wear); ``values(t, rng)`` advances it
to epoch seconds ``t`` and returns the reading. Noise comes from the ``rng`` the caller passes
in, so one seeded generator drives a whole stream and the stream is repeatable. Time of day,
kind of day and weather are shared through :class:`Environment` (cached per hour or per ten
minutes: the hot path is a few dictionary look-ups).

Counters only grow, except at a reset or a meter replacement, which each state records in
``resets`` (the simulated time it happened) so tests can tell those drops from bugs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sensors_sim.calendar import day_kind
from sensors_sim.industries import COMMON_AREAS, Industry
from sensors_sim.layout import ORIGIN, Device, Park
from sensors_sim.solar import clear_sky_share, sun_elevation

TZ_OFFSET_S = 8 * 3600  # Asia/Shanghai: UTC+8 all year, no daylight saving
MONTHLY_MEAN_C = (4.0, 6.0, 10.5, 16.0, 21.5, 25.5, 29.0, 28.5, 24.5, 19.0, 13.0, 6.5)
"""Suzhou's monthly mean air temperatures (°C)."""

REPLACEMENT_CHANCE = 2e-6
"""Chance per reading that a meter is swapped for a new one (its counter restarts at 0)."""


class Environment:
    """Calendar, weather and sun for the park, shared by every device."""

    def __init__(self, seed: int, lon: float = ORIGIN[0], lat: float = ORIGIN[1]) -> None:
        self.seed, self.lon, self.lat = seed, lon, lat
        self._hours: dict[int, tuple[int, str, float]] = {}
        self._clouds: dict[int, float] = {}
        self._sun: dict[int, float] = {}

    def hour(self, t: float) -> tuple[int, str, float]:
        """(local hour 0-23, kind of day, outdoor temperature °C) for the hour holding ``t``."""
        key = int(t // 3600)
        cached = self._hours.get(key)
        if cached is None:
            local = datetime.fromtimestamp(key * 3600 + TZ_OFFSET_S, UTC)
            mean = MONTHLY_MEAN_C[local.month - 1]
            temperature = mean + 4.0 * math.cos(2 * math.pi * (local.hour - 14) / 24)
            cached = (local.hour, day_kind(local.date()), temperature)
            self._hours[key] = cached
        return cached

    def load(self, industry: Industry, t: float) -> float:
        """The industry's share of peak load at ``t``, interpolated between hours."""
        hour, kind, _ = self.hour(t)
        following, next_kind, _ = self.hour(t + 3600)
        frac = (t % 3600) / 3600
        return (1 - frac) * industry.load(hour, kind) + frac * industry.load(following, next_kind)

    def cloud(self, t: float) -> float:
        """Share of sunlight getting through passing clouds (1 clear, ~0.2 overcast)."""
        step = 600.0
        key = int(t // step)
        a, b = self._cloud_at(key), self._cloud_at(key + 1)
        frac = (t % step) / step
        return (1 - frac) * a + frac * b

    def _cloud_at(self, key: int) -> float:
        value = self._clouds.get(key)
        if value is None:
            rng = random.Random(f"cloud/{self.seed}/{key}")
            thickness = max(0.0, rng.random() - 0.45) / 0.55
            value = 1.0 - 0.8 * thickness
            self._clouds[key] = value
        return value

    def sun(self, t: float) -> float:
        """Clear-sky PV share at ``t`` (per minute; exactly 0 with the sun down)."""
        key = int(t // 60)
        share = self._sun.get(key)
        if share is None:
            share = clear_sky_share(sun_elevation(key * 60.0, self.lon, self.lat))
            self._sun[key] = share
        return share


@dataclass
class Signal:
    """A device's state; subclasses read their metrics."""

    device: Device
    industry: Industry
    env: Environment
    last_t: float | None = None
    total: float = 0.0  # the counter, for counting devices
    resets: list[float] = field(default_factory=list)

    def values(self, t: float, rng: random.Random) -> dict[str, float | bool]:
        dt = 0.0 if self.last_t is None else max(0.0, t - self.last_t)
        self.last_t = t if self.last_t is None else max(t, self.last_t)
        if rng.random() < REPLACEMENT_CHANCE and self.total > 0:
            self.reset(t)
        return self.read(t, dt, rng)

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        raise NotImplementedError

    def reset(self, t: float) -> None:
        """The counter restarts from zero (a reset or a new meter)."""
        self.total = 0.0
        self.resets.append(t)


@dataclass
class Electricity(Signal):
    peak_kw: float = 100.0
    outage: bool = False

    def power(self, t: float, rng: random.Random) -> float:
        if self.outage:
            return 0.0
        return self.peak_kw * self.env.load(self.industry, t) * (1 + rng.gauss(0, 0.03))

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        power = max(0.0, self.power(t, rng))
        self.total += power * dt / 3600
        return {"energy_kwh": round(self.total, 3), "power_kw": round(power, 3)}


@dataclass
class MainMeter(Electricity):
    """A building's main meter: what its sub-meters draw plus about 5% losses and unmetered
    load, so the meter tree's gap (main − Σ sub) stays visible and plausible."""

    subs: list[Electricity] = field(default_factory=list)
    losses: float = 0.05

    def power(self, t: float, rng: random.Random) -> float:
        if self.outage or not self.subs:
            return super().power(t, rng)
        drawn = sum(m.peak_kw * self.env.load(m.industry, t) for m in self.subs if not m.outage)
        return drawn * (1 + self.losses) * (1 + rng.gauss(0, 0.01))


@dataclass
class Photovoltaic(Electricity):
    def power(self, t: float, rng: random.Random) -> float:
        share = self.env.sun(t)
        if share == 0.0 or self.outage:
            return 0.0
        return self.peak_kw * share * self.env.cloud(t) * (0.97 + rng.uniform(-0.01, 0.01))


@dataclass
class Flow(Signal):
    """Gas, water or steam meters: a flow per hour that follows the firm's load."""

    metric: str = "volume_m3"
    peak_per_h: float = 10.0
    decimals: int = 3

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        flow = self.peak_per_h * self.env.load(self.industry, t) * (1 + rng.gauss(0, 0.05))
        self.total += max(0.0, flow) * dt / 3600
        return {self.metric: round(self.total, self.decimals)}


@dataclass
class GasDetector(Signal):
    """Combustible gas in %LEL: sensor noise and zero drift near 0."""

    offset: float = 0.0
    extra: float = 0.0  # added by scenarios

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        value = max(0.0, self.offset + rng.gauss(0.0, 0.4)) + self.extra
        return {"gas_lel_pct": round(min(value, 100.0), 1)}


@dataclass
class ToxicDetector(Signal):
    extra: float = 0.0

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        value = max(0.0, rng.gauss(0.3, 0.25)) + self.extra
        return {"concentration_mg_m3": round(value, 2)}


@dataclass
class SmokeDetector(Signal):
    smoke: bool = False

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        return {"smoke": self.smoke}


@dataclass
class Climate(Signal):
    """Indoor temperature and humidity that follow the outdoor day, damped."""

    setpoint: float = 22.0
    extra: float = 0.0

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        _, _, outdoor = self.env.hour(t)
        temperature = 0.35 * outdoor + 0.65 * self.setpoint + rng.gauss(0, 0.2) + self.extra
        humidity = min(99.0, max(15.0, 70.0 - 1.2 * (temperature - 18.0) + rng.gauss(0, 1.0)))
        return {"temperature_c": round(temperature, 2), "humidity_pct": round(humidity, 1)}


@dataclass
class Equipment(Signal):
    """A machine that runs with its firm's shifts, idles now and then, and wears slowly:
    vibration and temperature creep up with age (``wear_per_year`` from ``installed_at``)."""

    base_vibration: float = 2.0
    installed_at: float = 0.0
    wear_per_year: float = 0.2
    stopped: bool = False

    def read(self, t: float, dt: float, rng: random.Random) -> dict[str, float | bool]:
        hour, kind, outdoor = self.env.hour(t)
        running = self.industry.running(hour, kind) and not self.stopped and rng.random() > 0.04
        wear = max(0.0, (t - self.installed_at) / (365 * 86_400)) * self.wear_per_year
        if running:
            self.total += dt / 3600
            vibration = self.base_vibration * (1 + wear) + abs(rng.gauss(0, 0.15))
            temperature = 0.3 * outdoor + 38.0 + 12.0 * wear + rng.gauss(0, 0.5)
        else:
            vibration = abs(rng.gauss(0.05, 0.03))
            temperature = 0.5 * outdoor + 12.0 + rng.gauss(0, 0.3)
        return {
            "running": running,
            "vibration_mm_s": round(vibration, 3),
            "temperature_c": round(temperature, 2),
            "runtime_h": round(self.total, 3),
        }


FLOWS = {  # type -> (metric, decimals, peak per hour for gas-using / other firms)
    "gas_meter": ("volume_m3", 3, (40.0, 400.0), (1.0, 8.0)),
    "water_meter": ("volume_m3", 3, (5.0, 40.0), (0.5, 5.0)),
    "steam_meter": ("mass_t", 4, (0.5, 5.0), (0.05, 0.3)),
}


def _flow(device: Device, industry: Industry, env: Environment, rng: random.Random) -> Signal:
    metric, decimals, heavy, light = FLOWS[device.type]
    low, high = heavy if industry.uses_gas else light
    return Flow(
        device,
        industry,
        env,
        total=rng.uniform(100, 50_000),
        metric=metric,
        peak_per_h=rng.uniform(low, high),
        decimals=decimals,
    )


def build(
    device: Device, industry: Industry, env: Environment, rng: random.Random, start: float
) -> Signal:
    """The device's initial state (counters part-way through a meter's life)."""
    kind = device.type
    if kind == "electricity_meter":
        low, high = industry.peak_kw
        main = bool(device.attributes.get("main_meter"))
        peak = rng.uniform(low, high) * (1.0 if main else rng.uniform(0.05, 0.3))
        meter = MainMeter if main else Electricity
        return meter(device, industry, env, total=rng.uniform(1e4, 5e6), peak_kw=peak)
    if kind == "pv_inverter":
        return Photovoltaic(
            device, industry, env, total=rng.uniform(1e4, 4e5), peak_kw=rng.uniform(50, 110)
        )
    if kind in FLOWS:
        return _flow(device, industry, env, rng)
    if kind == "gas_detector":
        return GasDetector(device, industry, env, offset=rng.uniform(-0.3, 0.5))
    if kind == "toxic_gas_detector":
        return ToxicDetector(device, industry, env)
    if kind == "smoke_detector":
        return SmokeDetector(device, industry, env)
    if kind == "temperature_sensor":
        return Climate(device, industry, env, setpoint=rng.uniform(20.0, 25.0))
    if kind == "equipment_monitor":
        return Equipment(
            device,
            industry,
            env,
            total=rng.uniform(500, 40_000),
            base_vibration=rng.uniform(1.0, 3.0),
            installed_at=start - rng.uniform(0, 6) * 365 * 86_400,
            wear_per_year=rng.uniform(0.05, 0.3),
        )
    raise ValueError(f"no signal model for device type {kind!r}")


def build_all(park: Park, seed: int, start: float) -> list[Signal]:
    env = Environment(seed)
    rng = random.Random(f"signals/{park.id}/{seed}")
    industries = {e.id: e.industry for e in park.enterprises}
    signals = [
        build(d, industries.get(d.enterprise_id or "", COMMON_AREAS), env, rng, start)
        for d in park.devices
    ]
    mains = {s.device.id: s for s in signals if isinstance(s, MainMeter)}
    for signal in signals:
        parent = mains.get(signal.device.parent_meter_id or "")
        if parent is not None and isinstance(signal, Electricity):
            parent.subs.append(signal)
    return signals
