"""Per-device MQTT accounts on the real broker: own prefix only, rotation, revocation."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from app.broker.dynsec import DynsecClient
from app.core.mqtt import MqttTarget, new_client
from tests.conftest import ServiceEnv


@pytest.fixture
def service_target(services: ServiceEnv) -> MqttTarget:
    return MqttTarget.from_url(services.mqtt_url)


@pytest.fixture
def dynsec(service_target: MqttTarget) -> Iterator[DynsecClient]:
    client = DynsecClient(service_target)
    client.connect()
    yield client
    client.close()


def _connect(target: MqttTarget, username: str, password: str) -> tuple[mqtt.Client, str]:
    """Connect and return the client and the broker's CONNACK reason."""
    client = new_client(MqttTarget(target.host, target.port, username, password), username)
    done = threading.Event()
    outcome: list[str] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        outcome.append(str(reason))
        done.set()

    client.on_connect = on_connect
    client.connect(target.host, target.port)
    client.loop_start()
    assert done.wait(5), "no CONNACK"
    return client, outcome[0]


def _publish(client: mqtt.Client, topic: str) -> str:
    """Publish at QoS 1 and return the PUBACK reason."""
    done = threading.Event()
    outcome: list[str] = []

    def on_publish(_c: mqtt.Client, _u: object, _mid: int, reason: object, _p: object) -> None:
        outcome.append(str(reason))
        done.set()

    client.on_publish = on_publish
    client.publish(topic, b'{"values": {"power_kw": 1}}', qos=1)
    assert done.wait(5), "no PUBACK"
    return outcome[0]


def _note(arrived: threading.Condition, seen: list[str], topic: str) -> None:
    with arrived:
        seen.append(topic)
        arrived.notify_all()


@pytest.fixture
def device(dynsec: DynsecClient) -> Iterator[tuple[str, str, str]]:
    park, dev, password = "p1", f"d-{uuid.uuid4().hex[:6]}", "first-password"
    dynsec.ensure_device(park, dev, password)
    yield park, dev, password
    dynsec.delete_device(park, dev)


def test_device_publishes_only_under_its_own_prefix(
    service_target: MqttTarget, device: tuple[str, str, str]
) -> None:
    park, dev, password = device
    seen: list[str] = []
    reader = new_client(service_target)
    subscribed = threading.Event()
    reader.on_subscribe = lambda *_a: subscribed.set()
    reader.on_message = lambda _c, _u, m: seen.append(m.topic)
    reader.connect(service_target.host, service_target.port)
    reader.loop_start()
    reader.subscribe(f"$share/parktwin-test/parks/{park}/devices/+/telemetry", qos=1)
    assert subscribed.wait(5)

    client, reason = _connect(service_target, f"{park}:{dev}", password)
    assert reason == "Success"
    assert _publish(client, f"parks/{park}/devices/{dev}/telemetry") == "Success"
    assert _publish(client, f"parks/{park}/devices/other/telemetry") == "Not authorized"
    assert _publish(client, f"parks/p2/devices/{dev}/telemetry") == "Not authorized"
    # The broker answered "Not authorized" to the others, so it dropped them: the reader
    # gets exactly our two messages on the device's own topic.
    arrived = threading.Condition()
    reader.on_message = lambda _c, _u, m: _note(arrived, seen, m.topic)
    assert _publish(client, f"parks/{park}/devices/{dev}/telemetry") == "Success"
    with arrived:
        assert arrived.wait_for(lambda: len(seen) >= 2, 5), seen
    assert set(seen) == {f"parks/{park}/devices/{dev}/telemetry"}
    for c in (client, reader):
        c.disconnect()
        c.loop_stop()


def test_wrong_password_is_refused(
    service_target: MqttTarget, device: tuple[str, str, str]
) -> None:
    park, dev, _password = device
    client, reason = _connect(service_target, f"{park}:{dev}", "wrong")
    client.loop_stop()
    assert reason == "Not authorized"


def test_rotation_locks_out_the_old_password(
    service_target: MqttTarget, dynsec: DynsecClient, device: tuple[str, str, str]
) -> None:
    park, dev, old = device
    dynsec.set_password(park, dev, "second-password")
    client, reason = _connect(service_target, f"{park}:{dev}", old)
    client.loop_stop()
    assert reason == "Not authorized"
    client, reason = _connect(service_target, f"{park}:{dev}", "second-password")
    client.disconnect()
    client.loop_stop()
    assert reason == "Success"


def test_deleted_device_cannot_connect(service_target: MqttTarget, dynsec: DynsecClient) -> None:
    dynsec.ensure_device("p1", "gone", "pw")
    dynsec.delete_device("p1", "gone")
    client, reason = _connect(service_target, "p1:gone", "pw")
    client.loop_stop()
    assert reason == "Not authorized"
