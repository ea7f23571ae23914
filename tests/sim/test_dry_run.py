"""``parktwin sim --dry-run``: N ``topic<TAB>payload`` lines, the same bytes for the same seed
and start."""

from __future__ import annotations

import subprocess
import sys

import orjson

from tests.ingest_support import ROOT

START = "2026-11-28T08:00:00+08:00"


def dry_run(*extra: str) -> bytes:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "sim", "--dry-run", *extra],
        capture_output=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return result.stdout


def test_same_seed_and_start_give_identical_bytes() -> None:
    args = ("--count", "3000", "--start", START, "--seed", "42")
    first, second = dry_run(*args), dry_run(*args)
    assert first == second
    assert dry_run("--count", "3000", "--start", START, "--seed", "43") != first
    assert (
        dry_run("--count", "3000", "--start", "2026-11-28T09:00:00+08:00", "--seed", "42") != first
    )


def test_lines_are_topic_tab_payload() -> None:
    lines = dry_run("--count", "500", "--start", START, "--rate", "200").splitlines()
    assert len(lines) == 500
    parsed = 0
    for line in lines:
        topic, payload = line.split(b"\t")
        parts = topic.decode().split("/")
        assert parts[:3] == ["parks", "demo", "devices"] and parts[4] == "telemetry"
        try:
            orjson.loads(payload)
            parsed += 1
        except orjson.JSONDecodeError:
            pass  # the small share of malformed messages
    assert parsed >= 490


def test_scenario_in_dry_run() -> None:
    out = dry_run(
        "--count",
        "4000",
        "--start",
        START,
        "--rate",
        "400",
        "--devices",
        "300",
        "--scenario",
        "gas_leak",
        "--speed",
        "30",
        "--scenario-at",
        "1",
        "--no-faults",
    )
    peak = 0.0
    for line in out.splitlines():
        _topic, payload = line.split(b"\t")
        values = orjson.loads(payload)["values"]
        peak = max(peak, values.get("gas_lel_pct", 0.0))
    assert peak >= 50
