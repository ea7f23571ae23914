"""A hostile device with valid credentials against the real broker, database and ingestor
(review C1, H3, H4): its junk is rejected with the right reasons, its flood of rejections is
stored only up to the per-device rate and counted beyond, a message that crashes the worker is
quarantined, and no other device loses a reading meanwhile."""

from __future__ import annotations

import signal
import threading
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.broker.dynsec import DynsecClient
from app.core.migrate import upgrade_to_head
from app.core.mqtt import MqttTarget
from app.embedded.process import free_port
from tests.conftest import ServiceEnv
from tests.ingest_support import Ingestor, Publisher, add_park, scalar, wait_until

DEVICES = {"bad": "electricity_meter", "good": "electricity_meter", "probe": "electricity_meter"}
RATE = 60  # PARKTWIN_INGEST_REJECTION_RATE's default
FLOOD = 500
READINGS = 100
OVERSIZE = b'{"values": {"power_kw": 1}, "pad": "' + b"x" * (256 * 1024 - 37) + b'"}'

# What the hostile device sends first, in order, each with the reason it must be logged with.
HOSTILE = [
    ("malformed_json", b'{"ts": 1, "values": {'),
    ("invalid_schema", b"[" * 1100 + b"]" * 1100),  # the review's RecursionError
    ("non_finite_value", b'{"values":{"x":1' + b"0" * 400 + b"}}"),  # its OverflowError
    ("malformed_json", bytes(range(256))),  # binary
    ("malformed_json", b'{"values": {"power_kw\xc3\x28": 1}}'),  # invalid UTF-8
    ("malformed_json", b'{"values": {"\\udc00": 1}}'),  # a lone surrogate
    ("invalid_schema", b'{"values": {"power_kw": 1, "power_kw": 2}}'),  # a repeated key
    ("payload_too_large", OVERSIZE),  # just over 256 KiB
]


