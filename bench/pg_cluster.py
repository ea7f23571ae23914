"""What the replicated PostgreSQL costs and holds, on a three-node Patroni cluster on this machine
(tests_cluster/patroni.py): batch commits with the synchronous standby against the same
batches committed locally, the time from a kill -9 of the primary's node to a writable new
primary, and the bytes a reading takes on disk (raw, and compressed where TimescaleDB's
compression is available). Prints markdown for docs/scale-out.md: ``python -m bench.pg_cluster``.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

from app.core.migrate import upgrade_to_head
from ingest.writer import INSERT_ROWS, row_arrays
from tests.ingest_support import add_park
from tests_cluster.patroni import PatroniCluster

BATCHES = 200
BATCH_ROWS = 1000
SIZE_SERIES = 500
SIZE_DAYS = 2
SIZE_STEP_S = 60  # one reading a minute per series: 500 x 2,880 = 1.44 M readings


def _series(conn: psycopg.Connection, park: str, devices: int) -> list[int]:
    ids = []
    for i in range(devices):
        row = conn.execute(
            "INSERT INTO series (park_id, device_id, metric) VALUES (%s, %s, 'power_kw') "
            "RETURNING id",
            (park, f"m{i}"),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


def commit_rate(url: str, series: list[int], sync: str) -> float:
    """Batches of BATCH_ROWS readings by the ingest writer's insert, one commit each: batches
    per second."""
    start_us = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    offset = {"on": 0, "local": 10**12}[sync]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('synchronous_commit', %s, false)", (sync,))
        began = time.perf_counter()
        for b in range(BATCHES):
            rows = [
                (start_us + offset + (b * BATCH_ROWS + i) * 1000, series[i % len(series)], 1.0)
                for i in range(BATCH_ROWS)
            ]
            with conn.transaction():
                conn.execute(INSERT_ROWS, row_arrays(rows))
        return BATCHES / (time.perf_counter() - began)


def bytes_per_reading(url: str, series: list[int]) -> tuple[int, float, float | None]:
    """Readings written, bytes per reading raw, and compressed (None: no compression here)."""
    since = datetime(2025, 6, 1, tzinfo=UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        before = _size(conn)
        conn.execute(
            "INSERT INTO telemetry (time, series_id, value) "
            "SELECT t, s, random() * 100 FROM unnest(%s::int[]) AS s, "
            "generate_series(%s::timestamptz, %s::timestamptz, %s::interval) AS t",
            (
                series[:SIZE_SERIES],
                since,
                since + timedelta(days=SIZE_DAYS) - timedelta(seconds=SIZE_STEP_S),
                timedelta(seconds=SIZE_STEP_S),
            ),
        )
        count = SIZE_SERIES * SIZE_DAYS * 86400 // SIZE_STEP_S
        raw = (_size(conn) - before) / count
        try:
            conn.execute(
                "SELECT compress_chunk(c) FROM show_chunks('telemetry', older_than => %s) c",
                (since + timedelta(days=SIZE_DAYS + 1),),
            )
        except psycopg.Error:
            return count, raw, None
        return count, raw, (_size(conn) - before) / count


def _size(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT hypertable_size('telemetry')").fetchone()
    assert row is not None
    return int(row[0] or 0)


def failover_seconds(cluster: PatroniCluster) -> float:
    """kill -9 of the leader's node until a write commits on the new primary."""
    old = cluster.leader()
    assert old is not None
    cluster.kill_node(old)
    began = time.perf_counter()
    while True:
        try:
            with psycopg.connect(cluster.url(), connect_timeout=2, autocommit=True) as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS bench_probe (x int)")
                return time.perf_counter() - began
        except psycopg.OperationalError:
            time.sleep(0.2)


def main() -> int:
    cluster = PatroniCluster()
    try:
        cluster.start()
        url = cluster.url()
        upgrade_to_head(url)
        add_park(url, "bench", {f"m{i}": "electricity_meter" for i in range(SIZE_SERIES)})
        with psycopg.connect(url, autocommit=True) as conn:
            series = _series(conn, "bench", SIZE_SERIES)
        sync = commit_rate(url, series, "on")
        local = commit_rate(url, series, "local")
        count, raw, compressed = bytes_per_reading(url, series)
        failover = failover_seconds(cluster)
    finally:
        cluster.stop()
    out = sys.stdout
    out.write("| measure | value |\n|---|---:|\n")
    out.write(
        f"| batches of {BATCH_ROWS:,} readings, synchronous standby | {sync:.0f}/s "
        f"({sync * BATCH_ROWS:,.0f} readings/s) |\n"
    )
    out.write(
        f"| the same, committed locally only | {local:.0f}/s "
        f"({local * BATCH_ROWS:,.0f} readings/s) |\n"
    )
    out.write(f"| kill -9 of the primary's node to a committed write | {failover:.1f} s |\n")
    out.write(f"| bytes per reading on disk, raw ({count:,} readings) | {raw:.1f} |\n")
    shown = "n/a (no compression in this build)" if compressed is None else f"{compressed:.1f}"
    out.write(f"| bytes per reading, compressed chunks | {shown} |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
