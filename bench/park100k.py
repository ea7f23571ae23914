"""bench/park100k: a 100,000-device park on this machine, seeded, then live.

    .venv/bin/python -m bench.park100k                      # or: make bench-park100k (30 min live)
    .venv/bin/python -m bench.park100k --live-minutes 3     # a short proof on a busy machine

Everything runs here, in its own embedded PostgreSQL + TimescaleDB and Mosquitto under
/tmp/park100k-* (free ports), with ``parktwin ingest --workers 2``, ``parktwin worker`` and
``parktwin api`` as processes and the simulator in processes of its own.

1. Account curve: on a scratch broker, what one device account costs at 2k/10k/50k/100k
   accounts: written in bulk into the dynamic-security file (broker stopped), and made live
   through the control topic (two commands; the plugin rewrites its whole file after each).
2. Load curve (``--load-curve``, default 2,000 and 20,000 devices): steps 3-5 for each
   smaller park, 3 minutes live and a 30-s stop each, so that what the full size misses is
   reported with its curve by park size (the same code, the same machine, the same hour).
3. Seed: ``sensors_sim.seed.seed_park`` for ``--devices`` (assets by the import, devices in
   chunks, accounts in one file edit), timed.
4. Live for ``--live-minutes``: the simulator at one message per device every 15 s, each
   device on its own connection as far as the descriptor limit allows (the rest through
   gateway connections of a bench account, said in the report), ``gas_leak`` in the middle;
   the live window opens once the stream has settled (95 % of the rate in a 5-s window, lag
   p99 under 1 s; at most 2 minutes after the first messages).
   Every 5 s: the ingestor's publish-to-commit lag (its histogram, per window), the
   ``telemetry_dirty`` backlog, the API probes (``PROBES``: add one line to add a probe), the
   machine load and each process's memory. Gas probes the bench/alarm_latency way: a reading of
   30 %LEL on a fresh detector every ``--gas-every`` s, latency = webhook arrival - publish.
5. Drain: the ingestor stopped for ``--pause`` s while the devices go on, then restarted: how
   long it takes to catch up, and the gas probes meanwhile.

Results under "## Park at 100,000 devices" in docs/benchmarks.md (``--no-report``: print only).
``--cpu-groups [WEIGHTS]``: the services in CPU groups of their own as systemd units would run
them (bench/cpugroups.py) instead of in the bench's session; said in the report's first line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import multiprocessing
import os
import queue
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import psycopg
import sqlalchemy

from app.broker.dynsec import DynsecClient
from app.broker.dynsec_file import DynsecFile
from app.core.auth import generate_key
from app.core.config import Settings
from app.core.migrate import upgrade_to_head
from app.core.mqtt import MqttTarget
from app.core.statedir import state_paths
from app.embedded.mosquitto import EmbeddedMosquitto
from app.embedded.process import free_port
from app.embedded.services import EmbeddedServices
from app.telemetry.rollup_repository import CLAIM_LEASE, COUNT_DUE
from bench.alarm_latency import GAS_ALARM, Receiver, ReceiverProcess, Summary, worker_process
from bench.common import bench_database, cpu_by_role
from bench.cpugroups import CpuGroups, parse_weights
from bench.ingest import ROOT, IngestProcess, lag_percentiles
from bench.report import replace_section
from sensors_sim import credentials, layout
from sensors_sim.publisher import Report, SimOptions, gateway_username, publish
from sensors_sim.seed import seed_park

HEADING = "## Park at 100,000 devices (bench/park100k)"
CURVE_HEADING = "## Device accounts by the accounts already there (bench/park100k)"
PARK = "p100k"
GATEWAY = "park100k-gateway"
PERIOD_S = 15.0  # one message per device every 15 s
SAMPLE_S = 5.0
SETTLED_RATE, SETTLED_LAG_S, SETTLE_LIMIT_S = 0.95, 1.0, 120.0  # when the live window opens
ROLLUP_OPEN_HOUR_INTERVAL = "PT1H"  # docs/operations.md, for 100,000 devices on two cores
CURVE = (2_000, 10_000, 50_000, 100_000)
# The load curve: smaller parks run live for a few minutes with the same code before the main
# run, so that what the full size still misses is reported with its curve by park size.
LOAD_CURVE = "2000,20000"
LOAD_CURVE_MINUTES = 3.0
LOAD_CURVE_PAUSE = 30.0


def _settings(state: Path, **more: Any) -> Settings:
    return Settings(
        state_dir=state,
        embedded_pg_port=free_port(),
        embedded_mqtt_port=free_port(),
        embedded_mqtt_service_port=free_port(),
        embedded_mqtts_port=free_port(),
        embedded_mqtt_max_connections=120_000,
        database_url=None,
        mqtt_url=None,
        **more,
    )


@contextmanager
def state_dir(tag: str) -> Iterator[Path]:
    state = Path(tempfile.mkdtemp(prefix=f"park100k-{tag}-", dir="/tmp"))
    state.chmod(0o755)
    try:
        yield state
    finally:
        shutil.rmtree(state, ignore_errors=True)


# -- 1. the account curve -------------------------------------------------------------------


def _add_accounts(pairs: list[tuple[str, str]], file: DynsecFile) -> int:
    return file.ensure_devices("c", pairs)


def account_curve(sizes: tuple[int, ...], live_samples: int) -> list[dict[str, float]]:
    """Per size: bulk ms/account (file edit + restart, over the accounts added), the broker's
    start time, and live ms/account through the control topic (``ensure_device``)."""
    rows: list[dict[str, float]] = []
    with state_dir("curve") as state:
        settings = _settings(state)
        broker = EmbeddedMosquitto(state_paths(settings), settings.embedded_mqtt_port, settings)
        broker.start()
        have = 0
        try:
            for n in sizes:
                added = range(have, n)
                started = time.perf_counter()
                broker.edit_accounts(partial(_add_accounts, [(f"d{i}", "pw") for i in added]))
                bulk = time.perf_counter() - started
                live = DynsecClient(MqttTarget.from_url(broker.url()), timeout=300)
                live.connect()
                started = time.perf_counter()
                for i in range(live_samples):
                    live.ensure_device("c", f"live{n}-{i}", "pw")
                one = (time.perf_counter() - started) / live_samples
                live.close()
                size = broker.paths.mqtt_dynsec.stat().st_size
                rows.append({"n": n, "bulk_ms": bulk / len(added) * 1000, "bulk_s": bulk,
                             "live_ms": one * 1000, "file_mb": size / 1e6})  # fmt: skip
                print(f"accounts {n:,}: bulk {rows[-1]['bulk_ms']:.2f} ms/account, "
                      f"live {one * 1000:.0f} ms/account", flush=True)  # fmt: skip
                have = n + live_samples
        finally:
            broker.stop()
    return rows


# -- 2. the park ----------------------------------------------------------------------------


def gateway_account(services: EmbeddedServices, processes: int = 8) -> tuple[str, str]:
    """Accounts allowed to publish as any device of the park: ``GATEWAY`` (the gas probes)
    and one per gateway connection of each simulator process (``gateway_username``)."""
    password = uuid.uuid4().hex
    client = DynsecClient(MqttTarget.from_url(services.mosquitto.url()))
    client.connect()
    acl = {"acltype": "publishClientSend", "allow": True, "priority": 0}
    names = [GATEWAY] + [gateway_username(GATEWAY, p, g) for p in range(processes)
                         for g in range(SimOptions.gateways)]  # fmt: skip
    client.execute(
        [
            {"command": "createRole", "rolename": GATEWAY, "acls": [
                {**acl, "topic": f"parks/{PARK}/#"}, {**acl, "topic": "bench/#"}]},
            *({"command": "createClient", "username": name, "password": password,
               "roles": [{"rolename": GATEWAY}]} for name in names),
        ]
    )  # fmt: skip
    client.close()
    return GATEWAY, password


def seed(settings: Settings, devices: int) -> float:
    started = time.perf_counter()
    result = asyncio.run(seed_park(settings, PARK, 1, devices, progress=sys.stderr))
    assert result.devices == devices and result.new_passwords == devices, result
    return time.perf_counter() - started


def admin_key(database_url: str) -> str:
    key = generate_key()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO api_key (id, secret_hash, role, name) VALUES (%s, %s, 'admin', 'bench')",
            (key.id, key.secret_hash),
        )
    return key.token


@contextmanager
def api_process(database_url: str, mqtt_url: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")} | {
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_MQTT_URL": mqtt_url,
        "PARKTWIN_WEBHOOK_ALLOW_PRIVATE": "true",
        "PARKTWIN_LOG_LEVEL": "WARNING",
        # every probe computes its answer: the twin and map cache would serve some from memory
        "PARKTWIN_TWIN_CACHE_TTL": "PT0S",
        "PYTHONPATH": str(ROOT),
    }
    for _attempt in range(3):  # a free port can be taken before the API binds it (one run lost)
        port = free_port()
        command = [sys.executable, "-m", "app.cli", "api", "--port", str(port)]
        process = subprocess.Popen(command, env=env, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            with suppress(OSError):
                if urllib.request.urlopen(base + "/healthz", timeout=2).status == 200:
                    break
            time.sleep(0.5)
        else:
            process.terminate()
            process.wait(30)
            continue
        try:
            yield base
        finally:
            process.terminate()
            process.wait(30)
        return
    raise AssertionError("the API did not start")


def call(base: str, key: str, method: str, path: str, body: Any = None) -> tuple[int, float, Any]:
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            payload, status = answer.read(), answer.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    elapsed = time.perf_counter() - started
    return status, elapsed, orjson.loads(payload) if payload else None


# -- 3. probes and samples ------------------------------------------------------------------

P = f"/api/v1/parks/{PARK}"
WALL, TWIN = "bulk latest, 1,000 tiles", "twin roll-up"
FLOOR = "floor: GET /healthz (no key, no database)"


def _view(rng: random.Random) -> str:
    """A 600 m x 600 m map view somewhere over the park, as ``west,south,east,north``."""
    x, y = rng.random() * (layout.WIDTH_M - 600), rng.random() * (layout.HEIGHT_M - 600)
    return ",".join(
        f"{v:.6f}" for v in (*layout.to_lonlat(x, y), *layout.to_lonlat(x + 600, y + 600))
    )


Probe = tuple[str, str, Callable[[random.Random, list[str]], tuple[str, Any]]]
# (name, method, request maker): the scale-reads endpoints go here as they appear
PROBES: list[Probe] = [
    (WALL, "POST",
     lambda rng, ids: (P + "/latest/query", {"device_ids": rng.sample(ids, min(1000, len(ids)))})),
    (TWIN, "GET", lambda _r, _i: (P + "/twin", None)),
    # what a map widget asks at this size (docs/operations.md): the park clustered at zoom 12,
    # and a 600 m view at zoom 17 with its devices; the full 25-MB FeatureCollection no browser
    # draws (bench/scale_reads measures it)
    ("map GeoJSON ?zoom=12", "GET", lambda _r, _i: (P + "/map?zoom=12", None)),
    ("map GeoJSON ?zoom=17 + 600 m bbox", "GET",
     lambda rng, _i: (P + "/map?zoom=17&bbox=" + _view(rng), None)),
    ("alarm summary", "GET", lambda _r, _i: (P + "/alarms/summary", None)),
    ("occupancy", "GET", lambda _r, _i: (P + "/occupancy", None)),
    ("devices nearby 200 m", "GET", lambda rng, _i: (
        P + f"/spatial/nearby?lon={120.74 + rng.random() * 0.03:.5f}"
        f"&lat={31.31 + rng.random() * 0.02:.5f}&radius_m=200&kind=device", None)),
    # the floor under every probe above: an answer that reads no database and checks no key,
    # asked the same way (a new connection per call from this process), so the loaded
    # machine's scheduling alone
    (FLOOR, "GET", lambda _r, _i: ("/healthz", None)),
]  # fmt: skip


def memory_by_role(roles: list[tuple[str, Callable[[int, str], bool]]]) -> dict[str, float]:
    """Resident MB per role now (a process and its descendants count for the role)."""
    totals: dict[str, float] = {name: 0.0 for name, _ in roles}
    table: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            status = (entry / "status").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
            table[int(entry.name)] = (int(fields["PPid"]), cmd, rss)
    for pid, (_ppid, _cmd, rss) in table.items():
        walk = pid
        while walk in table:
            match = next((n for n, test in roles if test(walk, table[walk][1])), None)
            if match:
                totals[match] += rss
                break
            walk = table[walk][0]
    return totals


@dataclass
class Samples:
    rows: list[dict[str, Any]] = field(default_factory=list)
    probes: dict[str, list[float]] = field(default_factory=dict)
    probe_errors: dict[str, int] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    calls: list[tuple[str, float, float]] = field(default_factory=list)  # name, start epoch, s


@dataclass
class Gas:
    receiver: Receiver
    publisher: Any
    detectors: list[str]
    published: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> device -> t

    def fire(self, phase: str) -> None:
        while self.detectors:
            device = self.detectors.pop()
            if device not in self.receiver.arrivals:
                payload = orjson.dumps({"ts": int(time.time() * 1000),
                                        "values": {"gas_lel_pct": GAS_ALARM}})  # fmt: skip
                self.published.setdefault(phase, {})[device] = time.time()
                self.publisher.publish(f"parks/{PARK}/devices/{device}/telemetry", payload, 1)
                return

    def summary(self, phase: str) -> tuple[Summary, int]:
        sent = self.published.get(phase, {})
        arrivals = self.receiver.arrivals
        lat = [arrivals[d] - t for d, t in sent.items() if d in arrivals]
        return Summary.of(lat), sum(d not in arrivals for d in sent)


# The devices' side runs niced: in a park they are other machines, so here they must not take
# the cores from the services under test whenever both want them (the simulator still gets what
# is left: the services use about 1.3 of the 2 cores at this rate).
SIMULATOR_NICE = 10

HOPS = ("ingest", "fan-out", "dispatch", "POST")
PHASES = ("live", "stopped", "drain")  # when a gas probe was published
PHASE_NAMES = {
    "live": "live",
    "stopped": "published while the ingestor was stopped or starting again",
    "drain": "published while it drained the backlog (its workers subscribed again)",
}
HOP_NOTES = {
    "ingest": "publish to the alarm's outbox event (`event_outbox.created_at`: the ingest "
    "transaction's start)",
    "fan-out": "outbox event to the worker's transaction that fans it out and claims its "
    "delivery (`fanned_out_at` = `webhook_attempt.started_at`: that transaction's start)",
    "dispatch": "that transaction (notification policy, fan-out, claim, commit; the routing to "
    "people follows in one of its own) to the POST's start (`webhook_attempt.finished_at` - "
    "`duration_ms`)",
    "POST": "the POST's start to the receiver's arrival (address check, connection, signing; "
    "the receiver in a process of its own)",
}


def gas_hops(db: str, gas: Gas) -> dict[str, dict[str, Summary]]:
    """Where each gas probe's latency went, per phase and hop (one clock: this machine's)."""
    spans: dict[str, dict[str, list[float]]] = {}
    for _device, phase, marks in gas_marks(db, gas):
        for hop, (a, b) in zip(HOPS, itertools.pairwise(marks), strict=True):
            spans.setdefault(phase, {}).setdefault(hop, []).append(b - a)
    return {ph: {hop: Summary.of(v) for hop, v in hops.items()} for ph, hops in spans.items()}


def gas_marks(db: str, gas: Gas) -> list[tuple[str, str, list[float]]]:
    """Each gas probe's device, phase and marks (epoch s): published, outbox event, fan-out,
    POST, arrival."""
    probes = {d: (phase, t) for phase, sent in gas.published.items() for d, t in sent.items()}
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (e.data->>'device_id') e.data->>'device_id',"
            " extract(epoch FROM e.created_at),"
            " extract(epoch FROM e.fanned_out_at),"
            " extract(epoch FROM a.finished_at) - a.duration_ms / 1000"
            " FROM event_outbox e JOIN webhook_delivery d ON d.event_id = e.id"
            " JOIN webhook_attempt a ON a.delivery_id = d.id AND a.attempt = 1"
            " WHERE e.type = 'alarm.raised' AND e.data->>'device_id' = ANY(%s)"
            " ORDER BY e.data->>'device_id', e.created_at",  # the probe's raise, not a later one
            (list(probes),),
        ).fetchall()
    marked = []
    for device, created, fanned, posted in rows:
        phase, published = probes[device]
        arrived = gas.receiver.arrivals.get(device)
        if arrived is None or fanned is None or posted is None:
            continue
        marked.append(
            (device, phase, [published, float(created), float(fanned), float(posted), arrived])
        )
    return marked


def write_probe_log(path: Path, db: str, gas: Gas, samples: Samples) -> None:
    """``--probe-log``: one JSON line per gas probe (its marks), API call and sample, on one
    clock (epoch s), to line a slow probe up with what else ran then."""
    with path.open("wb") as log:
        for device, phase, marks in gas_marks(db, gas):
            log.write(
                orjson.dumps({"kind": "gas", "device": device, "phase": phase, "marks": marks})
                + b"\n"
            )
        for name, start, elapsed in samples.calls:
            log.write(
                orjson.dumps({"kind": "api", "name": name, "start": start, "s": elapsed}) + b"\n"
            )
        for row in samples.rows:
            log.write(orjson.dumps({"kind": "sample", **row}) + b"\n")


RECEIVED = "parktwin_ingest_messages_received_total"
FAST = "parktwin_ingest_fast_path_messages_total"  # ingest/fastpath.py's copies
SUBSCRIBED = "parktwin_ingest_subscribed"  # workers whose subscription is confirmed
READINGS = "parktwin_ingest_readings_stored_total"


def window(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    """Counter deltas between two scrapes (a restarted ingestor starts again from zero)."""
    if now.get(RECEIVED, 0) < before.get(RECEIVED, 0):
        return now
    return {k: v - before.get(k, 0.0) for k, v in now.items()}


class Live:
    """The sampling loop shared by the live and drain phases."""

    def __init__(
        self, db: str, base: str, key: str, devices: list[str], roles: Any, interval: str
    ) -> None:
        self.db, self.base, self.key, self.devices, self.roles = db, base, key, devices, roles
        self.samples = Samples()
        self.rng = random.Random(1)
        self.started = time.monotonic()
        # the hours the rollup job may take now, as the worker's backlog gauge counts them
        self.counts = sqlalchemy.create_engine(
            db.replace("postgresql://", "postgresql+psycopg://"), poolclass=sqlalchemy.NullPool
        )
        self.due = {
            "open_hour_interval": Settings.model_validate(
                {"rollup_open_hour_interval": interval}
            ).rollup_open_hour_interval,
            "lease": CLAIM_LEASE,
            "cap": 10**9,
        }

    def sample(
        self, phase: str, ingest: IngestProcess, before: dict[str, float]
    ) -> dict[str, float]:
        metrics = ingest.metrics()
        delta = window(metrics, before) if metrics else {}
        _p50, p99, n = lag_percentiles(delta) if delta else (0.0, float("nan"), 0)
        with psycopg.connect(self.db) as conn:
            dirty = conn.execute("SELECT count(*) FROM telemetry_dirty").fetchone()
        with self.counts.connect() as counting:
            due = int(counting.execute(COUNT_DUE, self.due).scalar_one())
        for name, method, make in PROBES:
            path, body = make(self.rng, self.devices)
            start = time.time()
            status, elapsed, _ = call(self.base, self.key, method, path, body)
            self.samples.calls.append((name, start, elapsed))
            if status == 200:
                self.samples.probes.setdefault(name, []).append(elapsed)
            else:
                self.samples.probe_errors[name] = self.samples.probe_errors.get(name, 0) + 1
        memory = memory_by_role(self.roles)
        for role, mb in memory.items():
            self.samples.peak_mb[role] = max(self.samples.peak_mb.get(role, 0.0), mb)
        row = {
            "t": time.monotonic() - self.started,
            "at": time.time(),
            "phase": phase,
            "received": delta.get(RECEIVED, 0.0),
            "fast": delta.get(FAST, 0.0),
            "readings": delta.get(READINGS, 0.0),
            "lag_p99": p99,
            "lag_n": n,
            "dirty": int(dirty[0]) if dirty else 0,
            "due": due,
            "load": os.getloadavg()[0],
        }
        self.samples.rows.append(row)
        print(f"{row['t']:6.0f}s {phase:6} msgs {row['received']:7.0f} lag p99 {p99:6.2f}s "
              f"dirty {row['dirty']:7d} due {due:7d} load {row['load']:.1f}", flush=True)  # fmt: skip
        return metrics or before


def ingest_process(db: str, mqtt_url: str, args: argparse.Namespace) -> IngestProcess:
    """Two workers; ``--no-fast-path``: without ingest/fastpath.py (the drain's baseline);
    ``--fast-path-live``: the fast path on all along (``PARKTWIN_INGEST_FAST_PATH_LIVE``)."""
    process = IngestProcess(db, mqtt_url, 2, "park100k")
    if not args.fast_path:
        process.env["PARKTWIN_INGEST_FAST_PATH"] = "false"
    elif getattr(args, "fast_path_live", False):
        process.env["PARKTWIN_INGEST_FAST_PATH_LIVE"] = "true"
    return process


def _simulate(options: SimOptions, host: str, port: int, passwords: dict[str, str],
              stop: Any, results: Any) -> None:  # fmt: skip
    os.nice(SIMULATOR_NICE)
    results.put(publish(options, host, port, passwords, stop))


def gas_client(host: str, port: int, account: tuple[str, str]) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="park100k-gas",
                         protocol=mqtt.MQTTv311)  # fmt: skip
    client.username_pw_set(*account)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect(host, port)
    client.loop_start()
    assert connected.wait(10), "the gas publisher did not connect"
    return client


def webhook(base: str, key: str, url: str) -> str:
    status, _t, body = call(base, key, "POST", P + "/webhooks",
                            {"url": url, "event_types": ["alarm.raised"]})  # fmt: skip
    assert status == 201, body
    return str(body["secret"])


def device_connections(devices: int) -> tuple[int | None, int]:
    """(device connections per simulator process or None for all, processes): a process and
    the broker each hold at most RLIMIT_NOFILE descriptors (the hard limit, when this process
    may not raise it: no CAP_SYS_RESOURCE)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, min(3 * devices, 1 << 20)))
        return None, max(1, -(-devices // 25_000))
    except (ValueError, OSError):
        usable = hard - 1_000  # the broker's other descriptors: services, files
        processes = max(1, -(-min(devices, usable) // (hard - 500)))
        return min(devices, usable) // processes, processes


@dataclass
class Point:
    """One park size's row of the load curve."""

    devices: int
    rate: float  # msg/s the ingestor received over the live window
    load: float  # load average at the end of the live window
    gas: Summary  # gas reading -> webhook, live
    hops: dict[str, Summary]  # live, by hop
    wall: Summary  # bulk latest, 1,000 tiles
    twin: Summary
    cores: float  # the services' CPU: every role but the simulator and the bench


@dataclass
class Result:
    args: argparse.Namespace
    curve: list[dict[str, float]] = field(default_factory=list)
    load_curve: list[Point] = field(default_factory=list)
    seed_s: float = 0.0
    connections: str = ""
    cpu_groups: str = ""
    connect_s: float = 0.0
    drain_s: float = float("nan")
    restart_s: float = float("nan")  # the restarted ingestor's workers subscribed after
    sim: Any = None
    samples: Samples = field(default_factory=Samples)
    gas: dict[str, tuple[Summary, int]] = field(default_factory=dict)
    hops: dict[str, dict[str, Summary]] = field(default_factory=dict)
    scenario_alarms: int = 0
    db_bytes: float = 0.0
    readings: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)
    live_rate: float = 0.0


def roles(state: str, sim: list[int]) -> list[tuple[str, Callable[[int, str], bool]]]:
    me = os.getpid()
    return [
        ("broker", lambda _p, cmd: state in cmd and "mosquitto" in cmd),
        ("database", lambda _p, cmd: state in cmd and "postgres" in cmd),
        ("ingestor", lambda _p, cmd: "app.cli ingest" in cmd),
        ("worker", lambda _p, cmd: "app.cli worker" in cmd),
        ("api", lambda _p, cmd: "app.cli api" in cmd),
        ("simulator", lambda pid, _c: pid in sim),
        ("bench", lambda pid, _c: pid == me),
    ]


def db_size(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def live(result: Result, services: EmbeddedServices, db: str, gateway: tuple[str, str]) -> None:
    args, mosquitto = result.args, services.mosquitto
    state = str(services.settings.state_dir)
    stored = credentials.load(services.settings.state_dir, PARK)
    assert stored is not None
    ids = sorted(stored.passwords)
    detectors = [d for d in ids if "-gd" in d or d.startswith("gd")]
    per_process, processes = device_connections(args.devices)
    own = args.devices if per_process is None else min(args.devices, per_process * processes)
    result.connections = (
        f"every device ({own:,}) on its own connection" if own == args.devices else
        f"{own:,} devices on their own connections, the other "
        f"{args.devices - own:,} through 4 gateway connections per process "
        f"(descriptor limit {resource.getrlimit(resource.RLIMIT_NOFILE)[1]:,}, not raisable here)"
    )  # fmt: skip
    live_s, mqtt_url = args.live_minutes * 60, mosquitto.url()
    options = SimOptions(
        park_id=PARK, devices=args.devices, rate=args.devices / args.period, faults=False,
        scenario="gas_leak", scenario_at=live_s / 2, scenario_duration=min(300, live_s / 4),
        processes=processes, device_connections=per_process, gateway=gateway,
    )  # fmt: skip
    ingest = ingest_process(db, mqtt_url, args).start()
    ingest.wait_connected()
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    ingests = [ingest]
    groups: CpuGroups | None = None
    try:
        # the rollup interval docs/operations.md gives for 100,000 devices
        rollup = {"rollup_open_hour_interval": args.open_hour_interval}
        if args.rollup_duty is not None:
            rollup["rollup_duty_cycle"] = str(args.rollup_duty)
        with worker_process(db, **rollup), api_process(db, mosquitto.url("api")) as base:
            key = admin_key(db)
            receiver = ReceiverProcess().start()  # its own process: arrivals stamped on time
            receiver.set_secret(webhook(base, key, receiver.url))
            gas = Gas(receiver, gas_client("127.0.0.1", mosquitto.port, gateway), detectors)
            random.Random(2).shuffle(gas.detectors)
            sim = ctx.Process(target=_simulate, args=(options, "127.0.0.1", mosquitto.port,
                                                      stored.passwords, stop, results))  # fmt: skip
            started = time.monotonic()
            sim.start()
            loop = Live(db, base, key, ids, roles(state, [sim.pid or -1]), args.open_hour_interval)
            groups = CpuGroups.open(loop.roles, parse_weights(args.cpu_groups))
            result.cpu_groups = groups.describe()
            groups.place()
            before = ingest.metrics()
            # Live once the stream has settled: the ingestor gets the rate and keeps up (a
            # sample window at 95% of it with a lag p99 under a second), or two minutes after
            # the first messages (the ingestor may not keep up with the rate). The simulator's
            # connections open over the first minute; probes then would measure the ramp.
            flowing = None
            while True:
                time.sleep(SAMPLE_S)
                now = ingest.metrics()
                settling = window(now, before)
                got = settling.get(RECEIVED, 0)
                if got and flowing is None:
                    flowing = time.monotonic()
                if (
                    got > SETTLED_RATE * options.rate * SAMPLE_S
                    and lag_percentiles(settling)[1] < SETTLED_LAG_S
                ) or (flowing and time.monotonic() - flowing > SETTLE_LIMIT_S):
                    break
                before = now
                groups.place()  # the simulator's processes, started by now
                assert time.monotonic() - started < 900 and sim.is_alive(), "no traffic"
            result.connect_s = time.monotonic() - started
            size0, readings0, cpu0 = db_size(db), now.get(READINGS, 0), cpu_by_role(loop.roles)
            result.load = (os.getloadavg()[0], 0.0)
            t0 = time.monotonic()
            before, next_gas = now, time.monotonic()
            while time.monotonic() - t0 < live_s:
                if time.monotonic() >= next_gas:
                    gas.fire("live")
                    next_gas += args.gas_every
                time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - t0) % SAMPLE_S))
                before = loop.sample("live", ingest, before)
            cpu1, wall = cpu_by_role(loop.roles), time.monotonic() - t0
            result.live_rate = (before.get(RECEIVED, 0) - now.get(RECEIVED, 0)) / wall
            result.cpu = {r: (cpu1[r] - cpu0.get(r, 0)) / wall for r in cpu1}
            readings = before.get(READINGS, 0) - readings0
            # -- drain: the ingestor away for --pause s, then back at full speed
            ingest.stop()
            paused = time.monotonic()
            while time.monotonic() - paused < args.pause:
                gas.fire("stopped")  # waits for the ingestor's return whatever it does
                time.sleep(args.gas_every)
            ingest = ingest_process(db, mqtt_url, args).start()
            ingests.append(ingest)
            groups.place()  # its workers, forked later, follow it
            back, before = time.monotonic(), {}
            backlog = options.rate * (back - paused)
            while time.monotonic() - back < 900:  # drained: the backlog and what came since
                for _ in range(2):  # a probe every 2.5 s: the drain lasts a minute or so
                    starting = math.isnan(result.restart_s)
                    if starting and ingest.metrics().get(SUBSCRIBED, 0) >= 2:
                        result.restart_s, starting = time.monotonic() - back, False
                    # until its workers have subscribed again the ingestor is still away
                    gas.fire("stopped" if starting else "drain")
                    time.sleep(SAMPLE_S / 2)
                before = loop.sample("drain", ingest, before)
                due = backlog + 0.95 * options.rate * (time.monotonic() - back)
                if before.get(RECEIVED, 0) >= due:
                    result.drain_s = time.monotonic() - back
                    break
            readings += before.get(READINGS, 0)
            receiver.wait_for([d for ph in PHASES[1:] for d in gas.published.get(ph, {})], 60)
            stop.set()
            try:  # 19,000 connections to close at nice 10 on a machine still draining
                result.sim = results.get(timeout=600)
            except queue.Empty:
                print("the simulator gave no totals within 600 s", flush=True)
                result.sim = Report()
            sim.join(60)
            ingest.stop()
            result.db_bytes, result.readings = db_size(db) - size0, readings
            result.gas = {phase: gas.summary(phase) for phase in PHASES}
            result.hops = gas_hops(db, gas)
            if args.probe_log is not None:
                write_probe_log(args.probe_log, db, gas, loop.samples)
            probes = {d for phase in gas.published.values() for d in phase}
            result.scenario_alarms = sum(d not in probes for d in receiver.arrivals)
            result.samples = loop.samples
            result.load = (result.load[0], os.getloadavg()[0])
            gas.publisher.disconnect()
            receiver.stop()

    finally:  # also when interrupted: nothing of ours left running
        stop.set()
        for process in ingests:
            process.stop()
        if groups is not None:
            groups.close()


def point(result: Result) -> Point:
    """``result``'s row of the load curve (a run that went live)."""
    probes = result.samples.probes
    return Point(
        devices=result.args.devices, rate=result.live_rate, load=result.load[1],
        gas=result.gas.get("live", (Summary.of([]), 0))[0], hops=result.hops.get("live", {}),
        wall=Summary.of(probes.get(WALL, [])), twin=Summary.of(probes.get(TWIN, [])),
        cores=sum(c for role, c in result.cpu.items() if role not in ("simulator", "bench")),
    )  # fmt: skip


def load_curve_sizes(args: argparse.Namespace) -> list[int]:
    """The smaller parks of the load curve (``--load-curve``), below ``--devices``."""
    sizes = {int(n) for n in args.load_curve.replace("_", "").split(",") if n.strip()}
    return sorted(n for n in sizes if 0 < n < args.devices)


def run(args: argparse.Namespace) -> Result:
    result = Result(args)
    if args.curve:
        result.curve = account_curve(CURVE, args.live_samples)
    if args.live_minutes > 0:
        for n in load_curve_sizes(args):
            smaller = argparse.Namespace(**{
                **vars(args), "devices": n, "live_minutes": LOAD_CURVE_MINUTES,
                "pause": LOAD_CURVE_PAUSE, "curve": False, "load_curve": "",
            })  # fmt: skip
            print(f"load curve: {n:,} devices, {LOAD_CURVE_MINUTES:g} minutes live", flush=True)
            result.load_curve += run(smaller).load_curve  # the row its run made
    with state_dir("run") as state:
        settings = _settings(state, webhook_allow_private=True)
        services = EmbeddedServices.from_settings(settings)
        services.up()
        try:
            db = bench_database(services, "park100k")
            upgrade_to_head(db)
            gateway = gateway_account(services)
            seeding = settings.model_copy(update={"database_url": db})
            result.seed_s = seed(seeding, args.devices)
            print(f"seeded {args.devices:,} devices in {result.seed_s:.0f} s", flush=True)
            if args.live_minutes > 0:
                live(result, services, db, gateway)
                result.load_curve.append(point(result))
        finally:
            services.down()
    return result


# -- the report -----------------------------------------------------------------------------


def _p99(values: list[float]) -> str:
    s = Summary.of(values)
    return f"{s.p50 * 1000:.0f} / {s.p99 * 1000:.0f} / {s.max * 1000:.0f}" if values else "-"


CLIFFS = [
    "Cliffs found between 2,000 and 100,000 devices (curves in this section and the next):",
    "",
    "- **Broker accounts through the control topic** grow linearly with the accounts there "
    "(the next section): removed for the seed by the bulk file path; kept for the API's "
    "single-device path and API imports.",
    "- **Device inserts**: the `asset_version` row trigger made one statement of n devices "
    "O(n^2) (5,000 devices: about 70 s); removed by migration 0028 (one bump per statement). "
    "The row-by-row parent-meter check (a quarter of the devices are sub-meters) is now three "
    "statements per chunk (`set_parent_meters`).",
    "- **Connections per process**: one Mosquitto process holds at most RLIMIT_NOFILE "
    "connections. `services up` raises the broker's limit to 3 x max_connections where it may "
    "(CAP_SYS_RESOURCE); this sandbox's hard limit is 20,000 and cannot be raised, so here at "
    "most about 19,000 devices are connected at once and the rest of the load goes through "
    "gateway connections. Not removable on this machine; on a normal host set "
    "`PARKTWIN_EMBEDDED_MQTT_MAX_CONNECTIONS=120000`.",
    "- **Broker start with 100,000 accounts**: about 8 s to read the 54 MB dynamic-security "
    "file, about 660 MB resident for the accounts alone; `services up` waits 15 s + 1 s per MB.",
    "- **PUBACKs out of order** (removed): the urgent lane (smoke, gas and toxic-gas detectors, "
    "a third of the messages at this size) acknowledged its commits before the older meter "
    "readings'; Mosquitto 2.0 walks the in-flight list to each PUBACK, which took 55% of its "
    "CPU while the ingestor was behind, and the live stream collapsed to a few hundred "
    "messages a second after 5 minutes. PUBACKs now leave in arrival order (ingest/acks.py, "
    "as MQTT section 4.6 requires): the broker's CPU fell from 70% to 13% of a core at the "
    "same rate.",
    "- **Bulk latest by device ids** (removed): joined plainly, the 1,000 asked ids were hashed "
    "and every device of the park scanned (EXPLAIN ANALYZE under the live load: 73 ms of the "
    "statement's 95 at 100,000 devices); each id is now looked up by the primary key "
    "(`WANTED`, app/telemetry/repository.py): 35 ms.",
    "- **Spread, not removed: the rollup passes.** The rollup job recomputes every series' "
    "open hour (162,359 at this size) once per `PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL` and every "
    "closed hour once after the hour. Back to back, a pass took PostgreSQL a core more than "
    "the two have for its 1-3 minutes, and the ingest lag p99 climbed to 30 s. The job is now "
    "paced (`PARKTWIN_ROLLUP_DUTY_CYCLE`, app/telemetry/jobs.py: at most a quarter of the time, "
    "or what finishing the hours due within the interval takes), and its release no longer "
    "deadlocks with ingest batches (SKIP LOCKED). An open hour now gets only its hourly row, "
    "its day's row once the hour has closed (bench/rollup: about 55-80% of the full recomputation, "
    "by how far the hour is written). On a machine with no room for them (the tenth session's), "
    "the open hours every 10 minutes and the closed ones after each hour, paced to finish "
    "within those 10 minutes and so back to back, held the lag p99 at 2-10 s for six minutes "
    "after the hour, and an ingestor restarted then did not catch up in 15 minutes. At "
    "`PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL=PT1H` (closed hours only, paced over the hour; "
    "docs/operations.md's setting for this size, this bench's since) the lag p99 stayed at "
    "0.5 s (worst 1.4 s) through the closed-hour pass and the drain took 109 s.",
    "- **Checkpoints** (removed): at 20,000 readings/s the WAL grows 6 MB/s, so `max_wal_size` "
    "4GB forced a checkpoint every 6 minutes or so, and the full-page images after each one, "
    "compressed with pglz by the ingest batches that wrote them, raised the lag p99 to 2-10 s "
    "for 10-15 s. The embedded server now runs `max_wal_size=16GB` (checkpoints by time, every "
    "15 minutes) and `wal_compression=lz4`: a checkpoint forced under the full load, 2.4 s with "
    "pglz, 0.75 s with lz4 (app/embedded/postgres.py).",
    "- **Not removed: the gas reading's webhook and the wall's p99 under full load.** At this "
    "rate the services use most of the 2 cores (the load curve's last column) and several "
    "processes wait to run (its load column); each hop of a gas reading (ingest, fan-out, the POST) waits its turn for a core. Their curve by park "
    "size: the load curve below (this command's runs); what was tried: the section "
    '"Park at 100,000 devices: runs and readings".',
    "- **Gas readings behind a drain** (removed for the alarm): after an ingestor restart the "
    "broker sends the backlog in order, so a gas reading published during the drain waited "
    "behind it (p50 14 s, p99 33 s after a 60-s stop). Worker 0's fast path (ingest/fastpath.py)"
    " subscribes the watched devices' telemetry in a clean session from its start and while it "
    "is behind, and evaluates the copies that could raise an alarm at once (this run: the "
    "drain's row below); the reading's row still comes with the drain.",
]


def _pair(s: Summary) -> str:
    return f"{s.p50 * 1000:,.0f} / {s.p99 * 1000:,.0f}" if s.n else "-"


def _triple(s: Summary | None) -> str:
    return " / ".join(f"{v * 1000:,.0f}" for v in (s.p50, s.p90, s.p99)) if s and s.n else "-"


def load_curve_report(points: list[Point]) -> list[str]:
    """The load curve's table: what the missed targets do as the park grows (same code)."""
    if not points:
        return []
    # the probe asks for at most the park's devices (PROBES)
    wall = "wall of 1,000 tiles" + (
        "" if min(p.devices for p in points) >= 1000 else " (every device below 1,000)"
    )
    return [
        f"Load curve: the same command at smaller parks first ({LOAD_CURVE_MINUTES:g} minutes "
        f"live, a {LOAD_CURVE_PAUSE:g}-s stop each, `--load-curve`), then this run; latency "
        "live, ms (targets at 100,000 devices: gas p99 under 100, wall p99 under 50):", "",
        "| devices | msg/s | load (end) | gas to webhook p50 / p90 / p99 | ingest hop | "
        f"fan-out hop | {wall} p50 / p99 | twin roll-up p50 / p99 | "
        "services' CPU (cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {p.devices:,} | {p.rate:,.0f} | {p.load:.1f} | {_triple(p.gas)} | "
          f"{_triple(p.hops.get('ingest'))} | {_triple(p.hops.get('fan-out'))} | "
          f"{_pair(p.wall)} | {_pair(p.twin)} | {p.cores:.2f} |" for p in points),
        "",
    ]  # fmt: skip


