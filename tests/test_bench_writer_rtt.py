"""bench/writer_rtt: both writers, direct and through the relay, run small."""

from __future__ import annotations

from bench.writer_rtt import BASELINE, older_writer, run


def test_both_writers_store_their_batches_direct_and_through_the_relay() -> None:
    rows = run(BASELINE, size=2, batches=3, rounds=2, rtt_ms=[0.0])
    assert [row.split(" | ")[:3] for row in rows[2:]] == [
        ["| direct", "before", "6"],
        ["| direct", "after", "6"],
        ["| 0 ms", "before", "6"],
        ["| 0 ms", "after", "6"],
    ]


def test_the_baseline_writer_is_the_one_before_the_pipeline() -> None:
    before = older_writer(BASELINE)
    assert hasattr(before, "COPY_DIRECT")  # it copied the rows, a statement at a time
    assert "pipeline" not in before.TelemetryWriter.write.__code__.co_names
