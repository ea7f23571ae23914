"""The supervisor's summed metrics survive a worker whose metrics file is not yet sized."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from ingest.supervisor import METRICS_PREFIX, WorkersCollector, sweep_metrics_dirs


def test_a_starting_workers_empty_file_is_left_out_of_the_scrape(tmp_path: Path) -> None:
    (tmp_path / "counter_4242.db").touch()  # created, not yet sized, by a starting worker
    stock = CollectorRegistry()
    multiprocess.MultiProcessCollector(stock, str(tmp_path))  # type: ignore[no-untyped-call]
    with pytest.raises(struct.error):
        generate_latest(stock)
    ours = CollectorRegistry()
    WorkersCollector(ours, str(tmp_path))
    assert generate_latest(ours) == b""


def test_a_killed_supervisors_metrics_directory_is_removed_by_the_next_start(
    tmp_path: Path,
) -> None:
    """The directory is named after the supervisor's pid; one whose pid no process has any
    more is removed, with its files; a live supervisor's and anything else are kept."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f"{METRICS_PREFIX}{gone.stdout.strip()}-abc"
    live = tmp_path / f"{METRICS_PREFIX}{os.getpid()}-def"
    unnamed = tmp_path / f"{METRICS_PREFIX}xyz"  # an older supervisor's: no pid in the name
    other = tmp_path / "something-else-1-2"
    for folder in (dead, live, unnamed, other):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"\0" * 16)
    assert sweep_metrics_dirs(tmp_path) == [dead]
    assert not dead.exists()
    assert live.exists() and unnamed.exists() and other.exists()
