"""The chunked-read paho client receives exactly what stock paho would, across reconnects."""

from __future__ import annotations

import threading
import tomllib
import uuid
from importlib.metadata import version
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from app.core.mqtt import MqttTarget
from app.embedded.services import EmbeddedServices
from ingest.fastpaho import PAHO_PIN, READ_CHUNK, BufferedClient, check_paho
from tests.conftest import ServiceEnv

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    def __init__(self, target: MqttTarget, topic: str) -> None:
        self.payloads: list[bytes] = []
        self.cond = threading.Condition()
        self.client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=f"fast-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        self.client.username_pw_set(target.username, target.password)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect(target.host, target.port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.payloads.append(message.payload)
            self.cond.notify_all()

    def wait_for(self, count: int) -> list[bytes]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.payloads) >= count, 60), len(self.payloads)
            return list(self.payloads)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publisher(target: MqttTarget) -> mqtt.Client:
    from app.broker.dynsec import DynsecClient

    password = uuid.uuid4().hex
    admin = DynsecClient(target)
    admin.connect()
    admin.ensure_device("fast", "d1", password)
    admin.close()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fast:d1")
    client.username_pw_set("fast:d1", password)
    client.max_queued_messages_set(0)
    client.connect(target.host, target.port)
    client.loop_start()
    return client


@pytest.fixture
def target(services: ServiceEnv) -> MqttTarget:
    return MqttTarget.from_url(services.mqtt_url)


def test_small_and_chunk_spanning_messages_arrive_whole_and_in_order(target: MqttTarget) -> None:
    topic = "parks/fast/devices/d1/telemetry"
    recorder = Recorder(target, topic)
    publisher = _publisher(target)
    try:
        sent = [f"small-{i}".encode() for i in range(3000)]
        # one body larger than a read chunk (and within the broker's max_packet_size)
        sent.insert(1500, b"x" * (READ_CHUNK + 2048))
        for payload in sent:
            publisher.publish(topic, payload, qos=1)
        assert recorder.wait_for(len(sent)) == sent
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        recorder.close()


@pytest.mark.embedded
def test_a_reconnect_drops_the_old_connections_bytes(
    target: MqttTarget, embedded: EmbeddedServices
) -> None:
    topic = "parks/fast/devices/d1/telemetry"
    recorder = Recorder(target, topic)
    publisher = _publisher(target)
    try:
        for i in range(500):
            publisher.publish(topic, f"before-{i}".encode(), qos=1).wait_for_publish(10)
        recorder.wait_for(500)
        embedded.mosquitto.stop()
        embedded.mosquitto.start()
        publisher.reconnect()
        for i in range(500):
            publisher.publish(topic, f"after-{i}".encode(), qos=1)
        got = recorder.wait_for(1000)
        assert [p for p in got if p.startswith(b"after-")] == [
            f"after-{i}".encode() for i in range(500)
        ]
        assert len(set(got)) == len(got) == 1000
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        recorder.close()


def test_ack_many_acknowledges_exactly_the_given_messages(target: MqttTarget) -> None:
    """Half a run acknowledged in one write: after a reconnect the broker redelivers the
    other half only, then what was published meanwhile."""
    topic = "parks/fast/devices/d1/telemetry"
    client_id = f"fast-ack-{uuid.uuid4().hex[:6]}"
    received: list[mqtt.MQTTMessage] = []
    cond = threading.Condition()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with cond:
            received.append(message)
            cond.notify_all()

    def connect() -> BufferedClient:
        client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=True,
        )
        client.username_pw_set(target.username, target.password)
        client.on_message = on_message
        subscribed = threading.Event()
        client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda *_a: subscribed.set()
        client.connect(target.host, target.port)
        client.loop_start()
        assert subscribed.wait(10)
        return client

    def wait_for(count: int) -> list[bytes]:
        with cond:
            assert cond.wait_for(lambda: len(received) >= count, 60), len(received)
            return [m.payload for m in received]

    client = connect()
    publisher = _publisher(target)
    try:
        for i in range(200):
            publisher.publish(topic, f"m-{i}".encode(), qos=1)
        wait_for(200)
        client.ack_many([m.mid for m in received[:100]])
        client.ack_many([])  # nothing to send
        # A round trip, so the broker has read the PUBACKs before the socket closes (data
        # unread at a close can be dropped with the connection).
        flushed = threading.Event()
        client.on_unsubscribe = lambda *_a: flushed.set()
        client.unsubscribe("parks/fast/devices/none/telemetry")
        assert flushed.wait(10)
        client.disconnect()  # the PUBACKs are written before the DISCONNECT
        client.loop_stop()
        with cond:
            received.clear()
        client = connect()
        publisher.publish(topic, b"after", qos=1)
        got = wait_for(101)
        assert got[:100] == [f"m-{i}".encode() for i in range(100, 200)]
        assert got[100:] == [b"after"]
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        client.disconnect()
        client.loop_stop()


def test_the_installed_paho_has_what_fastpaho_overrides() -> None:
    check_paho()  # also ran at import
    with (ROOT / "pyproject.toml").open("rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    assert f"paho-mqtt{PAHO_PIN}" in dependencies  # the message quotes the real pin


def _refusal(client: type) -> str:
    with pytest.raises(ImportError) as excinfo:
        check_paho(client)
    message = str(excinfo.value)
    assert f"paho-mqtt {version('paho-mqtt')}" in message and PAHO_PIN in message
    assert "ingest/fastpaho.py" in message
    return message


def test_a_paho_without_a_method_fastpaho_overrides_is_refused_clearly() -> None:
    class StaleClient:  # a paho whose internals were renamed
        def loop_read(self, max_packets: int = 1) -> int:
            return 0

    assert "StaleClient._sock_recv() is missing" in _refusal(StaleClient)


def test_a_changed_signature_is_refused_clearly() -> None:
    class Reordered(mqtt.Client):
        def _packet_queue(self, packet: bytes, command: int, mid: int, qos: int) -> MQTTErrorCode:  # type: ignore[override]
            return MQTTErrorCode.MQTT_ERR_SUCCESS

    message = _refusal(Reordered)
    assert "Reordered._packet_queue(self, command, packet, mid, qos)" in message
    assert "(found Reordered._packet_queue(self, packet, command, mid, qos))" in message


def test_a_client_without_the_socket_attribute_is_refused_clearly() -> None:
    class Renamed(mqtt.Client):
        def __init__(self) -> None:
            self._socket = None

    assert "_sock in Renamed.__init__() is missing" in _refusal(Renamed)
