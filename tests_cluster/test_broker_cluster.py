"""Tests on a 3-node RabbitMQ cluster (one module: its session fixtures start one cluster).

Fault tests: devices count their PUBACKs, and every acknowledged reading must be stored, once.
Device accounts: created, rotated and deleted through the API, with the same rights as on
Mosquitto.

Each test prints ``acknowledged N, of them stored N, rows R`` (``pytest -s`` shows it)."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pika
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from app.core.config import Settings
from app.embedded.process import port_open
from app.embedded.rabbitmq import API_USER
from app.main import create_app
from tests.api.conftest import auth, create_park, make_key
from tests.conftest import ServiceEnv, wait_ready
from tests.ingest_support import Ingestor, add_park, wait_until
from tests_cluster.broker_fixtures import cluster, database_url, mqtt_url, services  # noqa: F401
from tests_cluster.broker_support import (
    Cluster,
    Device,
    Stream,
    admin_urls,
    amqp_ingestor,
    env_int,
    report,
    stored_count,
)

DEVICES = 4
COUNT = env_int("PARKTWIN_CLUSTER_TEST_COUNT", 1500)  # readings per device
RATE = 100.0  # readings per second per device


@pytest.fixture
def park(database_url: str) -> str:
    park = f"cb.{uuid.uuid4().hex[:6]}"  # a '.' in the id, as the contract allows
    add_park(database_url, park, {f"m.{i}": "electricity_meter" for i in range(DEVICES)})
    return park


@pytest.fixture
def devices(cluster: Cluster, park: str) -> Iterator[list[Device]]:
    cluster.nodes.up()  # nothing if every node runs: a test that left one down stays its own
    made = [Device(cluster.admin, cluster.mqtt_ports(), park, f"m.{i}") for i in range(DEVICES)]
    yield made
    for device in made:
        device.close()


def _through(
    fault: Callable[[], None], devices: list[Device], database_url: str, name: str
) -> None:
    """Stream while ``fault()`` runs; then every acknowledged reading is stored exactly once."""
    stream = Stream(devices, COUNT, RATE).start()
    park = devices[0].park
    wait_until(lambda: stored_count(database_url, park) > 200, 60, "readings to land")
    fault()
    stream.join()
    everything = COUNT * len(devices)
    wait_until(lambda: all(len(d.acked()) == COUNT for d in devices), 180, "every PUBACK")
    wait_until(lambda: stored_count(database_url, park) >= everything, 180, "every reading")
    acked, stored_acked, rows = report(name, devices, database_url)
    assert stored_acked == acked, f"{acked - stored_acked} acknowledged readings lost"
    assert rows == everything


def _stop_all(ingestors: list[Ingestor]) -> None:
    for ingestor in ingestors:
        ingestor.stop()


def test_kill_each_broker_node_in_turn(
    cluster: Cluster, devices: list[Device], database_url: str, mqtt_url: str
) -> None:
    ingestors = [amqp_ingestor(database_url, mqtt_url, cluster.amqp_url()).start()]
    try:

        def kill_each() -> None:
            for node in cluster.nodes.nodes:
                cluster.nodes.kill(node, signal.SIGKILL)
                time.sleep(3)
                cluster.nodes.ensure_node(node)
                cluster.wait_queue_members()

        _through(kill_each, devices, database_url, "kill -9 of each broker node")
    finally:
        _stop_all(ingestors)


def test_kill_an_ingest_worker_mid_batch(
    cluster: Cluster, devices: list[Device], database_url: str, mqtt_url: str
) -> None:
    """Two workers (as on two hosts) share the queue; one is killed -9 while it holds a
    prefetch of unacknowledged deliveries; the other takes them over."""
    ingestors = [amqp_ingestor(database_url, mqtt_url, cluster.amqp_url()).start() for _ in "ab"]
    try:

        def crash() -> None:
            ingestors[0].kill()
            time.sleep(3)
            ingestors[0].start()

        _through(crash, devices, database_url, "kill -9 of an ingest worker")
    finally:
        _stop_all(ingestors)


def test_whole_broker_restarted_with_n_workers(
    cluster: Cluster, devices: list[Device], database_url: str, mqtt_url: str
) -> None:
    """The case that loses messages on Mosquitto 2.0 (shared subscriptions are not restored):
    every node stopped and started again while ``parktwin ingest --workers 3`` runs."""
    ingestors = [amqp_ingestor(database_url, mqtt_url, cluster.amqp_url(), workers=3).start()]
    try:

        def restart_all() -> None:
            cluster.nodes.down()
            time.sleep(2)
            cluster.nodes.up()
            cluster.wait_queue_members()

        _through(restart_all, devices, database_url, "whole cluster restarted, 3 workers")
    finally:
        _stop_all(ingestors)


def test_whole_broker_restarted_with_a_node_failing_its_first_boot(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """After every node stopped, the others wait at boot for the tables of the node that
    stopped last; that node fails its first boot (its AMQP port held by another process, as
    a port still taken would) and ``up()`` starts it again while they wait, so the whole
    cluster comes back (a clean-clone CI run waited 300 s on the first node instead). Any
    other node that stops while booting is started again too."""
    nodes = cluster.nodes
    last = nodes.nodes[-1]  # down() stops the nodes in order: the last one stops last
    # The listener's eaddrinuse is in the node's log file; its stdout has it too, unless the VM
    # halts before writing it there (a clean-clone CI run's stdout ended at "Starting broker...")
    logs = [last.dir / "stdout.log", last.dir / "log" / f"{last.name}.log"]
    logged_before = [log.stat().st_size if log.exists() else 0 for log in logs]
    nodes.down()
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", last.amqp_port))
    holder.listen()
    launches: list[int] = []

    def release_after_first_launch_ends() -> None:
        """Close the held port as soon as the node's first launch has ended (a pidfd wakes
        this thread at its exit; the next launch binds its ports seconds later)."""
        launcher = last.dir / "launcher.pid"
        before = launcher.read_text() if launcher.exists() else ""
        wait_until(
            lambda: launcher.exists() and launcher.read_text() not in ("", before),
            60,
            "the node's first launch",
        )
        launches.append(int(launcher.read_text()))
        with contextlib.suppress(ProcessLookupError):
            pidfd = os.pidfd_open(launches[0])
            select.select([pidfd], [], [], 300)
            os.close(pidfd)
        holder.close()

    releaser = threading.Thread(target=release_after_first_launch_ends, daemon=True)
    releaser.start()
    try:
        with caplog.at_level(logging.WARNING, logger="app.embedded.rabbitmq"):
            nodes.up()
    finally:
        releaser.join(timeout=60)
        holder.close()
    logged = b""
    for path, offset in zip(logs, logged_before, strict=True):  # since the restart began
        with path.open("rb") as log:
            log.seek(offset)
            logged += log.read()
    assert b"eaddrinuse" in logged
    # The last node was started again; a node waiting for its tables may itself stop at boot
    # when the last node's failed launch goes away (a clean-clone CI run: the second node did)
    # and is started again the same way.
    restarted = [r.getMessage() for r in caplog.records if r.name == "app.embedded.rabbitmq"]
    started_again = {f"{n.name} stopped while booting; starting it again" for n in nodes.nodes}
    assert f"{last.name} stopped while booting; starting it again" in restarted
    assert set(restarted) <= started_again, restarted
    assert launches and last.pid() is not None
    cluster.wait_queue_members()
    assert all(port_open(n.amqp_port) for n in nodes.nodes)


def test_devices_publish_only_their_own_topics(cluster: Cluster, devices: list[Device]) -> None:
    """A device's account may not publish as another device: RabbitMQ closes its connection
    and the PUBACK never comes."""
    mine, other = devices[0], devices[1]
    info = mine.client.publish(other.topic, b'{"values": {"power_kw": 1}}', qos=1)
    time.sleep(2)
    assert not info.is_published()


def _connack(port: int, username: str, password: str, client_id: str) -> str:
    """The CONNACK's reason for one MQTT 3.1.1 login (the client is closed again)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    answered = threading.Event()
    reasons: list[str] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: (reasons.append(str(reason)), answered.set())
    client.on_disconnect = lambda *_a: answered.set()
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    answered.wait(15)
    client.disconnect()
    client.loop_stop()
    return reasons[0] if reasons else "no answer"


