"""The broker side of the trust boundary, against the real Mosquitto and dynamic-security plugin:
a device holding valid credentials tries what the review (H1, H3, M7, M8, L11, L12) said it could.
"""

from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from app.broker.accounts import ensure_service_account, ingest_account, provision
from app.broker.dynsec import DynsecClient, device_role
from app.core.config import MqttRole
from app.core.migrate import upgrade_to_head
from app.core.mqtt import MqttTarget, new_client, tls_context
from app.core.statedir import API_USER
from app.embedded.mosquitto import MAX_PACKET_SIZE
from app.embedded.services import EmbeddedServices
from tests.conftest import ServiceEnv
from tests.ingest_support import Ingestor, Publisher, StreamPublisher, add_park, scalar, wait_until

pytestmark = pytest.mark.embedded

DEVICES = {"attacker": "electricity_meter", "victim": "electricity_meter", "probe": "gas_detector"}


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin(embedded: EmbeddedServices) -> MqttTarget:
    """The admin account on the services listener (client ids as sent)."""
    return MqttTarget.from_url(embedded.mosquitto.url())


@pytest.fixture(scope="module")
def broker(embedded: EmbeddedServices) -> MqttTarget:
    """The plain device listener (PARKTWIN_MQTT_URL): devices connect here with their own
    accounts (``Account.target``), and the broker uses the username as the client id."""
    return MqttTarget.from_url(embedded.mosquitto.device_url())


@pytest.fixture(scope="module")
def ingest_target(embedded: EmbeddedServices) -> MqttTarget:
    return MqttTarget.from_url(embedded.mosquitto.url("ingest"))


@pytest.fixture(scope="module")
def api_target(embedded: EmbeddedServices) -> MqttTarget:
    return MqttTarget.from_url(embedded.mosquitto.url("api"))


@pytest.fixture(scope="module")
def dynsec(admin: MqttTarget) -> Iterator[DynsecClient]:
    client = DynsecClient(admin)
    client.connect()
    yield client
    client.close()


