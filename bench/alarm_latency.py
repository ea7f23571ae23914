"""bench/alarm_latency: from a gas reading's MQTT publish to its signed webhook, under load.

    .venv/bin/python -m bench.alarm_latency        # or: make bench-alarm
    .venv/bin/python -m bench.alarm_latency --events 30 --idle-events 10 --rate 2000 --no-report

Everything runs on this machine (bench/ingest's helpers): embedded PostgreSQL + TimescaleDB and
Mosquitto in a temporary state directory, a database with the park ``bench`` (200 electricity
meters, then ``--events + --idle-events`` gas detectors, by SQL), ``parktwin ingest`` and
``parktwin worker`` as processes (private webhook URLs allowed), and a local receiver (a
threaded ``http.server``) that verifies every webhook with the ``standardwebhooks`` package and
records when it arrived. Its subscription (``alarm.raised``) is made through the API.

1. Warm-up: every detector reports 2 %LEL once; a test ping proves the worker delivers.
2. Idle baseline: ``--idle-events`` detectors each publish one reading of 30 %LEL (over the
   25 %LEL ``major`` threshold), one at a time, ``--spacing`` apart on average (jittered), with
   nothing else on the broker.
3. Loaded: the same for ``--events`` other detectors while ``--publishers`` meters send
   ``--rate`` msg/s of readings in total (bench/ingest's ``publish_lean``: one process, one
   connection per meter, so it never holds this one's GIL and takes as little of the machine
   as a load generator can; ``--load mosquitto_pub``: a ``mosquitto_pub`` process per meter,
   about twice the CPU); events start after ``--warmup`` s.

Latency is the receiver's arrival time minus the publish time (the same clock). Per phase:
p50/p90/p99/max, events lost (no webhook at all), duplicates and failed signatures; from the
database, where the time went (publish -> outbox row written by the ingest transaction ->
picked up by the worker -> arrival); the background rate the ingestor actually received and
its own publish-to-commit lag. Written under "## Alarm latency" in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import paho.mqtt.client as mqtt
import psycopg
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core.auth import generate_key
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from app.main import create_app
from bench.common import Role, cpu_by_role
from bench.ingest import (
    PARK,
    ROOT,
    IngestProcess,
    embedded_services,
    lag_percentiles,
    make_database,
    publish_lean,
    publish_live,
    publisher_account,
)
from bench.report import replace_section

HEADING = "## Alarm latency (bench/alarm_latency)"
GAS_NORMAL = 2.0  # %LEL
GAS_ALARM = 30.0  # %LEL: over level 1 (25, major), under level 2 (50, critical)
STORED = "parktwin_ingest_messages_stored_total"
RECEIVED = "parktwin_ingest_messages_received_total"


# -- statistics (pure) ----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1), interpolated linearly between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Summary:
    n: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            len(values),
            percentile(values, 0.5),
            percentile(values, 0.9),
            percentile(values, 0.99),
            max(values, default=float("nan")),
        )

    def ms(self) -> str:
        """``p50 / p90 / p99 / max`` in milliseconds, for a table cell."""
        return " / ".join(f"{v * 1000:.0f}" for v in (self.p50, self.p90, self.p99, self.max))


# -- the receiver ---------------------------------------------------------------------------


@dataclass
class Receiver:
    """Verifies each webhook (``standardwebhooks``) and records the first arrival per device."""

    secret: str = ""
    arrivals: dict[str, float] = field(default_factory=dict)  # device -> arrival (epoch s)
    duplicates: int = 0
    bad_signatures: int = 0
    messages: int = 0
    others: list[str] = field(default_factory=list)  # types other than alarm.raised
    cond: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/alarms"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                arrived = time.time()
                sent = {k.lower(): v for k, v in self.headers.items()}
                ok = receiver.record(body, sent, arrived, self.path)
                status, reply = receiver.reply(ok)
                self.send_response(status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def set_secret(self, secret: str) -> None:
        """The secret the webhook's signatures are checked with."""
        self.secret = secret

    def reply(self, ok: bool) -> tuple[int, bytes]:
        return (204 if ok else 401), b""

    def record(self, body: bytes, headers: dict[str, str], arrived: float, _path: str = "") -> bool:
        try:
            event = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self.cond:
                self.bad_signatures += 1
                self.noted("bad_signature", "", arrived)
            return False
        with self.cond:
            if event["type"] != "alarm.raised":
                self.others.append(event["type"])
                self.noted("other", event["type"], arrived)
            elif (device := event["data"]["device_id"]) in self.arrivals:
                self.duplicates += 1
                self.noted("duplicate", device, arrived)
            else:
                self.arrivals[device] = arrived
                self.noted("arrival", device, arrived)
            self.cond.notify_all()
        return True

    def noted(self, kind: str, what: str, arrived: float) -> None:
        """Each verdict as it is recorded (``ReceiverProcess`` sends them to its parent)."""

    def wait_for(self, devices: Sequence[str], quiet: float) -> None:
        """Until every device's event arrived, or none arrived for ``quiet`` seconds."""
        with self.cond:
            seen, deadline = len(self.arrivals), time.monotonic() + quiet
            while not all(d in self.arrivals for d in devices):
                if (remaining := deadline - time.monotonic()) <= 0:
                    return
                self.cond.wait(remaining)
                if len(self.arrivals) > seen:
                    seen, deadline = len(self.arrivals), time.monotonic() + quiet

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ReceiverProcess(Receiver):
    """A :class:`Receiver` in a process of its own, its arrivals sent back over a pipe.

    A bench whose own loop is busy (bench/park100k parses each probe's JSON and reads every
    process's memory every 5 s) holds its process's GIL for tens of milliseconds at a time; an
    in-process receiver's handler thread waited for it before stamping an arrival, which the
    report then counted as delivery time. Here the arrival is stamped in a quiet process; the
    parent's copy (``arrivals``, ``duplicates``, ``bad_signatures``, ``others``) follows it.
    Set the signing secret with :meth:`set_secret` (it has to reach the child)."""

    def __init__(self) -> None:
        super().__init__()
        self._child: Any = None
        self._url = ""
        self._secrets: Any = None

    @property
    def url(self) -> str:
        return self._url

    def start(self) -> ReceiverProcess:
        ctx = multiprocessing.get_context("spawn")
        urls_in, urls_out = ctx.Pipe(duplex=False)
        secrets_in, self._secrets = ctx.Pipe(duplex=False)
        events_in, events_out = ctx.Pipe(duplex=False)
        self._child = ctx.Process(
            target=_serve_receiver, args=(urls_out, secrets_in, events_out), daemon=True
        )
        self._child.start()
        urls_out.close()
        secrets_in.close()
        events_out.close()
        self._url = urls_in.recv()
        threading.Thread(target=self._collect, args=(events_in,), daemon=True).start()
        return self

    def set_secret(self, secret: str) -> None:
        self.secret = secret
        self._secrets.send(secret)

    def _collect(self, events: Any) -> None:
        while True:
            try:
                kind, device, arrived = events.recv()
            except (EOFError, OSError):
                return
            with self.cond:
                if kind == "arrival":
                    self.arrivals[device] = arrived
                elif kind == "duplicate":
                    self.duplicates += 1
                elif kind == "bad_signature":
                    self.bad_signatures += 1
                else:
                    self.others.append(device)
                self.cond.notify_all()

    def stop(self) -> None:
        if self._child is not None:
            self._secrets.close()  # the child's end reads EOF and it stops
            self._child.join(10)
            if self._child.is_alive():
                self._child.terminate()
            self._child = None


