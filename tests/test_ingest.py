"""The ingestor end to end: a real broker, a real database, the ingestor as a process."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.broker.dynsec import DynsecClient
from app.core.migrate import upgrade_to_head
from app.core.mqtt import MqttTarget
from app.embedded.process import free_port
from app.embedded.services import EmbeddedServices
from tests.conftest import ServiceEnv
from tests.ingest_support import (
    Ingestor,
    Publisher,
    StreamPublisher,
    add_devices,
    add_park,
    scalar,
    wait_until,
)

DEVICES = {
    "m1": "electricity_meter",
    "g1": "gas_detector",
    "s1": "smoke_detector",
    "probe": "electricity_meter",
}


@pytest.fixture(scope="module")
def ingest_db(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_ingest")
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
def park(ingest_db: str) -> str:
    park_id = f"park-{uuid.uuid4().hex[:6]}"
    add_park(ingest_db, park_id, DEVICES)
    return park_id


@pytest.fixture
def devices(target: MqttTarget, dynsec: DynsecClient, park: str) -> Iterator[dict[str, Publisher]]:
    publishers = {d: Publisher(target, dynsec, park, d) for d in DEVICES}
    yield publishers
    for publisher in publishers.values():
        publisher.close()


@pytest.fixture
def ingestor(
    ingest_db: str, services: ServiceEnv, target: MqttTarget, devices: dict[str, Publisher]
) -> Iterator[Ingestor]:
    process = Ingestor(ingest_db, services.mqtt_url)
    # one device sends every kind of rejection here: more than the default rate stores
    # (tests/test_hostile_payloads.py checks the limit itself)
    process.env["PARKTWIN_INGEST_REJECTION_RATE"] = "100"
    process.start()
    try:
        process.wait_subscribed(target, devices["probe"], ingest_db)
        yield process
    finally:
        process.stop()


def stored(db: str, park: str, device: str, metric: str) -> list[tuple[datetime, float]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT t.time, t.value FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s AND s.device_id = %s AND s.metric = %s ORDER BY t.time",
            (park, device, metric),
        ).fetchall()


def count_rows(db: str, park: str, device: str) -> int:
    return int(
        scalar(
            db,
            "SELECT count(*) FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s AND s.device_id = %s",
            park,
            device,
        )
    )  # type: ignore[arg-type]


def rejections(db: str, park: str) -> list[tuple[str, str, str, bytes]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT reason, topic, detail, payload FROM ingest_rejection "
            "WHERE park_id = %s ORDER BY id",
            (park,),
        ).fetchall()


def now_ms(offset: timedelta = timedelta(0)) -> int:
    return int((datetime.now(UTC) + offset).timestamp() * 1000)


def test_single_and_batch_payloads_are_stored(
    ingest_db: str, park: str, devices: dict[str, Publisher], ingestor: Ingestor
) -> None:
    t0 = now_ms(-timedelta(minutes=1))
    devices["m1"].send({"ts": t0, "values": {"power_kw": 12.5, "energy_kwh": 10234.25}})
    shanghai = ZoneInfo("Asia/Shanghai")
    rfc = datetime.fromtimestamp((t0 + 1000) / 1000, UTC).astimezone(shanghai).isoformat()
    devices["g1"].send(
        [
            {"ts": rfc, "values": {"gas_lel_pct": 3.1}},
            {"ts": t0 + 5000, "values": {"gas_lel_pct": 3.4}},
        ]
    )
    devices["s1"].send({"ts": t0, "values": {"smoke": True}})
    wait_until(
        lambda: len(stored(ingest_db, park, "g1", "gas_lel_pct")) == 2, 30, "the batch payload"
    )
    wait_until(lambda: stored(ingest_db, park, "s1", "smoke") != [], 30, "the smoke reading")
    base = datetime.fromtimestamp(t0 / 1000, UTC)
    assert stored(ingest_db, park, "m1", "power_kw") == [(base, 12.5)]
    assert stored(ingest_db, park, "m1", "energy_kwh") == [(base, 10234.25)]
    assert stored(ingest_db, park, "g1", "gas_lel_pct") == [
        (base + timedelta(seconds=1), 3.1),
        (base + timedelta(seconds=5), 3.4),
    ]
    assert stored(ingest_db, park, "s1", "smoke") == [(base, 1.0)]
    latest = scalar(
        ingest_db,
        "SELECT l.value FROM latest_value l JOIN series s ON s.id = l.series_id "
        "WHERE s.park_id = %s AND s.device_id = 'g1'",
        park,
    )
    assert latest == 3.4
    with psycopg.connect(ingest_db) as conn:
        row = conn.execute(
            "SELECT status, last_seen_at FROM device WHERE park_id = %s AND id = 'm1'", (park,)
        ).fetchone()
    assert row is not None
    status, seen = row
    assert status == "online" and seen is not None


def test_message_without_ts_uses_receipt_time(
    ingest_db: str, park: str, devices: dict[str, Publisher], ingestor: Ingestor
) -> None:
    before = datetime.now(UTC)
    devices["g1"].send({"values": {"gas_lel_pct": 1.0}})
    wait_until(lambda: stored(ingest_db, park, "g1", "gas_lel_pct") != [], 30, "the reading")
    ((ts, value),) = stored(ingest_db, park, "g1", "gas_lel_pct")
    assert value == 1.0 and before - timedelta(seconds=1) <= ts <= datetime.now(UTC)


def test_duplicates_are_stored_once_and_the_first_value_wins(
    ingest_db: str, park: str, devices: dict[str, Publisher], ingestor: Ingestor
) -> None:
    t0 = now_ms(-timedelta(minutes=2))
    devices["g1"].send({"ts": t0, "values": {"gas_lel_pct": 1.0}})
    devices["g1"].send(
        [{"ts": t0, "values": {"gas_lel_pct": 2.0}}, {"ts": t0, "values": {"gas_lel_pct": 3.0}}]
    )
    devices["g1"].send({"ts": t0, "values": {"gas_lel_pct": 4.0}})
    devices["g1"].send({"ts": t0 + 1, "values": {"gas_lel_pct": 5.0}})  # the marker: last in
    wait_until(lambda: len(stored(ingest_db, park, "g1", "gas_lel_pct")) == 2, 30, "the marker")
    base = datetime.fromtimestamp(t0 / 1000, UTC)
    assert stored(ingest_db, park, "g1", "gas_lel_pct") == [
        (base, 1.0),
        (base + timedelta(milliseconds=1), 5.0),
    ]


REJECTS = [
    ("malformed_json", b'{"ts": 1, "values": {'),
    ("malformed_json", b"\xff\xfe not utf-8"),
    ("invalid_schema", b'{"values": {}}'),
    ("invalid_schema", b'{"ts": 1.5, "values": {"power_kw": 1}}'),
    ("invalid_schema", b'{"ts": "2026-11-28T16:00:00", "values": {"power_kw": 1}}'),
    ("invalid_schema", b'{"values": {"power_kw": "high"}}'),
    ("invalid_schema", b"[]"),
    ("non_finite_value", b'{"values": {"power_kw": NaN}}'),
    ("non_finite_value", b'{"values": {"power_kw": 1e999}}'),
    ("unknown_metric", b'{"values": {"gas_lel_pct": 1}}'),
    ("timestamp_out_of_range", b'{"ts": 1000, "values": {"power_kw": 1}}'),
    ("timestamp_out_of_range", b'{"ts": "2099-01-01T00:00:00Z", "values": {"power_kw": 1}}'),
    # just over 256 KiB: a bigger packet would be refused by the broker itself (max_packet_size)
    ("payload_too_large", b'{"values": {"power_kw": 1}, "pad": "' + b"x" * 262_144 + b'"}'),
]


def test_every_rejection_is_logged_with_its_reason(
    ingest_db: str,
    park: str,
    target: MqttTarget,
    dynsec: DynsecClient,
    devices: dict[str, Publisher],
    ingestor: Ingestor,
) -> None:
    for _reason, payload in REJECTS:
        devices["m1"].send(payload)
    stranger = Publisher(target, dynsec, park, "not-registered")
    ghost_park = f"ghost-{uuid.uuid4().hex[:6]}"
    ghost = Publisher(target, dynsec, ghost_park, "d1")
    try:
        stranger.send({"values": {"power_kw": 1}})
        ghost.send({"values": {"power_kw": 1}})
        wait_until(
            lambda: len(rejections(ingest_db, park)) == len(REJECTS) + 1, 30, "the rejections"
        )
        wait_until(
            lambda: (
                scalar(
                    ingest_db,
                    "SELECT count(*) FROM ingest_rejection WHERE park_id = %s",
                    ghost_park,
                )
                == 1
            ),
            30,
            "the unknown park",
        )
    finally:
        stranger.close()
        ghost.close()
    logged = rejections(ingest_db, park)
    by_topic = [r for r in logged if r[1].endswith("/m1/telemetry")]
    assert [r[0] for r in by_topic] == [reason for reason, _ in REJECTS]
    for (reason, payload), (_r, topic, detail, kept) in zip(REJECTS, by_topic, strict=True):
        assert topic == f"parks/{park}/devices/m1/telemetry"
        assert detail, f"{reason} without a detail"
        assert kept == payload[: 64 * 1024]
    assert [r[0] for r in logged if "not-registered" in r[1]] == ["unknown_device"]
    assert (
        scalar(ingest_db, "SELECT reason FROM ingest_rejection WHERE park_id = %s", ghost_park)
        == "unknown_park"
    )
    assert count_rows(ingest_db, park, "m1") == 0


def test_status_topic_sets_device_status(
    ingest_db: str, park: str, devices: dict[str, Publisher], ingestor: Ingestor
) -> None:
    devices["s1"].send(b"offline", kind="status")
    query = "SELECT status FROM device WHERE park_id = %s AND id = 's1'"
    wait_until(lambda: scalar(ingest_db, query, park) == "offline", 30, "offline")
    devices["s1"].send(b"online", kind="status")
    wait_until(lambda: scalar(ingest_db, query, park) == "online", 30, "online")


def test_a_device_registered_later_is_accepted_at_once(
    ingest_db: str,
    park: str,
    target: MqttTarget,
    dynsec: DynsecClient,
    devices: dict[str, Publisher],
    ingestor: Ingestor,
) -> None:
    late = Publisher(target, dynsec, park, "late")
    try:
        late.send({"values": {"gas_lel_pct": 1}})
        wait_until(
            lambda: any("late" in r[1] for r in rejections(ingest_db, park)), 30, "the rejection"
        )
        add_devices(ingest_db, park, {"late": "gas_detector"})
        late.send({"values": {"gas_lel_pct": 2}})
        wait_until(
            lambda: count_rows(ingest_db, park, "late") == 1, 30, "the late device's reading"
        )
    finally:
        late.close()


def test_a_device_called_null_is_stored_seen_and_alarmed(
    ingest_db: str,
    park: str,
    target: MqttTarget,
    dynsec: DynsecClient,
    devices: dict[str, Publisher],
    ingestor: Ingestor,
) -> None:
    """Device ids travel to the database as text arrays (app/core/pgarray.py): a device called
    NULL is a string there, not SQL NULL, in the readings, its last-seen time and its status,
    and in the alarm states of the rule that watches it."""
    add_devices(ingest_db, park, {"NULL": "gas_detector"})
    null = Publisher(target, dynsec, park, "NULL")
    try:
        null.send({"values": {"gas_lel_pct": 2.5}})
        wait_until(
            lambda: count_rows(ingest_db, park, "NULL") == 1, 30, "the NULL device's reading"
        )
        seen = (
            "SELECT status, last_seen_at IS NOT NULL FROM device WHERE park_id = %s AND id = 'NULL'"
        )
        with psycopg.connect(ingest_db) as conn:
            assert conn.execute(seen, (park,)).fetchone() == ("online", True)
        query = "SELECT count(*) FROM alarm_state WHERE park_id = %s AND device_id = 'NULL'"
        states = scalar(ingest_db, query, park)
        assert isinstance(states, int) and states >= 1  # the gas rule's state, keyed by 'NULL'
    finally:
        null.close()


def _stream_through(
    fault: Callable[[], None],
    ingest_db: str,
    park: str,
    devices: dict[str, Publisher],
    count: int = 3000,
) -> None:
    """Stream ``count`` readings while ``fault()`` runs, then check each is stored exactly once."""
    stream = StreamPublisher(devices["m1"], count=count, rate=300).start()
    wait_until(lambda: count_rows(ingest_db, park, "m1") > 200, 60, "the stream to start landing")
    fault()
    stream.join()
    try:
        wait_until(lambda: count_rows(ingest_db, park, "m1") >= count, 120, f"all {count} readings")
    except AssertionError:
        got = {int(v) for _t, v in stored(ingest_db, park, "m1", "power_kw")}
        missing = sorted(set(range(count)) - got)
        print(
            "DEBUG missing", len(missing), missing[:5], missing[-5:], "acked", devices["m1"].acked
        )
        raise
    values = [v for _t, v in stored(ingest_db, park, "m1", "power_kw")]
    assert values == [float(i) for i in range(count)], "lost or doubled readings"


@pytest.mark.embedded
def test_postgres_down_for_20_s_loses_nothing(
    ingest_db: str,
    park: str,
    devices: dict[str, Publisher],
    ingestor: Ingestor,
    embedded: EmbeddedServices,
) -> None:
    def outage() -> None:
        embedded.postgres.stop()
        time.sleep(20)
        embedded.postgres.start()

    _stream_through(outage, ingest_db, park, devices)
    assert "database unavailable" in ingestor.output()


@pytest.mark.embedded
def test_ingestor_sigkill_loses_and_doubles_nothing(
    ingest_db: str, park: str, devices: dict[str, Publisher], ingestor: Ingestor
) -> None:
    def crash() -> None:
        ingestor.kill()
        time.sleep(2)
        ingestor.start()

    _stream_through(crash, ingest_db, park, devices)


@pytest.mark.embedded
def test_broker_restart_loses_nothing(
    ingest_db: str,
    park: str,
    devices: dict[str, Publisher],
    ingestor: Ingestor,
    embedded: EmbeddedServices,
) -> None:
    def restart() -> None:
        embedded.mosquitto.stop()
        time.sleep(2)
        embedded.mosquitto.start()

    _stream_through(restart, ingest_db, park, devices)


def test_two_workers_share_the_load(
    ingest_db: str,
    services: ServiceEnv,
    park: str,
    target: MqttTarget,
    devices: dict[str, Publisher],
) -> None:
    process = Ingestor(ingest_db, services.mqtt_url, workers=2).start()
    try:
        wait_until(lambda: process.output().count("connected to") == 2, 60, "both workers")
        process.wait_subscribed(target, devices["probe"], ingest_db)
        t0 = now_ms(-timedelta(minutes=3))
        for i in range(400):
            devices["g1"].send({"ts": t0 + i, "values": {"gas_lel_pct": float(i)}})
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 400, 60, "400 readings")
    finally:
        process.stop()
    shares = [
        int(line.split("stopped after ")[1].split()[0])
        for line in process.output().splitlines()
        if "stopped after" in line
    ]
    assert len(shares) == 2, process.output()
    assert all(share > 0 for share in shares), f"a worker got nothing: {shares}"


def test_readings_an_alarm_rule_watches_take_the_urgent_lane_on_every_worker(
    ingest_db: str,
    services: ServiceEnv,
    park: str,
    target: MqttTarget,
    devices: dict[str, Publisher],
    tmp_path: Path,
) -> None:
    """Gas and smoke detectors (watched by the default rules) are urgent from their first
    message on, whichever of two workers gets it; meters are not. The workers' metric files
    live in a temporary directory of the supervisor's, gone when it stops."""
    port = free_port()
    process = Ingestor(ingest_db, services.mqtt_url, workers=2)
    process.env["PARKTWIN_INGEST_METRICS_PORT"] = str(port)
    process.env["TMPDIR"] = str(tmp_path)
    process.start()
    try:
        wait_until(lambda: process.output().count("connected to") == 2, 60, "both workers")
        process.wait_subscribed(target, devices["probe"], ingest_db)
        t0 = now_ms(-timedelta(minutes=3))
        for i in range(30):
            devices["g1"].send({"ts": t0 + i, "values": {"gas_lel_pct": 1.0}})
            devices["s1"].send({"ts": t0 + i, "values": {"smoke": False}})
            devices["m1"].send({"ts": t0 + i, "values": {"energy_kwh": float(i)}})
        for device in ("g1", "s1", "m1"):
            wait_until(lambda d=device: count_rows(ingest_db, park, d) == 30, 60, device)

        def metric(name: str) -> float:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            return sum(
                sample.value
                for family in text_string_to_metric_families(text.decode())
                for sample in family.samples
                if sample.name == name
            )

        assert metric("parktwin_ingest_urgent_messages_total") == 60
        assert metric("parktwin_ingest_subscribed") == 2  # both workers' subscriptions
        assert metric("parktwin_ingest_messages_stored_total") >= 90
        (metrics_dir,) = tmp_path.glob("parktwin-ingest-metrics-*")
        assert any(metrics_dir.glob("*.db"))
    finally:
        process.stop()
    assert process.process is not None and process.process.returncode == 0
    assert not any(tmp_path.glob("parktwin-ingest-metrics-*"))