@pytest.fixture(scope="module")
def hostile_db(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_hostile")
    upgrade_to_head(url)
    yield url
    services.drop_database(url)


@pytest.fixture
def park(hostile_db: str) -> str:
    park_id = f"h-{uuid.uuid4().hex[:6]}"
    add_park(hostile_db, park_id, DEVICES)
    return park_id


@dataclass
class Account:
    park_id: str
    device_id: str
    password: str

    @property
    def username(self) -> str:
        return f"{self.park_id}:{self.device_id}"

    def topic(self, kind: str = "telemetry") -> str:
        return f"parks/{self.park_id}/devices/{self.device_id}/{kind}"

    def target(self, broker: MqttTarget) -> MqttTarget:
        return replace(broker, username=self.username, password=self.password)


@pytest.fixture
def attacker(dynsec: DynsecClient, park: str) -> Account:
    account = Account(park, "attacker", uuid.uuid4().hex)
    dynsec.ensure_device(park, account.device_id, account.password)
    return account


@pytest.fixture
def publishers(
    broker: MqttTarget, dynsec: DynsecClient, park: str
) -> Iterator[dict[str, Publisher]]:
    made = {d: Publisher(broker, dynsec, park, d) for d in ("victim", "probe")}
    yield made
    for publisher in made.values():
        publisher.close()


def start_ingestor(
    db: str, admin_url: str, ingest_url: str, admin: MqttTarget, probe: Publisher
) -> Ingestor:
    """``parktwin ingest`` as the least-privileged ingest account (one worker: a plain, not a
    shared, subscription, which is the one that gets retained messages)."""
    with psycopg.connect(db, autocommit=True) as conn:  # so that a new ingestor must set it
        conn.execute(
            "UPDATE device SET status = 'unknown' WHERE park_id = %s AND id = %s",
            (probe.park_id, probe.device_id),
        )
    process = Ingestor(db, admin_url)
    process.env["PARKTWIN_INGEST_MQTT_URL"] = ingest_url
    process.start()
    process.wait_subscribed(admin, probe, db)
    return process


@pytest.fixture
def ingestor(
    hostile_db: str,
    embedded: EmbeddedServices,
    admin: MqttTarget,
    publishers: dict[str, Publisher],
) -> Iterator[Ingestor]:
    process = start_ingestor(
        hostile_db,
        embedded.mosquitto.url(),
        embedded.mosquitto.url("ingest"),
        admin,
        publishers["probe"],
    )
    try:
        yield process
    finally:
        process.stop()


def count_rows(db: str, park: str, device: str) -> int:
    value = scalar(
        db,
        "SELECT count(*) FROM telemetry t JOIN series s ON s.id = t.series_id "
        "WHERE s.park_id = %s AND s.device_id = %s",
        park,
        device,
    )
    assert isinstance(value, int)
    return value


# -- a paho client that records what the broker said ------------------------------------------


@dataclass
class Probe:
    """A connection that records the CONNACK, SUBACKs, PUBACKs, messages and the disconnect."""

    client: mqtt.Client
    connack: list[Any] = field(default_factory=list)
    subacks: list[list[Any]] = field(default_factory=list)
    pubacks: list[Any] = field(default_factory=list)
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    answered: threading.Condition = field(default_factory=threading.Condition)
    closed: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self._note(self.connack, reason)
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self._note(self.subacks, codes)
        self.client.on_publish = lambda _c, _u, _m, reason, _p: self._note(self.pubacks, reason)
        self.client.on_message = lambda _c, _u, message: self._note(self.messages, message)
        self.client.on_disconnect = lambda *_a: self.closed.set()

    def _note(self, where: list[Any], what: Any) -> None:
        with self.answered:
            where.append(what)
            self.answered.notify_all()

    def wait(self, where: list[Any], count: int = 1) -> Any:
        with self.answered:
            assert self.answered.wait_for(lambda: len(where) >= count, 30), "no answer"
        return where[count - 1]

    def start(self, target: MqttTarget) -> Probe:
        self.client.connect(target.host, target.port, keepalive=30)
        self.client.loop_start()
        return self

    def subscribe(self, topic: str) -> list[Any]:
        count = len(self.subacks) + 1  # counted before the answer can arrive
        self.client.subscribe(topic, qos=1)
        return list(self.wait(self.subacks, count))

    def publish(self, topic: str, payload: bytes = b'{"values": {"power_kw": 1}}') -> Any:
        count = len(self.pubacks) + 1
        self.client.publish(topic, payload, qos=1)
        return self.wait(self.pubacks, count)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        sock = self.client.socket()  # still open after a refused CONNACK
        if sock is not None:
            sock.close()


def v5(target: MqttTarget, client_id: str) -> Probe:
    """MQTT 5: the broker says why in its PUBACK and SUBACK reason codes."""
    return Probe(new_client(target, client_id)).start(target)


def v311(target: MqttTarget, client_id: str, clean_session: bool = True) -> Probe:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=clean_session,
    )
    client.reconnect_delay_set(60, 60)  # a refused client must not retry during the test
    target.configure(client)
    return Probe(client).start(target)


def refused(probe: Probe) -> bool:
    reason = probe.wait(probe.connack)
    probe.close()
    return bool(reason.is_failure)


# -- H1: a device's session is always its own ------------------------------------------------


@pytest.mark.parametrize("clean_session", [False, True], ids=["resume", "wipe"])
def test_a_device_cannot_take_over_the_ingestor_session(
    hostile_db: str,
    park: str,
    broker: MqttTarget,
    attacker: Account,
    publishers: dict[str, Publisher],
    ingestor: Ingestor,
    clean_session: bool,
) -> None:
    """On the device listener the ingestor's client id becomes the device's username: the
    attacker is let in as itself, the ingestor keeps its session, nothing is delivered to it."""
    ingest_client_id = f"{ingestor.env['PARKTWIN_INGEST_CLIENT_ID']}-0"
    stream = StreamPublisher(publishers["victim"], count=300, rate=200).start()
    attempts = 0
    while stream.thread.is_alive() or attempts < 3:
        probe = v311(attacker.target(broker), ingest_client_id, clean_session)
        assert not probe.wait(probe.connack).is_failure
        time.sleep(0.2)  # anything the ingestor's session held would arrive now
        assert probe.messages == []
        probe.close()
        attempts += 1
    stream.join()
    wait_until(lambda: count_rows(hostile_db, park, "victim") == 300, 60, "all 300 readings")
    assert count_rows(hostile_db, park, "victim") == 300
    assert "lost the broker" not in ingestor.output()  # never kicked off its session


