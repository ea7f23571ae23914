"""Scenarios on the stream, without services: what each does to the readings."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import orjson

from sensors_sim.layout import generate
from sensors_sim.scenarios import Burst, DeviceOffline, Fire, GasLeak, PowerOutage
from sensors_sim.stream import Faults, Message, Stream

PARK = generate("demo", 1, 300)
START = 1_795_838_400.0  # 2026-11-28T08:00:00+08:00


def run(
    scenario: str, seconds: float, rate: float = 300.0, **kw: Any
) -> tuple[Stream, list[Message]]:
    stream = Stream(
        PARK,
        seed=5,
        start=START,
        rate=rate,
        scenario=scenario,
        scenario_at=10.0,
        faults=Faults.none(),
        **kw,
    )
    out = []
    for message in stream:
        if message.due > seconds:
            break
        out.append(message)
    return stream, out


def by_device(messages: list[Message], metric: str) -> dict[int, list[tuple[int, Any]]]:
    series: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    for m in messages:
        for r in (lambda d: d if isinstance(d, list) else [d])(orjson.loads(m.payload)):
            if metric in r["values"]:
                series[m.device].append((r["ts"], r["values"][metric]))
    return series


def test_gas_leak_rises_with_distance() -> None:
    stream, messages = run("gas_leak", 200)
    scenario = stream.scenario
    assert isinstance(scenario, GasLeak)
    peaks = {i: max(v for _t, v in s) for i, s in by_device(messages, "gas_lel_pct").items()}

    def distance(i: int) -> float:
        d = PARK.devices[i]
        return math.hypot(d.x - scenario.source[0], d.y - scenario.source[1])

    nearest = min(peaks, key=distance)
    assert peaks[nearest] >= 50
    far = [i for i in peaks if distance(i) > 150]
    assert far and all(peaks[i] < 25 for i in far)
    ordered = sorted(peaks, key=distance)
    assert peaks[ordered[0]] >= peaks[ordered[-1]]


def test_fire_sets_off_smoke_and_heat() -> None:
    stream, messages = run("fire", 120)
    scenario = stream.scenario
    assert isinstance(scenario, Fire)
    smoke = by_device(messages, "smoke")
    in_building = [i for i in scenario.targets if PARK.devices[i].type == "smoke_detector"]
    assert any(smoke[i][-1][1] is True for i in in_building)
    elsewhere = [i for i in smoke if i not in scenario.targets]
    assert all(v is False for i in elsewhere for _t, v in smoke[i])


def test_power_outage_zeroes_a_building() -> None:
    stream, messages = run("power_outage", 60)
    scenario = stream.scenario
    assert isinstance(scenario, PowerOutage)
    power = by_device(messages, "power_kw")
    energy = by_device(messages, "energy_kwh")
    for i in scenario.targets:
        late = [v for t, v in power[i] if t >= (START + 12) * 1000]
        assert late and all(v == 0 for v in late)
        flat = [v for t, v in energy[i] if t >= (START + 12) * 1000]
        assert len(set(flat)) == 1


def test_device_offline_falls_silent() -> None:
    stream, messages = run("device_offline", 60)
    scenario = stream.scenario
    assert isinstance(scenario, DeviceOffline) and scenario.targets
    after = {m.device for m in messages if m.due * 1.0 > 11}
    assert not scenario.targets & after


def test_burst_replays_the_backlog_at_once() -> None:
    stream, messages = run("burst", 50, scenario_duration=20.0)
    scenario = stream.scenario
    assert isinstance(scenario, Burst)
    held = [
        m
        for m in messages
        if m.device in scenario.targets and 10 <= orjson.loads(m.payload)["ts"] / 1000 - START < 30
    ]
    assert len(held) > 10
    assert {m.due for m in held} == {30.0}  # all sent together when the link returns