def _serve_receiver(urls: Any, secrets: Any, events: Any) -> None:
    """ReceiverProcess's child: a Receiver whose every verdict is also sent to the parent."""

    class Forwarding(Receiver):
        def noted(self, kind: str, what: str, arrived: float) -> None:
            events.send((kind, what, arrived))  # under ``cond``: one sender at a time

    receiver = Forwarding().start()
    urls.send(receiver.url)
    with suppress(EOFError):
        receiver.secret = secrets.recv()
        secrets.recv()  # until the parent closes its end
    receiver.stop()


DEVICE_IN_TEXT = re.compile(r"gas detector (g[0-9]+)")


@dataclass
class DingTalkRobot(Receiver):
    """A fake DingTalk custom robot: checks ``timestamp`` and ``sign`` as DingTalk documents
    them (base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded, within an hour)
    and the ``markdown`` message shape, answers ``{"errcode": 0}`` (310000 when the signature
    is wrong), and records the first arrival per gas detector named in the text (a digest
    names several)."""

    def reply(self, ok: bool) -> tuple[int, bytes]:
        answer = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "sign"}
        return 200, orjson.dumps(answer)

    def record(self, body: bytes, headers: dict[str, str], arrived: float, path: str = "") -> bool:
        query = parse_qs(urlsplit(path).query)
        timestamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        digest = hmac.new(
            self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256
        ).digest()
        message = orjson.loads(body)
        fresh = timestamp.isdigit() and abs(int(timestamp) - arrived * 1000) < 3_600_000
        shaped = message.get("msgtype") == "markdown" and "text" in message.get("markdown", {})
        with self.cond:
            if not (fresh and shaped and sign == base64.b64encode(digest).decode()):
                self.bad_signatures += 1
                return False
            for device in DEVICE_IN_TEXT.findall(message["markdown"]["text"]):
                if device in self.arrivals:
                    self.duplicates += 1
                else:
                    self.arrivals[device] = arrived
            self.messages += 1
            self.cond.notify_all()
        return True


