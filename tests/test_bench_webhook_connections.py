"""bench/webhook_connections: its receiver, relay and both modes, run small."""

from __future__ import annotations

from bench.webhook_connections import quantile, run


def test_both_modes_deliver_every_event_through_the_relay() -> None:
    rows = run(events=3, rounds=2, rtt_ms=[0.0, 2.0])
    assert [row.split(" | ")[:3] for row in rows] == [
        ["| 0", "new connection each (before)", "6"],
        ["| 0", "kept alive (now)", "6"],
        ["| 2", "new connection each (before)", "6"],
        ["| 2", "kept alive (now)", "6"],
    ]


def test_quantile_takes_the_rank_below() -> None:
    assert quantile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert quantile([1.0, 2.0], 0.99) == 2.0