def _extra(a: argparse.Namespace) -> str:
    """The options of this run beyond the ones every report names."""
    extra = f" --period {a.period:g}" if a.period != PERIOD_S else ""
    if a.open_hour_interval != ROLLUP_OPEN_HOUR_INTERVAL:
        extra += f" --open-hour-interval {a.open_hour_interval}"
    extra += f" --rollup-duty {a.rollup_duty:g}" if a.rollup_duty is not None else ""
    extra += f" --cpu-groups {a.cpu_groups}" if getattr(a, "cpu_groups", None) else ""
    extra += " --fast-path-live" if getattr(a, "fast_path_live", False) else ""
    return extra + ("" if getattr(a, "fast_path", True) else " --no-fast-path")


def _fast_path(a: argparse.Namespace) -> str:
    if not getattr(a, "fast_path", True):
        return "without the fast path (`PARKTWIN_INGEST_FAST_PATH=false`)"
    if getattr(a, "fast_path_live", False):
        return "with the fast path on all along (`PARKTWIN_INGEST_FAST_PATH_LIVE=true`)"
    return "with the fast path while behind (the default)"


def _interval_source(a: argparse.Namespace) -> str:
    if a.open_hour_interval == ROLLUP_OPEN_HOUR_INTERVAL:
        return "docs/operations.md's setting for this size"
    return "this run's `--open-hour-interval`"