def test_a_device_connects_with_any_client_id_and_it_becomes_its_username(
    hostile_db: str,
    park: str,
    broker: MqttTarget,
    attacker: Account,
    publishers: dict[str, Publisher],
    ingestor: Ingestor,
) -> None:
    ids = ["", attacker.device_id, f"random-{uuid.uuid4().hex[:6]}", "parktwin-ctl-x", "h-x:victim"]
    for number, client_id in enumerate(ids, start=1):
        device = v311(attacker.target(broker), client_id)
        assert not device.wait(device.connack).is_failure, client_id
        payload = orjson.dumps({"values": {"power_kw": number}})
        assert str(device.publish(attacker.topic(), payload)) == "Success", client_id
        device.close()
        wait_until(lambda n=number: count_rows(hostile_db, park, "attacker") == n, 30, client_id)

    # Its effective client id is its username: a second connection with the same account and
    # another id takes over the first; another device's connection is untouched.
    bystander, kicked = publishers["victim"], threading.Event()
    bystander.client.on_disconnect = lambda *_a: kicked.set()
    # the first even presents the bystander's client id (its username)
    first = v311(attacker.target(broker), f"{bystander.park_id}:{bystander.device_id}")
    assert not first.wait(first.connack).is_failure
    second = v311(attacker.target(broker), f"other-{uuid.uuid4().hex[:6]}")
    assert not second.wait(second.connack).is_failure
    assert first.closed.wait(10), "the first connection was not taken over"
    assert str(second.publish(attacker.topic())) == "Success"
    bystander.send({"values": {"power_kw": 9}})
    wait_until(lambda: count_rows(hostile_db, park, "victim") == 1, 30, "the bystander's")
    assert not kicked.is_set()
    wait_until(lambda: count_rows(hostile_db, park, "attacker") == len(ids) + 1, 30, "the last")
    for client in (first, second):
        client.close()


# -- H3: no subscriptions, own topics only, bounded packets -------------------------------------


def test_a_device_subscribes_only_within_its_own_subtree(
    admin: MqttTarget, broker: MqttTarget, attacker: Account, publishers: dict[str, Publisher]
) -> None:
    spy = v311(attacker.target(broker), attacker.username)
    own = f"parks/{attacker.park_id}/devices/{attacker.device_id}"
    for topic in (f"{own}/#", f"{own}/commands", f"{own}/+/x"):
        assert [c.value for c in spy.subscribe(topic)] == [1], topic  # SUBACK: granted QoS 1
    victim = publishers["victim"]
    others = (
        "#",
        "parks/#",
        f"parks/{attacker.park_id}/#",
        f"parks/{attacker.park_id}/devices/+/telemetry",
        f"parks/{victim.park_id}/devices/{victim.device_id}/#",
        victim.topic(),
        "$SYS/#",
        "$CONTROL/dynamic-security/#",
    )
    for topic in others:
        assert [c.value for c in spy.subscribe(topic)] == [0x80], topic  # SUBACK: failure
    # the broker delivered the victim's message to a reader, and not to the device; the
    # device's own message did reach it
    reader = v5(admin, f"reader-{uuid.uuid4().hex[:6]}")
    reader.subscribe(victim.topic())
    victim.send({"values": {"power_kw": 2.0}})
    reader.wait(reader.messages)
    assert str(spy.publish(attacker.topic())) == "Success"
    spy.wait(spy.messages)
    assert [m.topic for m in spy.messages] == [attacker.topic()]
    for client in (spy, reader):
        client.close()


def test_a_device_publishes_only_its_own_telemetry_and_status(
    admin: MqttTarget, broker: MqttTarget, attacker: Account
) -> None:
    reader = v5(admin, f"reader-{uuid.uuid4().hex[:6]}")
    reader.subscribe(f"parks/{attacker.park_id}/#")
    device = v5(attacker.target(broker), attacker.username)
    denied = [
        f"parks/{attacker.park_id}/devices/victim/telemetry",
        f"parks/{attacker.park_id}/devices/victim/status",
        attacker.topic("commands"),
        attacker.topic("telemetry/extra"),
        f"parks/{attacker.park_id}/devices/{attacker.device_id}",
        "$CONTROL/dynamic-security/v1",
    ]
    for topic in denied:
        assert str(device.publish(topic)) == "Not authorized", topic
    for kind in ("telemetry", "status"):
        assert str(device.publish(attacker.topic(kind))) == "Success"
    reader.wait(reader.messages, 2)
    assert sorted(m.topic for m in reader.messages) == [
        attacker.topic("status"),
        attacker.topic("telemetry"),
    ]
    for client in (device, reader):
        client.close()


