"""Device accounts in bulk (app/broker/dynsec_file.py) on a real Mosquitto of their own: the
file is edited while that broker is stopped, so the session's shared broker is left alone."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.broker.dynsec import DynsecClient
from app.broker.dynsec_file import DynsecFile, check_password, hash_password
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from app.core.statedir import state_paths
from app.embedded.mosquitto import EmbeddedMosquitto
from app.embedded.process import free_port
from sensors_sim import mqtt as simmqtt
from sensors_sim.mqtt import Connection, Transport, topic_field
from tests.test_broker import _connect, _publish

PARK = "bulk"


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedMosquitto]:
    state = Path(tempfile.mkdtemp(prefix="parktwin-bulk-"))
    state.chmod(0o755)
    settings = Settings(
        state_dir=state,
        embedded_mqtt_port=free_port(),
        embedded_mqtt_service_port=free_port(),
        embedded_mqtts_port=free_port(),
        database_url=None,
        mqtt_url=None,
    )
    mosquitto = EmbeddedMosquitto(state_paths(settings), settings.embedded_mqtt_port, settings)
    mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.stop()
        shutil.rmtree(state, ignore_errors=True)


def _target(broker: EmbeddedMosquitto) -> MqttTarget:
    return MqttTarget.from_url(broker.url())


def _accepts(broker: EmbeddedMosquitto, device_id: str, password: str) -> bool:
    client, reason = _connect(_target(broker), f"{PARK}:{device_id}", password)
    client.disconnect()
    client.loop_stop()
    return reason == "Success"


def test_the_hash_is_mosquittos_own(tmp_path: Path) -> None:
    """mosquitto_passwd (same PBKDF2-SHA512 code, ``$7$iterations$salt$hash``) agrees."""
    passwords = tmp_path / "passwd"
    passwords.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "u", "s3cret"], check=True)
    _kind, iterations, salt, digest = passwords.read_text().strip().split(":", 1)[1][1:].split("$")
    ours = hash_password("s3cret", base64.b64decode(salt))
    assert (ours["iterations"], ours["password"]) == (int(iterations), digest)
    assert check_password(ours, "s3cret") and not check_password(ours, "other")


def test_bulk_accounts_connect_and_publish_only_on_their_own_topics(
    broker: EmbeddedMosquitto,
) -> None:
    live = DynsecClient(_target(broker))
    live.connect()
    live.ensure_device(PARK, "made-live", "live-pw")  # an account made the usual way
    live.close()
    accounts = [(f"d{i}", f"pw-{i}") for i in range(50)]
    broker.edit_accounts(lambda file: file.ensure_devices(PARK, accounts))

    assert _accepts(broker, "d7", "pw-7") and _accepts(broker, "d49", "pw-49")
    assert not _accepts(broker, "d7", "pw-8")
    assert _accepts(broker, "made-live", "live-pw")  # the edit kept what was there
    client, reason = _connect(_target(broker), f"{PARK}:d3", "pw-3")
    assert reason == "Success"
    allowed = {"Success", "No matching subscribers"}  # accepted, with nobody reading
    assert _publish(client, f"parks/{PARK}/devices/d3/telemetry") in allowed
    assert _publish(client, f"parks/{PARK}/devices/d4/telemetry") == "Not authorized"
    client.disconnect()
    client.loop_stop()
    admin = DynsecClient(_target(broker))  # the service accounts survived the restart
    admin.connect()
    admin.close()


def test_bulk_rotation_and_deletion(broker: EmbeddedMosquitto) -> None:
    broker.edit_accounts(lambda f: f.ensure_devices(PARK, [(f"r{i}", "old") for i in range(20)]))
    broker.edit_accounts(lambda f: f.set_passwords(PARK, [(f"r{i}", "new") for i in range(20)]))
    assert not _accepts(broker, "r5", "old")
    assert _accepts(broker, "r5", "new")
    broker.edit_accounts(lambda f: f.delete_devices(PARK, [f"r{i}" for i in range(10)]))
    assert not _accepts(broker, "r5", "new")
    assert _accepts(broker, "r15", "new")
    file = DynsecFile(broker.paths.mqtt_dynsec)
    assert f"{PARK}:r5" not in file.clients and f"device:{PARK}:r5" not in file.roles


def test_simulator_packets_against_the_broker(
    broker: EmbeddedMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator's own CONNECT / PUBLISH QoS 1 bytes: accepted, acknowledged; the
    connections beyond ``PER_SOURCE`` come from further loopback addresses."""
    accounts = [(f"s{i}", f"pw-{i}") for i in range(5)]
    broker.edit_accounts(lambda file: file.ensure_devices(PARK, accounts))
    monkeypatch.setattr(simmqtt, "PER_SOURCE", 2)
    transport = Transport("127.0.0.1", broker.port)
    conns = []
    for device_id, password in [*accounts, ("s0", "wrong")]:
        user = f"{PARK}:{device_id}"
        status = f"parks/{PARK}/devices/{device_id}/status"
        conn = Connection(len(conns), user, user, password, status)
        transport.open(conn, 30)
        transport.flush(conn)
        conns.append(conn)
    for _ in range(200):
        transport.poll(0.02)
        if all(c.connected or c.refused for c in conns):
            break
    assert [c.connected for c in conns] == [True] * 5 + [False]
    assert conns[-1].refused == 5  # not authorised
    sources = {c.sock.getsockname()[0] for c in conns[:5] if c.sock is not None}
    assert sources == {"127.0.0.1", "127.0.0.3", "127.0.0.4"}
    for conn, (device_id, _pw) in zip(conns[:5], accounts, strict=True):
        topic = topic_field(f"parks/{PARK}/devices/{device_id}/telemetry")
        conn.queue_publish(topic, b'{"values": {"power_kw": 1}}', 1)
        transport.flush(conn)
    for _ in range(200):
        transport.poll(0.02)
        if all(c.acked >= 2 for c in conns[:5]):  # its "online" status and the reading
            break
    assert [c.acked for c in conns[:5]] == [2] * 5
    for conn in conns:
        transport.drop(conn, goodbye=True)