def hold_latest_values(db: str, park: str, device: str) -> psycopg.Connection[tuple[object, ...]]:
    """A transaction holding ``device``'s latest values (``FOR UPDATE``): a lane whose batch
    holds one of its readings cannot commit until the caller rolls it back."""
    blocker = psycopg.connect(db)
    blocker.execute(
        "SELECT 1 FROM latest_value lv JOIN series s ON s.id = lv.series_id "
        "WHERE s.park_id = %s AND s.device_id = %s FOR UPDATE OF lv",
        (park, device),
    )
    return blocker


def test_while_behind_a_watched_reading_overtakes_the_backlog(
    ingest_db: str,
    services: ServiceEnv,
    park: str,
    target: MqttTarget,
    devices: dict[str, Publisher],
) -> None:
    """After a restart the broker sends the persistent session's backlog in order, at most a
    Receive Maximum unacknowledged, so a gas reading published then waits behind every meter
    reading queued before it. Here the backlog cannot move at all (a lock on the meter's
    latest value holds the normal lane's first batch): the gas reading still comes in, through
    worker 0's fast path (ingest/fastpath.py), and raises its alarm while the 600 meter readings
    wait; the reading itself is stored when the drain reaches its persistent copy. Then
    everything is stored once, the alarm raised once, and the fast path goes off."""
    process = Ingestor(ingest_db, services.mqtt_url)
    process.env |= {
        "PARKTWIN_INGEST_MQTT_PROTOCOL": "5",
        "PARKTWIN_INGEST_RECEIVE_MAXIMUM": "100",
        "PARKTWIN_INGEST_BATCH_MAX": "50",
    }
    alarms = "SELECT count(*) FROM alarm WHERE park_id = %s AND device_id = 'g1'"
    process.start()
    blocker: psycopg.Connection[tuple[object, ...]] | None = None
    try:
        process.wait_subscribed(target, devices["probe"], ingest_db)
        t0 = now_ms(-timedelta(minutes=2))
        devices["m1"].send({"ts": t0, "values": {"energy_kwh": 0.0}})
        devices["g1"].send({"ts": t0, "values": {"gas_lel_pct": 1.0}})
        wait_until(lambda: count_rows(ingest_db, park, "m1") == 1, 30, "the meter's first")
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 1, 30, "the detector's first")
        wait_until(lambda: process.output().count("fast path ready") == 1, 30, "on at start")
        process.stop()
        for i in range(1, 601):
            devices["m1"].send({"ts": t0 + i, "values": {"energy_kwh": float(i)}})
        wait_until(lambda: devices["m1"].acked >= 601, 30, "the broker to queue the backlog")
        blocker = hold_latest_values(ingest_db, park, "m1")
        process.start()
        wait_until(lambda: process.output().count("fast path ready") == 2, 60, "the fast path")
        devices["s1"].send({"ts": now_ms(), "values": {"smoke": False}})  # quiet: not evaluated
        devices["g1"].send({"ts": now_ms(), "values": {"gas_lel_pct": 60.0}})
        wait_until(lambda: scalar(ingest_db, alarms, park) == 1, 30, "the gas alarm")
        assert count_rows(ingest_db, park, "m1") == 1  # the backlog still waits
        assert count_rows(ingest_db, park, "g1") == 1  # the gas reading's row: with its copy
        blocker.rollback()
        wait_until(lambda: count_rows(ingest_db, park, "m1") == 601, 60, "the backlog")
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 2, 60, "the gas reading's row")
        wait_until(lambda: process.output().count("fast path off") == 2, 60, "its end")
        assert scalar(ingest_db, alarms, park) == 1  # its persistent copy changed nothing
        assert "2 copies of watched readings, 1 evaluated" in process.output()
    finally:
        if blocker is not None:
            blocker.close()
        process.stop()