def padded_readings(count: int, size: int) -> bytes:
    """``count`` valid readings, padded with JSON whitespace to exactly ``size`` bytes."""
    ts = int(time.time() * 1000) - 3_600_000  # an hour ago
    body = orjson.dumps([{"ts": ts + i, "values": {"power_kw": i / 10}} for i in range(count)])
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"]"


def test_an_oversize_packet_closes_the_connection_and_a_full_one_is_stored(
    hostile_db: str, park: str, broker: MqttTarget, attacker: Account, ingestor: Ingestor
) -> None:
    full = padded_readings(1000, 256 * 1024)  # the contract's largest message
    device = v311(attacker.target(broker), attacker.username)  # MQTT 5 paho would refuse to send
    assert str(device.publish(attacker.topic(), full)) == "Success"
    wait_until(lambda: count_rows(hostile_db, park, "attacker") == 1000, 60, "1000 readings")

    device.client.publish(attacker.topic(), b" " * MAX_PACKET_SIZE, qos=1)
    assert device.closed.wait(10), "the broker kept the connection open"
    assert len(device.pubacks) == 1  # the oversize message was never acknowledged
    device.close()
    assert count_rows(hostile_db, park, "attacker") == 1000


# -- L12: retained device messages are not replayed into the ingestor ---------------------------


def test_a_retained_reading_is_stored_once_across_ingestor_restarts(
    hostile_db: str,
    embedded: EmbeddedServices,
    park: str,
    admin: MqttTarget,
    broker: MqttTarget,
    attacker: Account,
    publishers: dict[str, Publisher],
    ingestor: Ingestor,
) -> None:
    device = v5(attacker.target(broker), attacker.username)
    device.client.publish(attacker.topic(), b'{"values": {"power_kw": 7}}', qos=1, retain=True)
    device.wait(device.pubacks)
    wait_until(lambda: count_rows(hostile_db, park, "attacker") == 1, 30, "the live reading")
    ingestor.stop()
    again = start_ingestor(
        hostile_db,
        embedded.mosquitto.url(),
        embedded.mosquitto.url("ingest"),
        admin,
        publishers["probe"],
    )
    try:
        # a later reading from the same device is stored: anything replayed before it was seen
        assert str(device.publish(attacker.topic(), b'{"values": {"power_kw": 8}}')) == "Success"
        wait_until(lambda: count_rows(hostile_db, park, "attacker") >= 2, 30, "the later one")
        assert count_rows(hostile_db, park, "attacker") == 2
    finally:
        again.stop()
        device.client.publish(attacker.topic(), b"", qos=1, retain=True)  # clear it
        device.wait(device.pubacks, 3)
        device.close()


# -- M8: least-privileged service accounts ------------------------------------------------------


def test_the_ingest_account_only_reads_telemetry_and_status(ingest_target: MqttTarget) -> None:
    ingest = v5(ingest_target, f"test-ingest-{uuid.uuid4().hex[:6]}")
    for topic in ("parks/+/devices/+/telemetry", "$share/g1/parks/+/devices/+/status"):
        assert [str(c) for c in ingest.subscribe(topic)] == ["Granted QoS 1"], topic
    for topic in ("#", "parks/#", "$CONTROL/dynamic-security/#", "$SYS/#"):
        assert all(c.is_failure for c in ingest.subscribe(topic)), topic
    for topic in ("parks/p/devices/d/telemetry", "$CONTROL/dynamic-security/v1", "other"):
        assert str(ingest.publish(topic)) == "Not authorized", topic
    ingest.close()