def _duty(a: argparse.Namespace) -> str:
    if a.rollup_duty is not None:
        return f"{a.rollup_duty:g}"
    return f"{Settings.model_fields['rollup_duty_cycle'].default:g} (the default)"


def curve_report(result: Result) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        CURVE_HEADING, "",
        f"Run {when} with `python -m bench.park100k` on this machine ({os.cpu_count()} cores, "
        f"shared; load average {os.getloadavg()[0]:.1f} at the end). A scratch Mosquitto "
        f"{'.'.join(map(str, mosquitto_version()))} filled to each size in bulk; then "
        f"{result.args.live_samples} accounts made live through the control topic "
        "(`DynsecClient.ensure_device`: a role and a client, two commands).", "",
        "| accounts | dynsec file | bulk: file edit + broker restart, ms/account | "
        "bulk step, s | live (control topic), ms/account |",
        "|---:|---:|---:|---:|---:|",
        *(f"| {r['n']:,} | {r['file_mb']:.1f} MB | {r['bulk_ms']:.2f} | {r['bulk_s']:.1f} | "
          f"{r['live_ms']:,.0f} |" for r in result.curve),
        "",
        "**Cliff (kept for the API's single-device path, removed for bulk):** Mosquitto 2.0's "
        "dynamic-security plugin saves its whole file after every changing command (not once per "
        "control message), so a live account costs time proportional to the accounts already "
        "there. The bulk path (app/broker/dynsec_file.py, used by the seed) writes the file while "
        "the broker is stopped: a near-constant cost per account plus one restart, whose start "
        "reads the whole file. docs/operations.md, \"Device accounts in bulk\".", "",
    ])  # fmt: skip