# -- set-up ---------------------------------------------------------------------------------


def add_detectors(database_url: str, count: int) -> list[str]:
    devices = [f"g{i}" for i in range(count)]
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO device (park_id, id, type, name) VALUES (%s, %s, 'gas_detector', %s)",
            [(PARK, d, f"gas detector {d}") for d in devices],
        )
    return devices


DING_SECRET = "SECbench0123456789abcdef0123456789abcdef0123456789abcdef01234567"
ROBOT_RATE = 6000  # per minute: the bench measures latency, not DingTalk's 20 a minute


def subscribe(database_url: str, mqtt_url: str, url: str, robot_url: str) -> str:
    """An ``alarm.raised`` webhook made through the API (in process); a test ping queued; and
    a DingTalk channel (signed, ``ROBOT_RATE``) routed ``alarm.raised``. Returns the webhook's
    signing secret."""
    key = generate_key()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO api_key (id, secret_hash, role) VALUES (%s, %s, 'admin')",
            (key.id, key.secret_hash),
        )
    settings = Settings(database_url=database_url, mqtt_url=mqtt_url, webhook_allow_private=True)
    headers = {"Authorization": f"Bearer {key.token}"}
    with TestClient(create_app(settings)) as api:
        answer = api.post(
            f"/api/v1/parks/{PARK}/webhooks",
            json={"url": url, "event_types": ["alarm.raised"], "description": "bench"},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        created = answer.json()
        ping = api.post(f"/api/v1/parks/{PARK}/webhooks/{created['id']}/test", headers=headers)
        assert ping.status_code == 202, ping.text
        channel = api.post(
            f"/api/v1/parks/{PARK}/notify/channels",
            json={
                "name": "bench 钉钉",
                "kind": "dingtalk",
                "url": robot_url,
                "secret": DING_SECRET,
                "rate_per_min": ROBOT_RATE,
            },
            headers=headers,
        )
        assert channel.status_code == 201, channel.text
        route = {"channel_id": channel.json()["id"], "event_types": ["alarm.raised"]}
        routed = api.put(f"/api/v1/parks/{PARK}/notify/routes", json=[route], headers=headers)
        assert routed.status_code == 200, routed.text
    return str(created["secret"])


@contextmanager
def worker_process(database_url: str, **settings: str) -> Iterator[Path]:
    """``parktwin worker`` as a process (private URLs allowed, ``settings`` as ``PARKTWIN_``
    variables); yields its log file."""
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")}
        | {
            "PARKTWIN_DATABASE_URL": database_url,
            "PARKTWIN_WEBHOOK_ALLOW_PRIVATE": "true",
            "PARKTWIN_LOG_LEVEL": "WARNING",
        }
        | {f"PARKTWIN_{name.upper()}": value for name, value in settings.items()}
    )
    fd, name = tempfile.mkstemp(prefix="parktwin-bench-worker-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT, stdout=log, stderr=log
        )
    try:
        yield Path(name)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        Path(name).unlink(missing_ok=True)


class GasPublisher:
    """One paho client (MQTT 3.1.1, QoS 1) publishing as any detector of the park."""

    def __init__(self, target: MqttTarget) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-gas-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self.client.username_pw_set(target.username, target.password)
        connected = threading.Event()
        self.client.on_connect = lambda *_a: connected.set()
        self.client.connect(target.host, target.port)
        self.client.loop_start()
        assert connected.wait(10), "gas publisher did not connect"

    def publish(self, device: str, value: float) -> float:
        """Publish one reading stamped now; return the publish time (epoch seconds)."""
        now = time.time()
        payload = orjson.dumps({"ts": int(now * 1000), "values": {"gas_lel_pct": value}})
        self.client.publish(f"parks/{PARK}/devices/{device}/telemetry", payload, qos=1)
        return now

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_stored(ingestor: IngestProcess, count: float, timeout: float) -> float:
    """Wait until the ingestor has stored ``count`` messages; return the seconds it took."""
    started = time.monotonic()
    while ingestor.metrics().get(STORED, 0) < count:
        assert time.monotonic() - started < timeout, f"ingestor stored < {count:.0f} messages"
        time.sleep(0.05)
    return time.monotonic() - started