@pytest.fixture(scope="module")
def hostile_db(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_hostile")
    upgrade_to_head(url)
    yield url
    services.drop_database(url)


@pytest.fixture(scope="module")
def target(services: ServiceEnv) -> MqttTarget:
    return MqttTarget.from_url(services.mqtt_url)


@pytest.fixture(scope="module")
def dynsec(target: MqttTarget) -> Iterator[DynsecClient]:
    client = DynsecClient(target)
    client.connect()
    yield client
    client.close()


@pytest.fixture
def park(hostile_db: str) -> str:
    park_id = f"hostile-{uuid.uuid4().hex[:6]}"
    add_park(hostile_db, park_id, DEVICES)
    return park_id


@pytest.fixture
def devices(target: MqttTarget, dynsec: DynsecClient, park: str) -> Iterator[dict[str, Publisher]]:
    publishers = {d: Publisher(target, dynsec, park, d) for d in DEVICES}
    yield publishers
    for publisher in publishers.values():
        publisher.close()


def metric_sum(port: int, name: str, **labels: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def readings_of(db: str, park: str, device: str) -> list[float]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT t.value FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s AND s.device_id = %s ORDER BY t.time",
            (park, device),
        ).fetchall()
    return [r[0] for r in rows]


def rejections_of(db: str, park: str, device: str) -> list[tuple[str, datetime, bytes, int]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT reason, received_at, payload, payload_size FROM ingest_rejection "
            "WHERE park_id = %s AND device_id = %s ORDER BY id",
            (park, device),
        ).fetchall()


def now_ms() -> int:
    return int((datetime.now(UTC) - timedelta(minutes=1)).timestamp() * 1000)


def test_a_hostile_device_is_rejected_rate_limited_and_stops_no_one(
    hostile_db: str,
    services: ServiceEnv,
    target: MqttTarget,
    park: str,
    devices: dict[str, Publisher],
) -> None:
    port = free_port()
    ingestor = Ingestor(hostile_db, services.mqtt_url)
    ingestor.env["PARKTWIN_INGEST_METRICS_PORT"] = str(port)
    ingestor.start()
    try:
        ingestor.wait_subscribed(target, devices["probe"], hostile_db)
        assert ingestor.process is not None
        pid = ingestor.process.pid
        t0 = now_ms()

        def good_stream() -> None:
            for i in range(READINGS):
                devices["good"].send({"ts": t0 + i, "values": {"power_kw": float(i)}})

        normal = threading.Thread(target=good_stream)
        normal.start()
        for _reason, payload in HOSTILE:
            devices["bad"].send(payload)
        for i in range(FLOOD):
            devices["bad"].send(b'{"values": {"power_kw": ' + str(i).encode())
        normal.join()
        sent_bad = len(HOSTILE) + FLOOD

        def all_rejected() -> bool:
            return metric_sum(port, "parktwin_ingest_messages_rejected_total") >= sent_bad

        wait_until(all_rejected, 120, "every hostile message to be handled")
        wait_until(
            lambda: len(readings_of(hostile_db, park, "good")) == READINGS, 60, "good readings"
        )
        suppressed = metric_sum(port, "parktwin_ingest_rejections_suppressed_total")
        suppressed_malformed = metric_sum(
            port, "parktwin_ingest_rejections_suppressed_total", reason="malformed_json"
        )
        assert ingestor.process.poll() is None and ingestor.process.pid == pid  # never restarted
    finally:
        ingestor.stop()

    assert readings_of(hostile_db, park, "good") == [float(i) for i in range(READINGS)]
    assert readings_of(hostile_db, park, "bad") == []
    stored = rejections_of(hostile_db, park, "bad")
    # the first ones of the device's first minute are all stored, with their reasons
    assert [r[0] for r in stored[: len(HOSTILE)]] == [reason for reason, _ in HOSTILE]
    for (_reason, payload), (_r, _at, kept, size) in zip(HOSTILE, stored, strict=False):
        assert size == len(payload)
        assert kept == payload[: 64 * 1024]  # PARKTWIN_INGEST_REJECTION_PAYLOAD_MAX's default
    assert {r[0] for r in stored[len(HOSTILE) :]} <= {"malformed_json"}
    # per device and minute of receipt, at most RATE stored; every other one only counted
    per_minute = Counter(at.replace(second=0, microsecond=0) for _r, at, _p, _s in stored)
    assert max(per_minute.values()) <= RATE
    assert len(stored) + suppressed == sent_bad
    assert suppressed >= sent_bad - RATE * len(per_minute) > 0
    assert suppressed_malformed == suppressed  # the flood is all malformed_json
    assert "Traceback" not in ingestor.output()


def test_a_message_that_crashes_the_worker_is_quarantined(
    hostile_db: str,
    services: ServiceEnv,
    target: MqttTarget,
    park: str,
    devices: dict[str, Publisher],
) -> None:
    """The poison crashes the worker (a real SIGSEGV, see tests/crashing_ingest.py) twice: once
    in its batch, once retried alone. The third run rejects it as ``quarantined`` without
    parsing it, acknowledges it, and goes on; the other device loses nothing."""
    poison = orjson.dumps({"ts": now_ms(), "values": {"power_kw": 666.0}})
    ingestor = Ingestor(hostile_db, services.mqtt_url, module="tests.crashing_ingest")
    ingestor.env["PARKTWIN_TEST_POISON_HEX"] = poison.hex()
    ingestor.start()
    t0 = now_ms()
    exit_codes = []
    try:
        ingestor.wait_subscribed(target, devices["probe"], hostile_db)
        devices["good"].send({"ts": t0, "values": {"power_kw": 0.0}})
        devices["bad"].send(poison)
        for run in range(2):  # each run dies on the poison, which the broker redelivers
            assert ingestor.process is not None
            process = ingestor.process
            wait_until(lambda p=process: p.poll() is not None, 60, f"crash {run + 1}")
            exit_codes.append(process.returncode)
            devices["good"].send({"ts": t0 + run + 1, "values": {"power_kw": float(run + 1)}})
            ingestor.start()
        ingestor.wait_subscribed(target, devices["probe"], hostile_db)
        devices["good"].send({"ts": t0 + 3, "values": {"power_kw": 3.0}})
        wait_until(lambda: len(readings_of(hostile_db, park, "good")) == 4, 60, "the good readings")
        wait_until(
            lambda: rejections_of(hostile_db, park, "bad") != [], 60, "the poison's rejection"
        )
        assert ingestor.process is not None and ingestor.process.poll() is None
    finally:
        ingestor.stop()
    assert exit_codes == [-signal.SIGSEGV, -signal.SIGSEGV]
    assert readings_of(hostile_db, park, "good") == [0.0, 1.0, 2.0, 3.0]
    assert readings_of(hostile_db, park, "bad") == []
    ((reason, _at, payload, _size),) = rejections_of(hostile_db, park, "bad")
    assert reason == "quarantined" and payload == poison
    strikes = scalar(hostile_db, "SELECT max(strikes) FROM ingest_suspect")
    assert strikes == 2