def test_the_api_account_manages_devices_and_reads_nothing(
    broker: MqttTarget, api_target: MqttTarget, dynsec: DynsecClient
) -> None:
    api = DynsecClient(api_target)
    api.connect()
    try:
        account = Account("api-made", f"d-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex)
        api.ensure_device(account.park_id, account.device_id, account.password)
        device = v5(account.target(broker), account.username)
        assert not device.publish(account.topic()).is_failure  # or "no subscribers"
        device.close()
        api.delete_device(account.park_id, account.device_id)
    finally:
        api.close()
    probe = v5(api_target, f"api-probe-{uuid.uuid4().hex[:6]}")
    for topic in ("#", "parks/+/devices/+/telemetry"):
        assert all(c.is_failure for c in probe.subscribe(topic)), topic
    assert str(probe.publish("parks/p/devices/d/telemetry")) == "Not authorized"
    probe.close()
    assert api_target.username == API_USER


def make_legacy_device(dynsec: DynsecClient, park_id: str, device_id: str, password: str) -> None:
    """A device account as earlier versions made it: its whole subtree, any client id."""
    role, subtree = device_role(park_id, device_id), f"parks/{park_id}/devices/{device_id}/#"
    acls = [
        {"acltype": t, "topic": subtree, "allow": True}
        for t in ("publishClientSend", "subscribePattern")
    ]
    dynsec.execute(
        [
            {"command": "createRole", "rolename": role, "acls": acls},
            {
                "command": "createClient",
                "username": f"{park_id}:{device_id}",
                "password": password,
                "roles": [{"rolename": role}],
            },
        ]
    )


def role_acls(dynsec: DynsecClient, role: str) -> list[tuple[str, str]]:
    answer = dynsec.execute([{"command": "getRole", "rolename": role}])[0]
    return sorted((a["acltype"], a["topic"]) for a in answer["data"]["role"]["acls"])


def make_pinned_device(dynsec: DynsecClient, park_id: str, device_id: str, password: str) -> None:
    """A device account as the previous version made it: today's role, and its client id
    pinned to its username (which refused every other client id)."""
    dynsec.ensure_device(park_id, device_id, password)
    username = f"{park_id}:{device_id}"
    dynsec.execute([{"command": "setClientId", "username": username, "clientid": username}])


def client_id_of(dynsec: DynsecClient, username: str) -> str | None:
    answer = dynsec.execute([{"command": "getClient", "username": username}])[0]
    value = answer["data"]["client"].get("clientid")
    return str(value) if value is not None else None


def today_acls(account: Account) -> list[tuple[str, str]]:
    return [
        ("publishClientSend", account.topic("status")),
        ("publishClientSend", account.topic("telemetry")),
        ("subscribePattern", f"parks/{account.park_id}/devices/{account.device_id}/#"),
    ]


def test_creating_a_device_again_repairs_its_account(
    admin: MqttTarget, broker: MqttTarget, dynsec: DynsecClient
) -> None:
    legacy = Account("legacy", f"d-{uuid.uuid4().hex[:6]}", "old")
    make_legacy_device(dynsec, legacy.park_id, legacy.device_id, legacy.password)
    dynsec.ensure_device(legacy.park_id, legacy.device_id, "new")
    assert role_acls(dynsec, device_role(legacy.park_id, legacy.device_id)) == today_acls(legacy)
    renewed = replace(legacy, password="new")
    assert not refused(v311(renewed.target(broker), "any-id"))
    dynsec.ensure_device(legacy.park_id, legacy.device_id, "new")  # and again: no error
    dynsec.delete_device(legacy.park_id, legacy.device_id)

    pinned = Account("pinned", f"d-{uuid.uuid4().hex[:6]}", "pw")
    make_pinned_device(dynsec, pinned.park_id, pinned.device_id, pinned.password)
    assert refused(v311(pinned.target(admin), "any-id"))  # the services listener keeps ids
    dynsec.ensure_device(pinned.park_id, pinned.device_id, pinned.password)
    assert client_id_of(dynsec, pinned.username) is None
    assert not refused(v311(pinned.target(admin), "any-id"))
    dynsec.delete_device(pinned.park_id, pinned.device_id)


def test_existing_accounts_are_upgraded_once(
    admin: MqttTarget, broker: MqttTarget, dynsec: DynsecClient, embedded: EmbeddedServices
) -> None:
    park_id = "legacy"
    legacy = Account(park_id, f"d-{uuid.uuid4().hex[:6]}", "pw")
    make_legacy_device(dynsec, park_id, legacy.device_id, legacy.password)
    pinned = Account(park_id, f"p-{uuid.uuid4().hex[:6]}", "pw")
    make_pinned_device(dynsec, park_id, pinned.device_id, pinned.password)
    assert not refused(v311(legacy.target(broker), "any-id"))  # as an earlier version made it
    assert refused(v311(pinned.target(admin), "any-id"))  # as the previous version made it
    assert client_id_of(dynsec, pinned.username) == pinned.username

    provision(dynsec, embedded.mosquitto.service_accounts())
    for account in (legacy, pinned):
        assert role_acls(dynsec, device_role(park_id, account.device_id)) == today_acls(account)
        assert client_id_of(dynsec, account.username) is None
        for listener in (admin, broker):
            assert not refused(v311(account.target(listener), "any-id"))
    assert dynsec.upgrade_devices() == 0  # idempotent: nothing left to change
    for account in (legacy, pinned):
        dynsec.delete_device(park_id, account.device_id)


def test_a_service_account_keeps_its_password_and_rights(
    dynsec: DynsecClient, ingest_target: MqttTarget
) -> None:
    """Re-provisioning with the same password changes nothing (and kicks nobody)."""
    account = ingest_account(str(ingest_target.username), str(ingest_target.password))
    ensure_service_account(dynsec, account)
    ingest = v5(ingest_target, f"test-ingest-{uuid.uuid4().hex[:6]}")
    assert [str(c) for c in ingest.subscribe("parks/+/devices/+/status")] == ["Granted QoS 1"]
    ensure_service_account(dynsec, account)
    assert ingest.client.is_connected()
    ingest.close()


def test_broker_setup_creates_the_accounts_of_the_role_urls(
    embedded: EmbeddedServices, admin: MqttTarget
) -> None:
    """`parktwin broker setup` (compose.yaml's one-shot) on an already running broker."""
    custom = replace(admin, username=f"ingest-{uuid.uuid4().hex[:6]}", password=uuid.uuid4().hex)
    url = f"mqtt://{custom.username}:{custom.password}@{custom.host}:{custom.port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")} | {
        "PARKTWIN_MQTT_URL": embedded.mosquitto.url(),
        "PARKTWIN_INGEST_MQTT_URL": url,
    }
    for _ in range(2):  # idempotent
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "broker", "setup"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert str(custom.username) in result.stdout
    ingest = v5(custom, f"custom-{uuid.uuid4().hex[:6]}")
    assert [str(c) for c in ingest.subscribe("parks/+/devices/+/telemetry")] == ["Granted QoS 1"]
    assert str(ingest.publish("parks/p/devices/d/telemetry")) == "Not authorized"
    ingest.close()


