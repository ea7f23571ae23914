"""The multi-node fixtures' parts: a RabbitMQ cluster on this machine, devices that count their
PUBACKs and fail over between nodes, and ``parktwin ingest`` reading the quorum queue."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from app.broker.rabbit import RabbitAccounts
from app.embedded.process import port_open
from app.embedded.rabbitmq import RabbitCluster
from tests.ingest_support import Ingestor, scalar, wait_until

INGEST_USER = "parktwin-ingest"


def free_base_port() -> int:
    """A base port whose node ports (base+1.., +100.., +200.., +300.., +399) are all free."""
    for _ in range(50):
        base = random.randrange(21000, 31000, 10)  # below the ephemeral ports
        ports = [base + o + i for o in (0, 100, 200, 300) for i in range(1, 6)] + [base + 399]
        if not any(port_open(p) for p in ports):
            return base
    raise RuntimeError("no free port range for the RabbitMQ nodes")


@dataclass
class Cluster:
    """A running cluster, its admin client and the ingest account's AMQP URLs."""

    nodes: RabbitCluster
    admin: RabbitAccounts
    ingest_password: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def start(cls, nodes: RabbitCluster) -> Cluster:
        nodes.up()
        admin = RabbitAccounts(admin_urls(nodes))
        cluster = cls(nodes, admin)
        admin.declare_ingest_queue()
        admin.ensure_ingest_account(INGEST_USER, cluster.ingest_password)
        return cluster

    def amqp_url(self) -> str:
        return ",".join(self.nodes.amqp_urls(INGEST_USER, self.ingest_password))

    def mqtt_ports(self) -> list[int]:
        return [n.mqtt_port for n in self.nodes.nodes]

    def wait_queue_members(self, timeout: float = 120) -> None:
        """Every node runs its replica of the ingest queue again (after a restart)."""

        def online() -> bool:
            try:
                found = self.admin._request("GET", "/api/queues/%2F/parktwin.telemetry")
            except Exception:
                return False
            return len(found.get("online", [])) == len(self.nodes.nodes)

        wait_until(online, timeout, "the quorum queue's members to be back online")


def admin_urls(nodes: RabbitCluster) -> list[str]:
    auth = f"{nodes.admin}:{nodes.password}@"
    return [url.replace("http://", "http://" + auth) for url in nodes.http_urls()]


class Device:
    """A device publishing QoS 1 to one node, moving to the next node when its node is lost.
    ``acked()`` is the set of readings whose PUBACK it received."""

    def __init__(self, admin: RabbitAccounts, ports: list[int], park: str, device: str) -> None:
        self.park, self.device = park, device
        self.password = password = uuid.uuid4().hex
        admin.ensure_device(park, device, password)
        self.ports = ports
        self.node = random.randrange(len(ports))
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{park}:{device}",
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        self.client.username_pw_set(f"{park}:{device}", password)
        self.client.max_inflight_messages_set(50)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_disconnect = self._on_disconnect
        # (reading, packet id) per publish, and the packet ids PUBACKed: exact while a device
        # sends fewer than 65,535 messages (ids are not reused before then)
        self.sent: list[tuple[int, int]] = []
        self.pubacks: set[int] = set()
        self.client.on_publish = lambda _c, _u, mid, _rc, _p: self.pubacks.add(mid)
        connected = threading.Event()
        self.client.on_connect = lambda *_a: connected.set()
        self.client.connect("127.0.0.1", ports[self.node], keepalive=10)
        self.client.loop_start()
        assert connected.wait(20), "device could not connect"

    def _on_disconnect(self, client: mqtt.Client, *_args: object) -> None:
        """Reconnect to the next node (paho's loop reconnects to ``client.port``)."""
        self.node = (self.node + 1) % len(self.ports)
        with contextlib.suppress(RuntimeError):  # still connected: paho refuses; no matter
            client.port = self.ports[self.node]

    @property
    def username(self) -> str:
        return f"{self.park}:{self.device}"

    @property
    def topic(self) -> str:
        return f"parks/{self.park}/devices/{self.device}/telemetry"

    def send(self, i: int, start_ms: int) -> None:
        payload = orjson.dumps({"ts": start_ms + i, "values": {"power_kw": float(i)}})
        # while the device is between nodes paho keeps the message and sends it on reconnect
        self.sent.append((i, self.client.publish(self.topic, payload, qos=1).mid))

    def acked(self) -> set[int]:
        acked = set(self.pubacks)
        return {i for i, mid in self.sent if mid in acked}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Stream:
    """Every device publishes ``count`` readings at ``rate`` per second each, in one thread."""

    def __init__(self, devices: list[Device], count: int, rate: float) -> None:
        self.devices, self.count, self.rate = devices, count, rate
        self.start_ms = int(time.time() * 1000) - 120_000
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for i in range(self.count):
            for device in self.devices:
                device.send(i, self.start_ms)
            time.sleep(1 / self.rate)

    def start(self) -> Stream:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join()


def stored_values(db: str, park: str, device: str) -> list[int]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT t.value FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s AND s.device_id = %s AND s.metric = 'power_kw'",
            (park, device),
        ).fetchall()
    return [int(r[0]) for r in rows]


def stored_count(db: str, park: str) -> int:
    return int(
        scalar(  # type: ignore[arg-type]
            db,
            "SELECT count(*) FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s",
            park,
        )
    )


def amqp_ingestor(database_url: str, mqtt_url: str, amqp_url: str, workers: int = 1) -> Ingestor:
    ingestor = Ingestor(database_url, mqtt_url, workers=workers)
    ingestor.env |= {
        "PARKTWIN_INGEST_SOURCE": "amqp",
        "PARKTWIN_AMQP_URL": amqp_url,
        "PARKTWIN_AMQP_PREFETCH": "500",
    }
    return ingestor


def report(name: str, devices: list[Device], db: str) -> tuple[int, int, int]:
    """(acknowledged to devices, acknowledged and stored, stored rows) — printed for the log."""
    acked = stored_acked = rows = 0
    for device in devices:
        values = stored_values(db, device.park, device.device)
        assert len(values) == len(set(values)), f"{device.device}: a reading stored twice"
        mine = device.acked()
        acked += len(mine)
        stored_acked += len(mine & set(values))
        rows += len(values)
    print(f"\n{name}: acknowledged {acked}, of them stored {stored_acked}, rows {rows}")
    return acked, stored_acked, rows


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