def test_live_the_fast_path_stays_on_and_an_alarm_does_not_wait_for_the_lanes(
    ingest_db: str,
    services: ServiceEnv,
    park: str,
    target: MqttTarget,
    devices: dict[str, Publisher],
) -> None:
    """``PARKTWIN_INGEST_FAST_PATH_LIVE``: the fast path is on from the start and still on once
    the ingestor has kept up for longer than its hold (5 s), so a gas reading raises its alarm
    through it even while the urgent lane cannot store anything (a lock on the detector's
    latest value holds the urgent lane's batch; without the setting the fast path is off by
    then and the alarm waits for the lock). The reading is stored once the lock goes, the alarm
    raised once."""
    process = Ingestor(ingest_db, services.mqtt_url)
    process.env["PARKTWIN_INGEST_FAST_PATH_LIVE"] = "true"
    alarms = "SELECT count(*) FROM alarm WHERE park_id = %s AND device_id = 'g1'"
    process.start()
    blocker: psycopg.Connection[tuple[object, ...]] | None = None
    try:
        process.wait_subscribed(target, devices["probe"], ingest_db)
        wait_until(lambda: "fast path on" in process.output(), 30, "on at start")
        wait_until(lambda: "fast path ready" in process.output(), 30, "its subscriptions")
        t0 = now_ms(-timedelta(minutes=2))
        devices["g1"].send({"ts": t0, "values": {"gas_lel_pct": 1.0}})
        devices["m1"].send({"ts": t0, "values": {"energy_kwh": 0.0}})
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 1, 30, "the detector's first")
        time.sleep(6)  # longer than the hold: without the setting it goes off at the next take
        devices["m1"].send({"ts": t0 + 1, "values": {"energy_kwh": 1.0}})
        wait_until(lambda: count_rows(ingest_db, park, "m1") == 2, 30, "a take after the hold")
        assert "fast path off" not in process.output()
        blocker = hold_latest_values(ingest_db, park, "g1")
        devices["g1"].send({"ts": now_ms(), "values": {"gas_lel_pct": 60.0}})
        wait_until(lambda: scalar(ingest_db, alarms, park) == 1, 30, "the gas alarm")
        assert count_rows(ingest_db, park, "g1") == 1  # the urgent lane still waits
        blocker.rollback()
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 2, 60, "the gas reading's row")
        assert scalar(ingest_db, alarms, park) == 1  # its persistent copy changed nothing
        assert "live: fast path on" in process.output()
    finally:
        if blocker is not None:
            blocker.close()
        process.stop()
    assert "stopping: fast path off after 2 copies of watched readings, 1 evaluated" in (
        process.output()
    )