def test_no_device_takes_over_another_devices_connection(
    cluster: Cluster, devices: list[Device]
) -> None:
    """RabbitMQ's MQTT plugin hands a client id's connection to whoever connects with it last;
    the client-id auth service (app/broker/rabbit_auth.py) refuses a device any client id but
    its own username, on every node, so the connected device is never pushed off."""
    victim, intruder = devices[0], devices[1]
    dropped: list[object] = []
    moved = victim.client.on_disconnect
    victim.client.on_disconnect = lambda *a: (dropped.append(a), moved(*a))
    ports = cluster.mqtt_ports()
    for port in ports:
        refused = _connack(port, intruder.username, intruder.password, victim.username)
        assert refused in ("Not authorized", "Bad user name or password"), refused
        assert _connack(port, intruder.username, "wrong", intruder.username) != "Success"
    for service_id in ("parktwin-ingest-0", "parktwin-api"):
        refused = _connack(ports[0], intruder.username, intruder.password, service_id)
        assert refused != "Success", refused
    assert not dropped, "the victim was disconnected"
    info = victim.client.publish(victim.topic, b'{"values": {"power_kw": 2}}', qos=1)
    info.wait_for_publish(15)
    assert info.is_published()
    # the intruder's credentials are good with its own client id (it stays connected as itself)
    assert intruder.client.is_connected()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):  # devices speak MQTT only
        pika.BlockingConnection(
            pika.URLParameters(
                f"amqp://{intruder.username}:{intruder.password}@127.0.0.1:"
                f"{cluster.nodes.nodes[0].amqp_port}/%2F"
            )
        )


