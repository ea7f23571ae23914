"""bench/writer_rtt: an ingest lane's small batches with PostgreSQL across a network, this
checkout's batch writer against an older checkout's, alternating in one run.

    .venv/bin/python -m bench.writer_rtt [--before REV] [--rtt-ms 0,1]    (make bench-writer-rtt)

In a deployment PostgreSQL runs on a host of its own (compose.yaml; behind HAProxy in a
Patroni cluster, docs/scale-out.md), so every statement a batch waits for costs a network
round trip, and the urgent lane (ingest/lanes.py) writes small batches one after the other: a
gas reading waits for the batch in flight before its own. One embedded PostgreSQL; gas
detectors, watched by their type's default rule; an ingest worker in this process fed by
hand as a lane feeds it (``IngestWorker.process``: the in-flight mark, parse, the batch's
transaction, the acknowledgement, which goes nowhere: no broker connection), with batches of
``--size`` readings of 1 %LEL (no alarm: the rule's state is locked and saved all the same).
Its database is reached directly or through a relay that holds each chunk for half the
round-trip time each way (bench/webhook_connections.py's ``relays``). For the baseline
ingest/writer.py as it was at ``--before`` (default: the last commit before the transaction
was pipelined) is loaded from git in place of this one's; the versions alternate, round by
round, on the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType

import orjson
import psycopg

from bench.ingest import PARK, ROOT, embedded_services, make_database
from bench.report import replace_section
from bench.webhook_connections import relays
from ingest import store
from ingest.consumer import Inbound
from ingest.pipeline import IngestWorker
from tests.ingest_support import hand_fed_worker

HEADING = "## Ingest writer across a network (bench/writer_rtt)"
BASELINE = "93e263f"  # the writer before its transaction was pipelined
DETECTORS = 500


def _relay(port: int, rtt_ms: list[float], ready: Connection) -> None:
    asyncio.run(relays(port, rtt_ms, ready))


def older_writer(rev: str) -> ModuleType:
    """ingest/writer.py as it was at ``rev``, as a module of its own name."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:ingest/writer.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = ModuleType("writer_before")
    module.__file__ = f"{rev}:ingest/writer.py"
    sys.modules[module.__name__] = module  # its dataclasses look their module up there
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def add_detectors(database_url: str) -> list[str]:
    devices = [f"g{i}" for i in range(DETECTORS)]
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO device (park_id, id, type, name) VALUES (%s, %s, 'gas_detector', %s)",
            [(PARK, d, d) for d in devices],
        )
    return devices


class Feeder:
    """Batches of gas readings, each reading one millisecond newer than the last."""

    def __init__(self, devices: list[str], size: int) -> None:
        self.devices, self.size, self.n = devices, size, 0
        self.start_ms = int((datetime.now(UTC) - timedelta(minutes=5)).timestamp() * 1000)

    def batch(self) -> list[Inbound]:
        messages = []
        for _ in range(self.size):
            self.n += 1
            device = self.devices[self.n % len(self.devices)]
            payload = orjson.dumps({"ts": self.start_ms + self.n, "values": {"gas_lel_pct": 1.0}})
            topic = f"parks/{PARK}/devices/{device}/telemetry"
            messages.append(Inbound(topic, payload, 1, 1, -1, datetime.now(UTC), len(payload)))
        return messages