# -- one phase ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    published: dict[str, float]
    arrivals: dict[str, float]
    robot: dict[str, float] = field(default_factory=dict)  # DingTalk message arrivals
    stages: dict[str, list[float]] = field(default_factory=dict)
    retried: int = 0
    no_outbox: int = 0
    load: float = 0.0
    background: dict[str, float] = field(default_factory=dict)
    ingest: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # role -> cores used

    @property
    def latencies(self) -> list[float]:
        return [self.arrivals[d] - t for d, t in self.published.items() if d in self.arrivals]

    @property
    def lost(self) -> int:
        return sum(d not in self.arrivals for d in self.published)

    @property
    def robot_latencies(self) -> list[float]:
        return [self.robot[d] - t for d, t in self.published.items() if d in self.robot]

    @property
    def robot_lost(self) -> int:
        return sum(d not in self.robot for d in self.published)

    @property
    def summary(self) -> Summary:
        return Summary.of(self.latencies)


def publish_events(
    gas: GasPublisher, devices: Sequence[str], spacing: float, rng: random.Random
) -> dict[str, float]:
    """One alarm reading per device, one at a time, ``spacing`` apart on average (x0.5..1.5,
    so events do not lock onto the ingestor's batch window)."""
    published: dict[str, float] = {}
    due = time.monotonic()
    for device in devices:
        if (delay := due - time.monotonic()) > 0:
            time.sleep(delay)
        published[device] = gas.publish(device, GAS_ALARM)
        due += spacing * rng.uniform(0.5, 1.5)
    return published


STAGES_SQL = """
SELECT o.data->>'device_id', extract(epoch FROM o.created_at)::float8,
       extract(epoch FROM o.fanned_out_at)::float8,
       (SELECT max(a.attempt) FROM webhook_attempt a WHERE a.event_id = o.id)
FROM event_outbox o WHERE o.type = 'alarm.raised' AND o.data->>'device_id' = ANY(%s)
"""