def test_scaling_down_drains_and_retires_the_removed_workers_sessions(
    ingest_db: str,
    services: ServiceEnv,
    park: str,
    target: MqttTarget,
    devices: dict[str, Publisher],
) -> None:
    two = Ingestor(ingest_db, services.mqtt_url, workers=2).start()
    wait_until(lambda: two.output().count("connected to") == 2, 60, "both workers")
    two.stop()
    t0 = now_ms(-timedelta(minutes=4))
    for i in range(300):  # queued while no worker runs, shared between the two sessions
        devices["g1"].send({"ts": t0 + i, "values": {"gas_lel_pct": float(i)}})
    wait_until(lambda: devices["g1"].acked >= 300, 30, "the broker to accept them")
    one = Ingestor(ingest_db, services.mqtt_url, workers=1)
    one.env = two.env  # same client ids and share group as the two-worker run
    one.log = two.log
    one.start()
    try:
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 300, 120, "both sessions' queues")
        assert "drained the session of retired worker" in one.output()
        for i in range(300, 400):  # from now on worker 0 alone receives everything
            devices["g1"].send({"ts": t0 + i, "values": {"gas_lel_pct": float(i)}})
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 400, 60, "the new messages")
    finally:
        one.stop()


def test_a_message_the_database_refuses_is_logged_and_the_rest_stored(
    ingest_db: str, park: str, devices: dict[str, Publisher], ingestor: Ingestor
) -> None:
    """A constraint the parser knows nothing about stands in for any content error."""
    with psycopg.connect(ingest_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE telemetry ADD CONSTRAINT test_refuse CHECK (value <> -42)")
    try:
        t0 = now_ms(-timedelta(minutes=5))
        devices["g1"].send([{"ts": t0 + i, "values": {"gas_lel_pct": float(i)}} for i in range(5)])
        devices["g1"].send({"ts": t0 + 10, "values": {"gas_lel_pct": -42.0}})
        devices["g1"].send({"ts": t0 + 11, "values": {"gas_lel_pct": 11.0}})
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 6, 30, "the good readings")
        wait_until(lambda: len(rejections(ingest_db, park)) == 1, 30, "the refused one")
    finally:
        with psycopg.connect(ingest_db, autocommit=True) as conn:
            conn.execute("ALTER TABLE telemetry DROP CONSTRAINT test_refuse")
    ((reason, topic, detail, payload),) = rejections(ingest_db, park)
    assert reason == "storage_error" and "test_refuse" in detail
    assert topic.endswith("/g1/telemetry") and b"-42" in payload