def mosquitto_version() -> tuple[int, ...]:
    out = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False)
    words = (out.stdout + out.stderr).split()
    version = words[words.index("version") + 1] if "version" in words else "0"
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def report(result: Result) -> str:
    a = result.args
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        HEADING, "",
        f"Run {when} with `python -m bench.park100k --devices {a.devices} --live-minutes "
        f"{a.live_minutes:g} --pause {a.pause:g}{_extra(a)}` on this machine "
        f"({os.cpu_count()} cores, shared; "
        f"load average {result.load[0]:.1f} at the start of the live window, "
        f"{result.load[1]:.1f} at the end). The full run is `make bench-park100k` (30 minutes "
        "live) on a quiet machine. The worker runs with `PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL="
        f"{a.open_hour_interval}` ({_interval_source(a)}) and "
        f"`PARKTWIN_ROLLUP_DUTY_CYCLE={_duty(a)}`; the ingestor {_fast_path(a)}; the API with "
        "its twin and map cache off, so that every probe computes its answer; the simulator's "
        f"processes at nice {SIMULATOR_NICE} (the devices are other machines in a park); "
        f"{result.cpu_groups or 'no live window'}.", "",
    ]  # fmt: skip
    lines += [f"Seed of {a.devices:,} devices (assets, devices, accounts): **{result.seed_s:.0f} s** "
              f"(target under 300 s).", "", *CLIFFS, "",
              *load_curve_report(result.load_curve)]  # fmt: skip
    if result.sim is None:
        return "\n".join(lines)
    sim, rows = result.sim, result.samples.rows
    live_rows = [r for r in rows if r["phase"] == "live"]
    rate = result.live_rate
    lag = [r["lag_p99"] for r in live_rows if r["lag_n"]]
    lines += [
        f"Live: {a.devices / a.period:,.0f} msg/s wanted; {result.connections}; the live "
        f"window opened {result.connect_s:.0f} s after the simulator's start (once a 5-s window "
        f"got {SETTLED_RATE:.0%} of the rate with an ingest lag p99 under {SETTLED_LAG_S:g} s, "
        f"or {SETTLE_LIMIT_S:g} s after the first messages). Simulator: {sim.sent:,} messages, "
        f"{sim.acked:,} acknowledged, {sim.connected:,} connections, {sim.refused} refused. "
        f"Ingestor received **{rate:,.0f} msg/s** over the live window.", "",
        "| measure | value |", "|---|---:|",
        f"| ingest lag p99 per sample window, median / worst | "
        f"{Summary.of(lag).p50:.2f} s / {max(lag, default=float('nan')):.2f} s |",
    ]  # fmt: skip
    for phase in PHASES:
        summary, lost = result.gas.get(phase, (Summary.of([]), 0))
        lines.append(f"| gas reading -> webhook, {PHASE_NAMES[phase]}, p50 / p90 / p99 / max ms "
                     f"(n={summary.n}, lost {lost}) | {summary.ms()} |")  # fmt: skip
    drain_rows = [r for r in rows if r["phase"] == "drain"]
    lines.append(f"| fast-path copies of watched readings (ingest/fastpath.py), live / drain | "
                 f"{sum(r.get('fast', 0) for r in live_rows):,.0f} / "
                 f"{sum(r.get('fast', 0) for r in drain_rows):,.0f} |")  # fmt: skip
    lines += [
        f"| backlog after a {a.pause:g} s ingestor stop: drained in (its workers subscribed "
        f"again after {result.restart_s:.1f} s) | {result.drain_s:.0f} s |",
        f"| gas_leak scenario alarms delivered | {result.scenario_alarms} |",
        f"| rollup backlog (live): hours due for the job, median / max; dirty marks, max | "
        f"{Summary.of([r['due'] for r in live_rows]).p50:,.0f} / "
        f"{max((r['due'] for r in live_rows), default=0):,} hours; "
        f"{max((r['dirty'] for r in live_rows), default=0):,} marks |",
        f"| PostgreSQL growth | {result.db_bytes / 1e6:,.0f} MB for {result.readings:,.0f} "
        f"readings = {result.db_bytes / max(result.readings, 1):.0f} B/reading; at 20,000 "
        f"readings/s **{result.db_bytes / max(result.readings, 1) * 20_000 * 86_400 / 1e9:,.0f} "
        f"GB per day** (before compression) |",
    ]  # fmt: skip
    if result.hops:
        lines += ["", "Where the gas probes' time went, per hop (p50 / p90 / p99 / max ms):", "",
                  "| hop | live | stopped | drain |", "|---|---:|---:|---:|"]  # fmt: skip
        for hop in HOPS:
            cells = [result.hops.get(ph, {}).get(hop) for ph in PHASES]
            lines.append(f"| {hop}: {HOP_NOTES[hop]} | "
                         + " | ".join(c.ms() if c else "-" for c in cells) + " |")  # fmt: skip
    lines += ["", "API probes (one call of each per sample, samples 5 s apart plus the probes' own time):", "",
              "| probe | calls | p50 / p99 / max ms | errors |", "|---|---:|---:|---:|"]  # fmt: skip
    for name, _m, _f in PROBES:
        values = result.samples.probes.get(name, [])
        errors = result.samples.probe_errors.get(name, 0)
        lines.append(f"| {name} | {len(values)} | {_p99(values)} | {errors} |")
    lines += ["", "Peak resident memory per role (sum of its processes) and CPU over the live "
              "window (cores):", "", "| role | peak MB | cores |", "|---|---:|---:|"]  # fmt: skip
    for role, mb in result.samples.peak_mb.items():
        lines.append(f"| {role} | {mb:,.0f} | {result.cpu.get(role, 0.0):.2f} |")
    lines += ["", "Over time (per sample: messages received since the one before, ingest lag p99, "
              "`telemetry_dirty` rows, of them due for the rollup job, load):", "",
              "| t s | phase | msgs | lag p99 s | dirty rows | due | load |",
              "|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    step = max(1, len(rows) // 40)
    for r in rows[::step]:
        lines.append(f"| {r['t']:.0f} | {r['phase']} | {r['received']:,.0f} | "
                     f"{r['lag_p99']:.2f} | {r['dirty']:,} | {r['due']:,} | {r['load']:.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--live-minutes", type=float, default=30.0)
    parser.add_argument("--pause", type=float, default=60.0, help="ingestor stop, seconds")
    parser.add_argument(
        "--period",
        type=float,
        default=PERIOD_S,
        help="seconds between a device's messages (the issue's load: 15)",
    )
    parser.add_argument(
        "--rollup-duty",
        type=float,
        default=None,
        help="PARKTWIN_ROLLUP_DUTY_CYCLE of the worker (default: the setting's)",
    )
    parser.add_argument(
        "--open-hour-interval",
        default=ROLLUP_OPEN_HOUR_INTERVAL,
        help="PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL of the worker (ISO 8601; PT1H and more: "
        "closed hours only)",
    )
    parser.add_argument("--gas-every", type=float, default=3.0, help="seconds between gas probes")
    parser.add_argument("--live-samples", type=int, default=2, help="live accounts per curve size")
    parser.add_argument("--no-curve", dest="curve", action="store_false")
    parser.add_argument(
        "--load-curve",
        default=LOAD_CURVE,
        help=f"smaller parks run {LOAD_CURVE_MINUTES:g} minutes live first, for the load curve "
        f"(comma-separated device counts; default {LOAD_CURVE})",
    )
    parser.add_argument("--no-load-curve", dest="load_curve", action="store_const", const="")
    parser.add_argument(
        "--no-fast-path",
        dest="fast_path",
        action="store_false",
        help="ingest with PARKTWIN_INGEST_FAST_PATH=false (the baseline of the drain's gas probes)",
    )
    parser.add_argument(
        "--fast-path-live",
        action="store_true",
        help="ingest with PARKTWIN_INGEST_FAST_PATH_LIVE=true (the fast path on all along, not "
        "only while behind)",
    )
    parser.add_argument(
        "--cpu-groups",
        metavar="WEIGHTS",
        help="each service in a CPU group of its own, as its systemd unit would run it "
        "(bench/cpugroups.py); WEIGHTS: role=CPUWeight pairs beyond the default 100, e.g. "
        "'database=400', or 'equal'",
    )
    parser.add_argument(
        "--probe-log",
        type=Path,
        default=None,
        help="write every gas probe's marks, API call and sample as JSON lines (epoch s) here",
    )
    parser.add_argument("--no-report", dest="report", action="store_false")
    args = parser.parse_args()
    result = run(args)
    text = report(result)
    print(text)
    if result.curve:
        print(curve_report(result))
    if args.report:
        replace_section(HEADING, text)
        if result.curve:
            replace_section(CURVE_HEADING, curve_report(result))


if __name__ == "__main__":
    main()