# -- M7: TLS for devices ----------------------------------------------------------------------


def test_devices_connect_over_tls_with_the_generated_ca(
    embedded: EmbeddedServices, attacker: Account
) -> None:
    ca_file = embedded.mosquitto.ca_file()
    assert ca_file is not None
    url = embedded.urls()["PARKTWIN_MQTTS_URL"]
    over_tls = attacker.target(MqttTarget.from_url(url, ca_file=ca_file))
    assert over_tls.tls
    device = v5(over_tls, attacker.username)
    assert not device.wait(device.connack).is_failure
    assert not device.publish(attacker.topic()).is_failure
    device.close()

    plain = replace(over_tls, tls=False)
    cleartext = v311(plain, attacker.username)
    assert cleartext.closed.wait(10), "a plain connection to the TLS port was not closed"
    assert cleartext.connack == []
    cleartext.close()

    # without our CA (the system's CAs do not know it) the handshake fails
    raw = socket.create_connection((over_tls.host, over_tls.port), timeout=10)
    with raw, pytest.raises(ssl.SSLCertVerificationError):
        tls_context(None).wrap_socket(raw, server_hostname=over_tls.host)


# -- L11: secrets and the broker's state are private -------------------------------------------


def test_broker_secrets_are_private(embedded: EmbeddedServices) -> None:
    paths = embedded.mosquitto.paths
    assert stat.S_IMODE(paths.mqtt.stat().st_mode) == 0o700
    roles: tuple[MqttRole, ...] = ("admin", "ingest", "api")
    for role in roles:
        assert stat.S_IMODE(paths.mqtt_secret(role).stat().st_mode) == 0o600
    assert stat.S_IMODE((paths.ca / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((paths.mqtt_tls / "server.key").stat().st_mode) == 0o600
    assert paths.mqtt_dynsec.exists()
