"""PUBACKs leave in the order the PUBLISHes came (MQTT 3.1.1 and 5, section 4.6), whatever
order the lanes commit them in; a new connection starts afresh."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from ingest.acks import InOrderAcks


def keep(sent: list[int]) -> None:
    """The PUBACK writer where the test reads what ``done`` answers (the same ids)."""


def test_an_urgent_commit_waits_for_the_older_normal_ones() -> None:
    acks = InOrderAcks()
    for mid in (7, 8, 9, 10):  # 7, 8 meters (normal lane), 9 a gas reading (urgent), 10 a meter
        acks.arrived(mid)
    assert acks.done([9], keep) == []  # the gas reading is committed first: its PUBACK waits
    assert acks.done([7], keep) == [7]
    assert acks.done([8, 10], keep) == [8, 9, 10]
    assert len(acks) == 0


def test_a_new_connection_forgets_the_old_ones() -> None:
    acks = InOrderAcks()
    acks.arrived(1)
    acks.arrived(2)
    acks.reset()  # reconnected: 1 and 2 come again under new packet ids
    assert acks.done([2], keep) == []  # not of this connection: nothing to send
    acks.arrived(1)
    assert acks.done([1], keep) == [1]


@given(st.permutations(list(range(1, 200))), st.integers(min_value=1, max_value=20))
def test_any_commit_order_gives_arrival_order_once(order: list[int], chunk: int) -> None:
    acks = InOrderAcks()
    for mid in range(1, 200):
        acks.arrived(mid)
    sent: list[int] = []
    for at in range(0, len(order), chunk):
        sent += acks.done(order[at : at + chunk], keep)
    assert sent == list(range(1, 200))


def test_threads_marking_at_once_send_each_once_in_order() -> None:
    acks = InOrderAcks()
    mids = list(range(1, 5001))
    for mid in mids:
        acks.arrived(mid)
    sent: list[int] = []  # the PUBACKs as written to the socket

    def lane(own: list[int]) -> None:
        for at in range(0, len(own), 50):
            acks.done(own[at : at + 50], sent.extend)

    lanes = [threading.Thread(target=lane, args=(mids[n::3],)) for n in range(3)]
    for thread in lanes:
        thread.start()
    for thread in lanes:
        thread.join()
    assert sent == mids  # each once, in arrival order, though three lanes wrote them
    assert len(acks) == 0
