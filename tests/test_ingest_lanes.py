"""The ingest queue's urgent lane: alarm-watched readings go ahead of bulk meter readings, in
batches of their own, each lane under its own bound."""

from __future__ import annotations

import threading
import time

from ingest.lanes import Lanes


def test_urgent_messages_are_taken_first_and_alone() -> None:
    lanes: Lanes[str] = Lanes(100)
    for i in range(5):
        lanes.put(f"meter-{i}")
    lanes.put("gas-1", urgent=True)
    lanes.put("gas-2", urgent=True)
    assert lanes.take(10, 0.1, 0.0) == ["gas-1", "gas-2"]
    assert lanes.take(10, 0.1, 0.0) == [f"meter-{i}" for i in range(5)]
    assert lanes.take(10, 0.01, 0.0) == [] and lanes.empty()


def test_a_batch_is_limited_and_keeps_arrival_order() -> None:
    lanes: Lanes[int] = Lanes(100)
    for i in range(7):
        lanes.put(i)
    assert lanes.take(3, 0.1, 0.0) == [0, 1, 2]
    assert lanes.take(3, 0.1, 0.0) == [3, 4, 5]
    assert lanes.take(3, 0.1, 0.0) == [6]


def test_filling_a_normal_batch_stops_when_an_urgent_message_arrives() -> None:
    lanes: Lanes[str] = Lanes(100)
    lanes.put("meter-1")

    def later() -> None:
        time.sleep(0.05)
        lanes.put("gas-1", urgent=True)

    threading.Thread(target=later).start()
    # would wait up to 30 s for more meters; the urgent message ends the wait
    assert lanes.take(1000, 1.0, 30.0) == ["meter-1"]
    assert lanes.take(1000, 1.0, 0.0) == ["gas-1"]


def test_each_lane_is_bounded_apart_so_a_meter_backlog_never_blocks_a_gas_reading() -> None:
    lanes: Lanes[str] = Lanes(2)
    assert lanes.put("meter-1") and lanes.put("meter-2")
    assert not lanes.put("meter-3", timeout=0.01)  # full: paho's thread would wait here
    assert lanes.put("gas-1", urgent=True, timeout=0.01)
    assert lanes.put("gas-2", urgent=True) and not lanes.put("gas-3", urgent=True, timeout=0.01)
    assert lanes.qsize() == 4


def test_taking_makes_room_for_a_blocked_put() -> None:
    lanes: Lanes[str] = Lanes(1)
    lanes.put("a")
    done: list[bool] = []
    putter = threading.Thread(target=lambda: done.append(lanes.put("b", timeout=10)))
    putter.start()
    assert lanes.take(1, 1.0, 0.0) == ["a"]
    putter.join(10)
    assert done == [True] and lanes.take(1, 1.0, 0.0) == ["b"]


def test_device_of_a_topic() -> None:
    from ingest.pipeline import device_of

    assert device_of("parks/p1/devices/gas-7/telemetry") == ("p1", "gas-7")
    assert device_of("parks/p1/devices/gas-7/status") is None
    assert device_of("parks/p1/devices/telemetry") is None
