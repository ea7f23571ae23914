"""The supervisor's summed metrics survive a worker whose metrics file is not yet sized."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from ingest.supervisor import WorkersCollector


def test_a_starting_workers_empty_file_is_left_out_of_the_scrape(tmp_path: Path) -> None:
    (tmp_path / "counter_4242.db").touch()  # created, not yet sized, by a starting worker
    stock = CollectorRegistry()
    multiprocess.MultiProcessCollector(stock, str(tmp_path))  # type: ignore[no-untyped-call]
    with pytest.raises(struct.error):
        generate_latest(stock)
    ours = CollectorRegistry()
    WorkersCollector(ours, str(tmp_path))
    assert generate_latest(ours) == b""
