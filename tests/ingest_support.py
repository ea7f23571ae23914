"""Helpers for the ingest tests: a fixture park, device publishers, the ingestor as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from app.broker.dynsec import DynsecClient
from app.core.mqtt import MqttTarget
from ingest.consumer import MqttConsumer
from ingest.metrics import IngestMetrics
from ingest.pipeline import IngestOptions, IngestWorker

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until ``predicate()``; the timeout only bounds a failing test, it asserts no speed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited 30 s later."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scalar(database_url: str, query: str, *params: object) -> object:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def add_park(database_url: str, park_id: str, devices: dict[str, str]) -> None:
    """A park with devices {device_id: type}, straight into the registry tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO park (id, name) VALUES (%s, %s)", (park_id, park_id))
    add_devices(database_url, park_id, devices)


def add_devices(database_url: str, park_id: str, devices: dict[str, str]) -> None:
    """Devices {device_id: type} of an existing park, straight into the registry (named by id)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for device_id, device_type in devices.items():
            conn.execute(
                "INSERT INTO device (park_id, id, type, name) VALUES (%s, %s, %s, %s)",
                (park_id, device_id, device_type, device_id),
            )


class Publisher:
    """A device: its own broker account, QoS 1, a persistent session that survives restarts."""

    def __init__(
        self, target: MqttTarget, dynsec: DynsecClient, park_id: str, device_id: str
    ) -> None:
        self.park_id, self.device_id = park_id, device_id
        password = uuid.uuid4().hex
        dynsec.ensure_device(park_id, device_id, password)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{park_id}:{device_id}",  # unique; the device listener would force it anyway
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        self.client.username_pw_set(f"{park_id}:{device_id}", password)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(0.2, 2)
        self._acked = 0
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        connected = threading.Event()
        self.client.on_connect = lambda *_a: connected.set()
        self.client.connect(target.host, target.port, keepalive=30)
        self.client.loop_start()
        assert connected.wait(10), "device could not connect"

    def _on_publish(self, *_args: object) -> None:
        with self._lock:
            self._acked += 1

    @property
    def acked(self) -> int:
        with self._lock:
            return self._acked

    def topic(self, kind: str = "telemetry") -> str:
        return f"parks/{self.park_id}/devices/{self.device_id}/{kind}"

    def send(self, payload: object, kind: str = "telemetry") -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.client.publish(self.topic(kind), data, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class StreamPublisher:
    """Publishes ``count`` readings (distinct ts) at about ``rate`` per second in a thread."""

    publisher: Publisher
    count: int
    rate: float
    start_ms: int = field(default_factory=lambda: int(time.time() * 1000) - 60_000)
    sent: int = 0

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pause = 1.0 / self.rate
        for i in range(self.count):
            self.publisher.send({"ts": self.start_ms + i, "values": {"power_kw": float(i)}})
            self.sent += 1
            time.sleep(pause)

    def start(self) -> StreamPublisher:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join()


class Ingestor:
    """``parktwin ingest`` as a child process, so tests can SIGKILL and restart it."""

    def __init__(
        self, database_url: str, mqtt_url: str, workers: int = 1, module: str = "app.cli"
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")} | {
            "PARKTWIN_DATABASE_URL": database_url,
            "PARKTWIN_MQTT_URL": mqtt_url,
            "PARKTWIN_INGEST_CLIENT_ID": f"test-ingest-{tag}",
            "PARKTWIN_INGEST_SHARE_GROUP": f"test-{tag}",
            "PARKTWIN_INGEST_SESSION_EXPIRY": "PT10M",
            "PARKTWIN_INGEST_METRICS_PORT": "0",
            "PARKTWIN_INGEST_BATCH_WAIT_MS": "20",
        }
        self.workers = workers
        self.module = module  # tests.crashing_ingest: the same, with a crash on one payload
        self.process: subprocess.Popen[bytes] | None = None
        self.log = ROOT / ".pytest_cache" / f"ingest-{tag}.log"

    def start(self) -> Ingestor:
        self.log.parent.mkdir(exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "ingest", "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        return self

    def wait_subscribed(self, target: MqttTarget, probe: Publisher, database_url: str) -> None:
        """Send status pings until one is processed: the shared subscription is live."""

        def processed() -> bool:
            probe.send(b"online", kind="status")
            return (
                scalar(
                    database_url,
                    "SELECT status FROM device WHERE park_id = %s AND id = %s",
                    probe.park_id,
                    probe.device_id,
                )
                == "online"
            )

        wait_until(processed, 30, "the ingestor to subscribe")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def hand_fed_worker(
    database_url: str, mqtt_url: str, name: str, registry: CollectorRegistry | None = None
) -> IngestWorker:
    """An ingest worker in this process, fed by hand (``process(messages)``, as a lane feeds
    it); its MQTT consumer is never started, so nothing is acknowledged to a broker. Its
    metrics go to ``registry`` (a fresh one by default)."""
    consumer = MqttConsumer(
        MqttTarget.from_url(mqtt_url),
        f"{name}-{uuid.uuid4().hex[:6]}",
        queue_size=10,
        receive_maximum=10,
        session_expiry=timedelta(minutes=1),
        share_group=name,
        mode="plain",
    )
    options = IngestOptions(100, 0.0, timedelta(days=7), timedelta(seconds=10))
    metrics = IngestMetrics.create(registry or CollectorRegistry())
    return IngestWorker(consumer, database_url, options, metrics, threading.Event())