# -- device accounts through the API ---------------------------------------------------------


@pytest.fixture(scope="module")
def client(cluster: Cluster, services: ServiceEnv, database_url: str) -> Iterator[TestClient]:
    password = uuid.uuid4().hex
    cluster.admin.ensure_api_account(API_USER, password)
    urls = [
        u.replace(f"{cluster.nodes.admin}:{cluster.nodes.password}", f"{API_USER}:{password}")
        for u in admin_urls(cluster.nodes)
    ]
    settings: Settings = services.settings(
        database_url, mqtt_credentials="rabbitmq", rabbitmq_api_url=",".join(urls)
    )
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


def _can_publish(
    port: int, username: str, password: str, topic: str, client_id: str | None = None
) -> bool:
    """Connect to one node (as client id ``client_id``, by default the username, as a device
    must) and publish QoS 1: True when the broker PUBACKs it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or username)
    client.username_pw_set(username, password)
    done = threading.Event()
    acked: list[bool] = []
    client.on_publish = lambda *_a: (acked.append(True), done.set())
    client.on_disconnect = lambda *_a: done.set()
    client.on_connect = lambda c, _u, _f, reason, _p: (
        c.publish(topic, b"online", qos=1) if not reason.is_failure else done.set()
    )
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    done.wait(15)
    client.disconnect()
    client.loop_stop()
    return bool(acked)


def test_create_rotate_delete(client: TestClient, cluster: Cluster, database_url: str) -> None:
    admin = auth(make_key(database_url, "admin"))
    park = create_park(client, admin).id
    device = f"d.{uuid.uuid4().hex[:6]}"
    made = client.post(
        f"/api/v1/parks/{park}/devices",
        json={"id": device, "type": "electricity_meter", "name": "m"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    user, first = made.json()["mqtt_username"], made.json()["mqtt_password"]
    own = f"parks/{park}/devices/{device}/status"
    ports = cluster.mqtt_ports()
    assert all(_can_publish(p, user, first, own) for p in ports)  # on every node
    assert not _can_publish(ports[0], user, first, f"parks/{park}/devices/other/status")

    rotated = client.post(f"/api/v1/parks/{park}/devices/{device}/credentials", headers=admin)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["mqtt_password"]
    assert not _can_publish(ports[1], user, first, own)
    assert _can_publish(ports[1], user, second, own)

    assert client.delete(f"/api/v1/parks/{park}/devices/{device}", headers=admin).status_code in (
        200,
        204,
    )
    assert not _can_publish(ports[2], user, second, own)