def stages(database_url: str, phase: Phase) -> None:
    """Split each delivered event's latency at the outbox row (written in the ingest
    transaction) and the worker's fan-out (the start of its dispatch transaction)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(STAGES_SQL, (list(phase.published),)).fetchall()
    split: dict[str, list[float]] = {"ingest": [], "handover": [], "delivery": []}
    for device, created, fanned, attempts in rows:
        if device not in phase.arrivals or fanned is None:
            continue
        split["ingest"].append(created - phase.published[device])
        split["handover"].append(fanned - created)
        split["delivery"].append(phase.arrivals[device] - fanned)
        phase.retried += (attempts or 1) > 1
    phase.no_outbox = len(phase.published) - len(rows)
    phase.stages = split


LOADS = {"lean": publish_lean, "mosquitto_pub": publish_live}


def _background(
    load: str, target: MqttTarget, rate: float, seconds: float, meters: int, out: Any
) -> None:
    out.put(LOADS[load](target, rate, seconds, meters))


class IngestWatch:
    """The ingestor's metrics over a phase: rates and batch figures from counter deltas, its
    own lag histogram, and its queue (paho -> writer) sampled every 0.2 s; and the CPU each
    role on the machine used (``roles``, bench/common.py)."""

    def __init__(self, ingestor: IngestProcess, roles: list[Role]) -> None:
        self.ingestor = ingestor
        self.roles = roles
        self.depths: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.depths.append(self.ingestor.metrics().get("parktwin_ingest_queue_depth", 0.0))

    def __enter__(self) -> IngestWatch:
        self.before, self.t0 = self.ingestor.metrics(), time.monotonic()
        self.cpu_before = cpu_by_role(self.roles)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after, self.t1 = self.ingestor.metrics(), time.monotonic()
        self.cpu_after = cpu_by_role(self.roles)

    def cores(self) -> dict[str, float]:
        """Cores used per role over the phase (CPU seconds / wall seconds)."""
        wall = self.t1 - self.t0
        return {k: (v - self.cpu_before.get(k, 0.0)) / wall for k, v in self.cpu_after.items()}

    def delta(self, name: str) -> float:
        return self.after.get(name, 0.0) - self.before.get(name, 0.0)

    def figures(self) -> dict[str, float]:
        lag = {k: v - self.before.get(k, 0.0) for k, v in self.after.items() if "lag_" in k}
        lag_p50, lag_p99, _n = lag_percentiles(lag)
        batches = max(self.delta("parktwin_ingest_batch_messages_count"), 1.0)
        return {
            "received": self.delta(RECEIVED) / (self.t1 - self.t0),
            "lag_p50": lag_p50,
            "lag_p99": lag_p99,
            "batch": self.delta("parktwin_ingest_batch_messages_sum") / batches,
            "flush": self.delta("parktwin_ingest_flush_seconds_sum") / batches,
            "queue_mean": sum(self.depths) / max(len(self.depths), 1),
            "queue_max": max(self.depths, default=0.0),
        }


def measure(
    name: str,
    devices: Sequence[str],
    receiver: Receiver,
    robot: DingTalkRobot,
    gas: GasPublisher,
    ingestor: IngestProcess,
    args: argparse.Namespace,
    rng: random.Random,
    roles: list[Role],
) -> Phase:
    with IngestWatch(ingestor, roles) as watch:
        published = publish_events(gas, devices, args.spacing, rng)
    receiver.wait_for(devices, args.quiet)
    robot.wait_for(devices, args.quiet)
    with receiver.cond:
        arrivals = {d: receiver.arrivals[d] for d in devices if d in receiver.arrivals}
    with robot.cond:
        to_robot = {d: robot.arrivals[d] for d in devices if d in robot.arrivals}
    phase = Phase(
        name,
        published,
        arrivals,
        robot=to_robot,
        load=os.getloadavg()[0],
        ingest=watch.figures(),
        cpu=watch.cores(),
    )
    s, ing = phase.summary, phase.ingest
    print(
        f"  {name}: {s.n}/{len(devices)} events, p50 {s.p50 * 1000:.0f} ms, "
        f"p99 {s.p99 * 1000:.0f} ms, max {s.max * 1000:.0f} ms, lost {phase.lost}; ingestor: "
        f"{ing['received']:,.0f} msg/s, lag p99 {ing['lag_p99'] * 1000:.0f} ms, batches of "
        f"{ing['batch']:.0f} in {ing['flush'] * 1000:.0f} ms, queue mean {ing['queue_mean']:.0f}",
        flush=True,
    )
    r = Summary.of(phase.robot_latencies)
    print(
        f"  {name} -> DingTalk: {r.n}/{len(devices)}, p50 {r.p50 * 1000:.0f} ms, "
        f"p99 {r.p99 * 1000:.0f} ms, max {r.max * 1000:.0f} ms, lost {phase.robot_lost}",
        flush=True,
    )
    print("  cores: " + ", ".join(f"{k} {v:.2f}" for k, v in phase.cpu.items()), flush=True)
    return phase


def loaded_phase(
    devices: Sequence[str],
    receiver: Receiver,
    robot: DingTalkRobot,
    gas: GasPublisher,
    ingestor: IngestProcess,
    publisher: MqttTarget,
    args: argparse.Namespace,
    rng: random.Random,
    roles: list[Role],
) -> Phase:
    """Events while ``publish_lean`` runs in another process; the background's own numbers
    (sent, and the ingestor's drain after they stop) go into ``phase.background``."""
    seconds = args.warmup + len(devices) * args.spacing + 1.0
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    stored_before = ingestor.metrics().get(STORED, 0)
    background = ctx.Process(
        target=_background,
        args=(args.load, publisher, args.rate, seconds, args.publishers, out),
    )
    background.start()
    generator = background.pid
    load: Role = ("load generator", lambda pid, cmd: pid == generator or "mosquitto_pub" in cmd)
    try:
        time.sleep(args.warmup)
        phase = measure(
            "loaded", devices, receiver, robot, gas, ingestor, args, rng, [load, *roles]
        )
        elapsed = out.get(timeout=seconds + 600)
        background.join(60)
    finally:
        if background.is_alive():
            background.terminate()
            background.join()
    count = int(args.rate * seconds)
    drain = wait_stored(ingestor, stored_before + count + len(devices), 600)
    phase.background = {"offered": count / elapsed, "seconds": elapsed, "drain": drain}
    print(
        f"  background: {count:,} messages sent in {elapsed:.1f} s, "
        f"{drain:.1f} s to drain after the publishers stopped",
        flush=True,
    )
    return phase


# -- the run --------------------------------------------------------------------------------


def machine_roles(state_dir: str) -> list[Role]:
    """Who is who on the machine, for the CPU table (the load generator is added while it
    runs). The embedded services are found by their state directory on their command line."""
    me = os.getpid()
    return [
        ("broker", lambda _pid, cmd: state_dir in cmd and "mosquitto" in cmd),
        ("database", lambda _pid, cmd: state_dir in cmd and "postgres" in cmd),
        ("ingestor", lambda _pid, cmd: "app.cli ingest" in cmd),
        ("webhook worker", lambda _pid, cmd: "app.cli worker" in cmd),
        ("bench (receiver, gas publisher)", lambda pid, _cmd: pid == me),
    ]


def run(args: argparse.Namespace) -> tuple[Phase, Phase]:
    rng = random.Random(args.seed)
    with embedded_services() as services:
        mqtt_url = services.mosquitto.url()
        publisher = publisher_account(MqttTarget.from_url(mqtt_url))
        database_url = make_database(services, f"bench_alarm_{uuid.uuid4().hex[:6]}")
        detectors = add_detectors(database_url, args.idle_events + args.events)
        roles = machine_roles(str(services.settings.state_dir))
        receiver = Receiver().start()
        robot = DingTalkRobot(secret=DING_SECRET).start()
        robot_url = robot.url.replace("/alarms", "/robot/send?access_token=bench")
        receiver.secret = subscribe(database_url, mqtt_url, receiver.url, robot_url)
        ingestor = IngestProcess(database_url, mqtt_url, args.ingest_workers, "alarm").start()
        gas: GasPublisher | None = None
        try:
            with worker_process(database_url) as worker_log:
                ingestor.wait_connected()
                gas = GasPublisher(publisher)
                for device in detectors:
                    gas.publish(device, GAS_NORMAL)
                wait_stored(ingestor, len(detectors), 60)
                with receiver.cond:
                    pinged = receiver.cond.wait_for(lambda: bool(receiver.others), 30)
                assert pinged, "no test ping from the worker:\n" + worker_log.read_text()
                print(f"idle: {args.idle_events} events", flush=True)
                idle = measure(
                    "idle",
                    detectors[: args.idle_events],
                    receiver,
                    robot,
                    gas,
                    ingestor,
                    args,
                    rng,
                    roles,
                )
                print(f"loaded: {args.events} events under {args.rate:,.0f} msg/s", flush=True)
                loaded = loaded_phase(
                    detectors[args.idle_events :],
                    receiver,
                    robot,
                    gas,
                    ingestor,
                    publisher,
                    args,
                    rng,
                    roles,
                )
                for phase in (idle, loaded):
                    stages(database_url, phase)
                if (logged := worker_log.read_text(errors="replace")).strip():
                    print("worker warnings (last 2,000 characters):\n" + logged[-2000:])
        finally:
            if gas is not None:
                gas.close()
            ingestor.stop()
            receiver.stop()
            robot.stop()
    loaded.background["robot_messages"] = robot.messages
    loaded.background["robot_bad"] = robot.bad_signatures
    loaded.background["duplicates"] = receiver.duplicates
    loaded.background["bad_signatures"] = receiver.bad_signatures
    return idle, loaded


# -- the report -----------------------------------------------------------------------------


def _row(phase: Phase) -> str:
    s = phase.summary
    return (
        f"| {phase.name} | {len(phase.published)} | {s.n} | {phase.lost} | "
        f"{s.p50 * 1000:.0f} | {s.p90 * 1000:.0f} | **{s.p99 * 1000:.0f}** | {s.max * 1000:.0f} "
        f"| {phase.retried} | {phase.load:.1f} |"
    )


def _robot_row(phase: Phase) -> str:
    s = Summary.of(phase.robot_latencies)
    return (
        f"| {phase.name} -> DingTalk | {len(phase.published)} | {s.n} | {phase.robot_lost} | "
        f"{s.p50 * 1000:.0f} | {s.p90 * 1000:.0f} | **{s.p99 * 1000:.0f}** | {s.max * 1000:.0f} |"
    )


def reading(idle: Phase, loaded: Phase, args: argparse.Namespace) -> str:
    """What the stage split says, in words, from this run's numbers."""
    total, il = percentile(loaded.latencies, 0.5), loaded.ingest
    ingest = percentile(loaded.stages.get("ingest", []), 0.5)
    ingest_p99 = percentile(loaded.stages.get("ingest", []), 0.99)
    worker = sum(percentile(loaded.stages.get(k, []), 0.5) for k in ("handover", "delivery"))
    window = Settings().ingest_batch_wait_ms
    text = (
        "Reading: a gas detector's reading takes the ingestor's urgent lane (ingest/lanes.py: "
        "a writer thread of its own in each worker, no collect window), so it never waits for "
        f"the meter batches: under load its ingest stage was p50 {ingest * 1000:.0f} ms and "
        f"p99 {ingest_p99 * 1000:.0f} ms ({ingest / total:.0%} of the median latency of "
        f"{total * 1000:.0f} ms), while the ingestor's publish-to-commit lag over all readings "
        f"was p50 {il['lag_p50'] * 1000:.0f} ms and p99 {il['lag_p99'] * 1000:.0f} ms (a meter "
        f"reading waits up to `PARKTWIN_INGEST_BATCH_WAIT_MS`, {window} ms, for its batch, "
        "then behind the batch being written). The worker's part (hand-over + delivery) is p50 "
        f"{worker * 1000:.0f} ms."
    )
    if il["received"] < 0.95 * args.rate:
        text += (
            f" The ingestor received {il['received']:,.0f} msg/s of the {args.rate:,.0f} offered: "
            "it did not keep up in this run, so the broker's in-flight window per connection "
            "(`max_inflight_messages`) filled and gas readings waited in the broker's queue "
            "behind meter readings: the urgent lane starts only once the ingestor has read a "
            "message."
        )
    return text


def report_lines(
    idle: Phase, loaded: Phase, args: argparse.Namespace, load_before: float, load_after: float
) -> list[str]:
    li, ll, bg, il = idle.summary, loaded.summary, loaded.background, loaded.ingest
    verdict = "met" if ll.p99 <= 1.0 and loaded.lost == 0 else "NOT met"
    lr = Summary.of(loaded.robot_latencies)
    robot_verdict = "met" if lr.p99 < 1.0 and loaded.robot_lost == 0 else "NOT met"
    stage_names = {
        "ingest": "publish -> outbox row (broker, urgent lane, write, alarm evaluation)",
        "handover": "outbox row -> worker fan-out (ingest commit, NOTIFY, worker wake-up)",
        "delivery": "fan-out -> arrival (claim commit, signing, HTTP POST)",
    }
    return [
        HEADING,
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench-alarm` "
        f"(`python -m bench.alarm_latency --events {args.events} --idle-events "
        f"{args.idle_events} --rate {args.rate:g}`) on the 2-core development machine: broker, "
        "PostgreSQL + TimescaleDB, `parktwin ingest "
        f"--workers {args.ingest_workers}`, `parktwin worker`, publishers and the receiver all on "
        f"it. {len(idle.published) + len(loaded.published)} gas detectors each publish one reading "
        f"of {GAS_ALARM:g} %LEL (level 1 is 25 %LEL, `major`), one at a time, "
        f"{args.spacing * 1000:.0f} ms apart on average; the receiver (threaded `http.server`, "
        "subscribed to `alarm.raised` through the API) verifies each webhook with the "
        "`standardwebhooks` package. Latency = arrival at the receiver minus the publish time "
        "(the same clock). Idle: nothing else on the broker. Loaded: "
        f"{args.publishers} meters send {args.rate:,.0f} msg/s of readings in all (QoS 1, one "
        "connection each) throughout, "
        + (
            "from one process (bench/ingest's `publish_lean`)."
            if args.load == "lean"
            else "from a `mosquitto_pub` process each (`--load mosquitto_pub`)."
        ),
        "",
        "| phase | events | delivered | lost | p50 ms | p90 ms | p99 ms | max ms | retried "
        "| load (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        _row(idle),
        _row(loaded),
        "",
        "The same readings as DingTalk messages (`app/notify`: routed by the webhook job "
        "after the webhooks' fan-out, in a transaction of its own, rendered, signed with the robot's 加签 secret, POSTed to a local fake "
        "robot that checks the signature and the `markdown` shape; the channel's rate set to "
        f"{ROBOT_RATE}/min so that the bench measures latency, not DingTalk's 20 a minute; "
        "alarms due together go as one digest, each counted at its arrival):",
        "",
        "| phase | events | delivered | lost | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(_robot_row(ph) for ph in (idle, loaded)),
        "",
        f"Robot messages: {bg['robot_messages']:.0f} for {len(idle.published) + len(loaded.published)}"
        f" alarms; failed signature or shape checks: {bg['robot_bad']:.0f}. DingTalk target p99"
        f" < 1 s under load: **{robot_verdict}**.",
        "",
        f"Loaded / idle: p50 {ll.p50 / li.p50:.1f}x, p99 {ll.p99 / li.p99:.1f}x. Target p99 <= "
        f"1 s (aim 300 ms) under load: **{verdict}** (p99 {ll.p99 * 1000:.0f} ms, "
        f"{loaded.lost} lost).",
        "",
        f"Background: the publishers sent {bg['offered'] * bg['seconds']:,.0f} messages in "
        f"{bg['seconds']:.1f} s ({bg['offered']:,.0f} msg/s, their start-up and last "
        f"acknowledgements included); the ingestor received **{il['received']:,.0f} msg/s** "
        f"while the events ran and needed {bg['drain']:.1f} s after the publishers stopped to "
        f"store the rest. Webhooks delivered twice: {bg['duplicates']:.0f}; failed signature "
        f"checks: {bg['bad_signatures']:.0f}; events with no outbox row: "
        f"{idle.no_outbox + loaded.no_outbox}.",
        "",
        "The ingestor while the events ran (its metrics: counter and histogram deltas, the "
        "queue between paho and the writers sampled every 0.2 s, summed over workers):",
        "",
        "| phase | received msg/s | publish-to-commit lag p50 / p99 ms | messages per batch "
        "| ms per batch write + commit | queue mean / max |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {ph.name} | {ph.ingest['received']:,.0f} | {ph.ingest['lag_p50'] * 1000:.0f} / "
            f"{ph.ingest['lag_p99'] * 1000:.0f} | {ph.ingest['batch']:,.0f} | "
            f"{ph.ingest['flush'] * 1000:.0f} | {ph.ingest['queue_mean']:,.0f} / "
            f"{ph.ingest['queue_max']:,.0f} |"
            for ph in (idle, loaded)
        ),
        "",
        "CPU while the events ran, in cores (CPU seconds / wall seconds; the machine has "
        f"{os.cpu_count()}):",
        "",
        "| phase | " + " | ".join(loaded.cpu) + " | total |",
        "|---|" + "---:|" * (len(loaded.cpu) + 1),
        *(
            f"| {ph.name} | "
            + " | ".join(f"{ph.cpu.get(k, 0.0):.2f}" for k in loaded.cpu)
            + f" | {sum(ph.cpu.values()):.2f} |"
            for ph in (idle, loaded)
        ),
        "",
        "Where the time goes (from `event_outbox.created_at`, written with `clock_timestamp()` "
        "in the ingest transaction, and `fanned_out_at`, the start of the worker's dispatch "
        "transaction), p50 / p90 / p99 / max in ms:",
        "",
        "| stage | idle | loaded |",
        "|---|---:|---:|",
        *(
            f"| {label} | {Summary.of(idle.stages.get(key, [])).ms()} "
            f"| {Summary.of(loaded.stages.get(key, [])).ms()} |"
            for key, label in stage_names.items()
        ),
        "",
        reading(idle, loaded, args),
        "",
        f"Machine load (1-minute average) before and after the run: {load_before:.1f} and "
        f"{load_after:.1f}; the table gives it at the end of each phase.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=250, help="alarm events under load")
    parser.add_argument("--idle-events", type=int, default=100, help="alarm events, no load")
    parser.add_argument("--rate", type=float, default=10_000, help="background msg/s")
    parser.add_argument("--publishers", type=int, default=10, help="background meters")
    parser.add_argument(
        "--load",
        choices=sorted(LOADS),
        default="lean",
        help="background publisher: one process (lean) or a mosquitto_pub process per meter",
    )
    parser.add_argument("--spacing", type=float, default=0.1, help="mean s between events")
    parser.add_argument("--warmup", type=float, default=3.0, help="s of load before events")
    parser.add_argument("--quiet", type=float, default=30.0, help="s without arrivals: lost")
    parser.add_argument("--ingest-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-report", action="store_true", help="print only")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    idle, loaded = run(args)
    load_after = os.getloadavg()[0]
    lines = report_lines(idle, loaded, args, load_before, load_after)
    print("\n".join(lines[2:]))
    if not args.no_report:
        replace_section(HEADING, "\n".join(lines))


if __name__ == "__main__":
    main()