def test_garbage_urgent_and_normal_messages_are_all_acknowledged_in_order(
    ingest_db: str,
    services: ServiceEnv,
    park: str,
    target: MqttTarget,
    devices: dict[str, Publisher],
) -> None:
    """PUBACKs wait for the older messages' commit (ingest/acks.py), so one message never
    acknowledged would hold back every later one. A device with valid credentials mixes
    garbage, a 250 KiB junk payload and deep nesting into gas (urgent) and meter (normal)
    readings; after a clean restart on the same persistent session the broker redelivers
    nothing: each rejection is logged once, not twice."""
    ingestor = Ingestor(ingest_db, services.mqtt_url)
    ingestor.env["PARKTWIN_INGEST_REJECTION_RATE"] = "1000"
    ingestor.start()
    garbage = [b"{not json", b"[" * 5000, b"\xff\xfe", b"x" * (250 * 1024), b'{"values": 1e999}']
    try:
        ingestor.wait_subscribed(target, devices["probe"], ingest_db)
        t0 = now_ms(-timedelta(minutes=3))
        for i in range(40):
            devices["g1"].send({"ts": t0 + i, "values": {"gas_lel_pct": 1.0}})
            devices["m1"].send({"ts": t0 + i, "values": {"energy_kwh": float(i)}})
            devices["s1"].send(garbage[i % len(garbage)])
        wait_until(lambda: count_rows(ingest_db, park, "g1") == 40, 60, "the gas readings")
        wait_until(lambda: count_rows(ingest_db, park, "m1") == 40, 60, "the meter readings")
        wait_until(lambda: len(rejections(ingest_db, park)) == 40, 60, "the 40 rejections")
        ingestor.stop()
        ingestor.start()  # the same client id: the same persistent session
        devices["m1"].send({"ts": now_ms(), "values": {"energy_kwh": 41.0}})
        wait_until(lambda: count_rows(ingest_db, park, "m1") == 41, 60, "a reading after")
        assert "session present: True" in ingestor.output()
        assert len(rejections(ingest_db, park)) == 40  # nothing came again
    finally:
        ingestor.stop()