def timed_batches(made: IngestWorker, feeder: Feeder, batches: int) -> list[float]:
    for _ in range(-(-DETECTORS // feeder.size)):  # connection, registry, rules: not timed
        made.process(feeder.batch())
    times = []
    for _ in range(batches):
        messages = feeder.batch()
        began = time.perf_counter()
        made.process(messages)
        times.append(time.perf_counter() - began)
    return times


def run(before: str, size: int, batches: int, rounds: int, rtt_ms: list[float]) -> list[str]:
    versions = {"before": older_writer(before).TelemetryWriter, "after": store.TelemetryWriter}
    ours = store.TelemetryWriter
    times: dict[tuple[str, str], list[float]] = {}
    with embedded_services() as services:
        database_url = make_database(services, f"bench_writer_{uuid.uuid4().hex[:6]}")
        feeder = Feeder(add_detectors(database_url), size)
        port = services.settings.embedded_pg_port
        mine, theirs = multiprocessing.Pipe()
        relay = multiprocessing.Process(target=_relay, args=(port, rtt_ms, theirs), daemon=True)
        relay.start()
        ports = mine.recv()
        try:
            targets = [("direct", database_url)] + [
                (f"{ms:g} ms", database_url.replace(f":{port}/", f":{relay_port}/"))
                for ms, relay_port in zip(rtt_ms, ports, strict=True)
            ]
            for r in range(rounds):
                for target, url in targets:
                    order = ("before", "after") if r % 2 == 0 else ("after", "before")
                    for version in order:
                        store.TelemetryWriter = versions[version]  # type: ignore[misc]
                        made = hand_fed_worker(url, services.mosquitto.url(), "writer-rtt")
                        try:
                            got = timed_batches(made, feeder, batches)
                        finally:
                            made._close()
                        times.setdefault((version, target), []).extend(got)
                        print(
                            f"  round {r + 1}, {target}, {version}: "
                            f"p50 {statistics.median(got) * 1000:.2f} ms",
                            flush=True,
                        )
        finally:
            store.TelemetryWriter = ours  # type: ignore[misc]
            relay.kill()
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
        if row is None or row[0] != feeder.n:  # every reading fed, once: else the times lie
            raise RuntimeError(f"{feeder.n} readings fed, {row} stored")
    return table(times, [target for target, _url in targets])


def table(times: dict[tuple[str, str], list[float]], targets: list[str]) -> list[str]:
    rows = [
        "| PostgreSQL reached | writer | batches | ms per batch p50 / p90 / p99 | batches/s, one lane |"
        " after / before |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for target in targets:
        means = {}
        for version in ("before", "after"):
            got = sorted(times[(version, target)])
            means[version] = statistics.mean(got)
            p = [got[min(len(got) - 1, int(q * len(got)))] * 1000 for q in (0.5, 0.9, 0.99)]
            ratio = (
                f"{means['before'] / means['after']:.1f}x the rate" if version == "after" else ""
            )
            rows.append(
                f"| {target} | {version} | {len(got)} | {p[0]:.2f} / {p[1]:.2f} / {p[2]:.2f} "
                f"| {1 / means[version]:,.0f} | {ratio} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BASELINE, help="the older writer's git revision")
    parser.add_argument(
        "--rtt-ms", default="0,1", help="round-trip times through the relay, ms (and direct)"
    )
    parser.add_argument("--size", type=int, default=5, help="readings per batch")
    parser.add_argument("--batches", type=int, default=200, help="timed batches per turn")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    rtt_ms = [float(v) for v in args.rtt_ms.split(",")]
    rows = run(args.before, args.size, args.batches, args.rounds, rtt_ms)
    after = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[0]
    section = "\n".join(
        [
            HEADING,
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.writer_rtt "
            f"--before {args.before} --rtt-ms {args.rtt_ms} --size {args.size} "
            f"--batches {args.batches} --rounds {args.rounds}` (`make bench-writer-rtt`) on this "
            f"machine (2 cores; load average {load} at the end). One ingest worker fed by hand "
            f"with batches of {args.size} gas readings (the urgent lane's: the in-flight mark, "
            "parse, the batch's transaction with its alarm evaluation); its PostgreSQL reached "
            "directly or through a relay in a process of its own that delays each chunk by half "
            "the round-trip time each way (its 0-ms row is the relay's own cost: an asyncio "
            "process on the same two cores). "
            f"Before: the writer of {args.before} (a statement at a time); after: this checkout's "
            f"({after}: the transaction pipelined), alternating by rounds on one database.",
            "",
            *rows,
            "",
        ]
    )
    print(section)
    if not args.no_report:
        replace_section(HEADING, section)


if __name__ == "__main__":
    main()
