"""The ingest queue's urgent lane: alarm-watched readings are taken apart from bulk meter
readings, in batches of their own, each lane under its own bound."""

from __future__ import annotations

import threading

from ingest.lanes import Lanes


def test_each_lane_is_taken_on_its_own() -> None:
    lanes: Lanes[str] = Lanes(100)
    for i in range(5):
        lanes.put(f"meter-{i}")
    lanes.put("gas-1", urgent=True)
    lanes.put("gas-2", urgent=True)
    assert lanes.take(10, 0.1, 0.0, urgent=True) == ["gas-1", "gas-2"]
    assert lanes.take(10, 0.01, 0.0, urgent=True) == []
    assert lanes.take(10, 0.1, 0.0) == [f"meter-{i}" for i in range(5)]
    assert lanes.take(10, 0.01, 0.0) == [] and lanes.empty()


def test_a_batch_is_limited_and_keeps_arrival_order() -> None:
    lanes: Lanes[int] = Lanes(100)
    for i in range(7):
        lanes.put(i)
    assert lanes.take(3, 0.1, 0.0) == [0, 1, 2]
    assert lanes.take(3, 0.1, 0.0) == [3, 4, 5]
    assert lanes.take(3, 0.1, 0.0) == [6]


def test_an_urgent_message_is_taken_while_a_normal_batch_is_still_filling() -> None:
    lanes: Lanes[str] = Lanes(100)
    normal: list[list[str]] = []
    filler = threading.Thread(target=lambda: normal.append(lanes.take(3, 10.0, 30.0)))
    filler.start()
    lanes.put("meter-1")
    lanes.put("gas-1", urgent=True)
    # the urgent writer gets the gas reading at once; the normal batch goes on filling
    assert lanes.take(1000, 10.0, 0.0, urgent=True) == ["gas-1"]
    assert filler.is_alive() and normal == []
    lanes.put("meter-2")
    lanes.put("meter-3")
    filler.join(10)
    assert normal == [["meter-1", "meter-2", "meter-3"]]


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


def test_each_lane_is_bounded_in_bytes_apart_from_the_other() -> None:
    """A device's 256 KiB junk fills the normal lane's byte budget; a gas reading still goes."""
    lanes: Lanes[bytes] = Lanes(1000, max_bytes=100, weigh=len)
    assert lanes.put(b"x" * 60) and lanes.put(b"x" * 40)
    assert lanes.qbytes() == 100
    assert not lanes.put(b"x", timeout=0.01)  # full in bytes, far from full in messages
    assert lanes.put(b"g" * 100, urgent=True, timeout=0.01)
    assert lanes.take(1, 1.0, 0.0) == [b"x" * 60]
    assert lanes.qbytes() == 140 and lanes.put(b"y" * 60, timeout=0.01)


def test_an_item_larger_than_the_byte_bound_still_enters_an_empty_lane() -> None:
    lanes: Lanes[bytes] = Lanes(10, max_bytes=10, weigh=len)
    assert lanes.put(b"z" * 50, timeout=0.01)  # alone: nothing could ever make room for it
    assert not lanes.put(b"z", timeout=0.01)
    assert lanes.take(10, 1.0, 0.0) == [b"z" * 50] and lanes.qbytes() == 0
