"""``python -m bench.cluster``: ingest throughput on a 3-node RabbitMQ cluster with 1, 2 and 4
workers (AMQP, one quorum queue), and on the single-node Mosquitto with 1 and 2 workers, in the
same run; CPU seconds per message of each role; the machine's load beside. Results go to
docs/benchmarks.md.

Method (as bench/ingest's backlog drain): a backlog of ``COUNT`` single-reading QoS 1 messages
from ``DEVICES`` devices is published while no worker consumes (mosquitto_pub, spread over the
nodes), then ``parktwin ingest --workers N`` drains it; the clock and the CPU counters start
at the first message received and stop when the last is committed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.broker.rabbit import RabbitAccounts, to_routing_key
from app.core.mqtt import MqttTarget
from app.embedded.rabbitmq import RabbitCluster
from app.embedded.services import EmbeddedServices
from bench.common import cpu_by_role
from bench.ingest import (
    DEVICES,
    PARK,
    IngestProcess,
    _mosquitto_pub,
    _payload,
    embedded_services,
    make_database,
    publisher_account,
)
from bench.report import replace_section

COUNT = int(os.environ.get("BENCH_CLUSTER_COUNT", 12_000))
HEADING = "## Broker cluster (bench/cluster)"


@dataclass
class Run:
    label: str
    messages: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds per role during the drain

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def per_message_us(self, role: str) -> float:
        return self.cpu.get(role, 0.0) / self.messages * 1e6 if self.messages else 0.0


def _roles(state: Path, cluster: RabbitCluster) -> list[tuple[str, object]]:
    return [
        ("broker", lambda _p, c: str(cluster.root) in c or ("mosquitto" in c and str(state) in c)),
        ("ingest", lambda _p, c: "app.cli ingest" in c),
        ("postgres", lambda _p, c: "postgres" in c and str(state) in c),
    ]


def _drain(ingestor: IngestProcess, expected: int, label: str, roles: list) -> Run:  # type: ignore[type-arg]
    ingestor.start()
    try:
        before, elapsed, after = _measure(ingestor, expected, roles)
        stored = int(ingestor.metrics().get("parktwin_ingest_messages_stored_total", 0))
    finally:  # an interrupted run leaves no ingest process behind
        ingestor.stop()
    cpu = {k: after[k] - (before or {}).get(k, 0.0) for k in after}
    run = Run(label, stored, elapsed, cpu)
    print(f"  {label}: {stored:,} msgs in {elapsed:.1f} s = {run.rate:,.0f} msg/s", flush=True)
    return run


def _measure(
    ingestor: IngestProcess,
    expected: int,
    roles: list,  # type: ignore[type-arg]
) -> tuple[dict[str, float] | None, float, dict[str, float]]:
    """CPU by role at the first message received and at the last one committed, and the
    seconds between."""
    before: dict[str, float] | None = None
    started = time.monotonic()
    deadline = started + 900
    while time.monotonic() < deadline:
        metrics = ingestor.metrics()
        if before is None and metrics.get("parktwin_ingest_messages_received_total", 0) > 0:
            before, started = cpu_by_role(roles), time.monotonic()
        if metrics.get("parktwin_ingest_messages_stored_total", 0) >= expected:
            break
        time.sleep(0.05)
    return before, time.monotonic() - started, cpu_by_role(roles)


def publish_backlog(target: MqttTarget, shares: dict[str, int], _readings: int) -> None:
    """``shares[device]`` messages per device (mosquitto_pub, QoS 1, all devices at once), one
    millisecond apart within the last hour: all inside the accepted window."""
    base_ms = int(time.time() * 1000) - 3_600_000
    procs = []
    for device, count in shares.items():
        proc = _mosquitto_pub(target, device)
        assert proc.stdin is not None
        proc.stdin.write(b"".join(_payload(i, 1, base_ms + i) + b"\n" for i in range(count)))
        proc.stdin.close()
        procs.append(proc)
    for proc in procs:
        assert proc.wait(600) == 0


def _shares() -> dict[str, int]:
    return {f"m{d}": COUNT // DEVICES for d in range(DEVICES)}


def _cluster_publisher(admin: RabbitAccounts, cluster: RabbitCluster, index: int) -> MqttTarget:
    """One account that may publish as any device of the bench park, on node ``index``."""
    password = uuid.uuid4().hex
    admin.put_user("bench-publisher", password, tags="")
    admin._request(
        "PUT",
        "/api/permissions/%2F/bench-publisher",
        {"configure": "^$", "write": "^amq\\.topic$", "read": "^$"},
    )
    prefix = re.escape(to_routing_key(f"parks/{PARK}/devices/"))
    admin._request(
        "PUT",
        "/api/topic-permissions/%2F/bench-publisher",
        {"exchange": "amq.topic", "write": f"^{prefix}", "read": "^$"},
    )
    node = cluster.nodes[index % len(cluster.nodes)]
    return MqttTarget("127.0.0.1", node.mqtt_port, "bench-publisher", password)


def _cluster_runs(services: EmbeddedServices, cluster: RabbitCluster, roles: list) -> list[Run]:  # type: ignore[type-arg]
    auth = f"http://{cluster.admin}:{cluster.password}@"
    admin = RabbitAccounts([u.replace("http://", auth) for u in cluster.http_urls()], timeout=30)
    admin.declare_ingest_queue()
    ingest_password = uuid.uuid4().hex
    admin.ensure_ingest_account("parktwin-ingest", ingest_password)
    amqp = ",".join(cluster.amqp_urls("parktwin-ingest", ingest_password))
    runs = []
    for workers in (1, 2, 4):
        tag = uuid.uuid4().hex[:6]
        database = make_database(services, f"bench_cluster_{tag}")
        shares = _shares()
        per_node = [dict(list(shares.items())[i :: len(cluster.nodes)]) for i in range(3)]
        for i, part in enumerate(per_node):
            publish_backlog(_cluster_publisher(admin, cluster, i), part, 1)
        ingestor = IngestProcess(database, services.mosquitto.url(), workers, f"c{tag}")
        ingestor.env |= {"PARKTWIN_INGEST_SOURCE": "amqp", "PARKTWIN_AMQP_URL": amqp}
        runs.append(
            _drain(ingestor, sum(shares.values()), f"RabbitMQ x3, {workers} worker(s)", roles)
        )
    admin.close()
    return runs


def _mosquitto_runs(services: EmbeddedServices, roles: list) -> list[Run]:  # type: ignore[type-arg]
    publisher = publisher_account(MqttTarget.from_url(services.mosquitto.url()))
    runs = []
    for workers in (1, 2):
        tag = uuid.uuid4().hex[:6]
        database = make_database(services, f"bench_mosq_{tag}")
        ingestor = IngestProcess(database, services.mosquitto.url(), workers, f"m{tag}")
        ingestor.start().wait_connected()  # the persistent sessions queue the backlog
        ingestor.stop()
        shares = _shares()
        publish_backlog(publisher, shares, 1)
        runs.append(
            _drain(ingestor, sum(shares.values()), f"Mosquitto, {workers} worker(s)", roles)
        )
    return runs


def _report(runs: list[Run], load: tuple[float, float]) -> str:
    lines = [
        HEADING,
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on this machine "
        f"({os.cpu_count()} cores, **shared with other sessions' work**: load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after). {COUNT:,} single-reading QoS 1 messages from "
        f"{DEVICES} devices, queued first, then drained; all nodes and workers on one host, "
        "so the figures show relative cost, not a cluster's capacity (docs/scale-out.md).",
        "",
        "| topology | msg/s | CPU µs/msg broker (all nodes) | ingest | PostgreSQL |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.label} | {run.rate:,.0f} | {run.per_message_us('broker'):,.0f} "
            f"| {run.per_message_us('ingest'):,.0f} | {run.per_message_us('postgres'):,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="cluster-broker-bench-"))
    cluster = RabbitCluster(root, 3, base_port=int(os.environ.get("BENCH_RABBIT_PORT", 28600)))
    with embedded_services() as services:
        roles = _roles(services.settings.state_dir, cluster)
        try:
            cluster.up()
            runs = _cluster_runs(services, cluster, roles)
        finally:
            cluster.down()
            shutil.rmtree(root, ignore_errors=True)
        runs += _mosquitto_runs(services, roles)
    section = _report(runs, (load_before, os.getloadavg()[0]))
    replace_section(HEADING, section)
    sys.stdout.write(section)


if __name__ == "__main__":
    main()
