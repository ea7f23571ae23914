"""bench/park100k's load curve: which smaller parks it runs, and the row each run gives."""

from __future__ import annotations

import argparse

from bench.alarm_latency import Summary
from bench.park100k import (
    TWIN,
    WALL,
    Result,
    Samples,
    load_curve_report,
    load_curve_sizes,
    point,
)


def _args(**more: object) -> argparse.Namespace:
    return argparse.Namespace(**{"devices": 100_000, "load_curve": "2000,20000", **more})


def test_the_smaller_parks_are_the_sizes_below_the_run_in_order_once() -> None:
    assert load_curve_sizes(_args()) == [2_000, 20_000]
    assert load_curve_sizes(_args(load_curve="20_000, 2000,2000,")) == [2_000, 20_000]
    # a size at or above the run's own is not smaller; "" is --no-load-curve
    assert load_curve_sizes(_args(devices=20_000)) == [2_000]
    assert load_curve_sizes(_args(load_curve="")) == []


def test_a_runs_row_takes_its_live_figures_and_the_services_cpu() -> None:
    result = Result(_args())
    result.live_rate, result.load = 6_650.4, (1.9, 5.53)
    result.gas = {"live": (Summary.of([0.040, 0.100, 0.700]), 0), "drain": (Summary.of([40.0]), 0)}
    result.hops = {"live": {"ingest": Summary.of([0.020, 0.500])}}
    samples = Samples()
    samples.probes = {WALL: [0.080, 0.090, 0.200], TWIN: [0.150]}
    result.samples = samples
    # services: broker 0.10 + database 0.67 + ingestor 0.80 + api 0.04 = 1.61 cores
    result.cpu = {"broker": 0.10, "database": 0.67, "ingestor": 0.80, "api": 0.04,
                  "simulator": 0.15, "bench": 0.02}  # fmt: skip
    row = point(result)
    assert (row.devices, row.rate, row.load) == (100_000, 6_650.4, 5.53)
    assert round(row.cores, 2) == 1.61
    assert row.gas.n == 3 and row.wall.p50 == 0.090 and row.twin.n == 1

    table = load_curve_report([row])
    # gas p50 100 ms; p90 = 100 + 0.8 * 600 = 580; p99 = 100 + 0.98 * 600 = 688 (linear ranks)
    # ingest hop: p50 = 20 + 0.5 * 480 = 260, p90 = 20 + 0.9 * 480 = 452, p99 = 495.2;
    # the wall: p50 90, p99 = 90 + 0.98 * 110 = 197.8; no fan-out hop measured: "-"
    row_text = (
        "| 100,000 | 6,650 | 5.5 | 100 / 580 / 688 | 260 / 452 / 495 | - | 90 / 198 | "
        "150 / 150 | 1.61 |"
    )
    assert row_text in table
    assert load_curve_report([]) == []


def test_the_wall_column_says_when_a_park_has_fewer_than_1000_tiles() -> None:
    """The wall probe asks for at most the park's devices: a 500-device row is 500 tiles."""
    rows = []
    for devices in (500, 2_000):
        result = Result(_args(devices=devices))
        result.live_rate, result.load = 33.3, (0.2, 0.4)
        result.gas, result.hops, result.cpu = {}, {}, {}
        result.samples = Samples()
        rows.append(point(result))
    (header,) = [line for line in load_curve_report(rows) if line.startswith("| devices")]
    assert "| wall of 1,000 tiles (every device below 1,000) p50 / p99 |" in header
    (header,) = [line for line in load_curve_report(rows[1:]) if line.startswith("| devices")]
    assert "| wall of 1,000 tiles p50 / p99 |" in header
