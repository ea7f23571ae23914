"""Alarms end to end: devices made through the API publish over MQTT, the ingestor evaluates the
rules in its transaction, operators read and acknowledge through the API, and every change is in
the webhook outbox."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from app.core.mqtt import MqttTarget
from tests.api.conftest import auth, create_device, create_park, make_key
from tests.api.worker_util import run_shelving
from tests.conftest import ServiceEnv
from tests.ingest_support import ROOT, Ingestor, stop_process, wait_until


class Device:
    """A device publishing with the credentials the API gave it."""

    def __init__(self, target: MqttTarget, park_id: str, created: dict[str, Any]) -> None:
        self.park_id, self.id = park_id, str(created["id"])
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)  # paho's own client id
        self.client.username_pw_set(str(created["mqtt_username"]), str(created["mqtt_password"]))
        self.client.connect(target.host, target.port)
        self.client.loop_start()
        self.t0 = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp() * 1000)
        self.n = 0

    def send(self, **values: float | bool) -> None:
        self.n += 1
        payload = orjson.dumps({"ts": self.t0 + self.n * 1000, "values": values})
        self.client.publish(
            f"parks/{self.park_id}/devices/{self.id}/telemetry", payload, qos=1
        ).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def operator(database_url: str) -> dict[str, str]:
    return auth(make_key(database_url, "operator"))


@pytest.fixture
def target(services: ServiceEnv) -> MqttTarget:
    return MqttTarget.from_url(services.mqtt_url)


@pytest.fixture
def ingestor(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    services: ServiceEnv,
    target: MqttTarget,
) -> Iterator[Ingestor]:
    process = Ingestor(database_url, services.mqtt_url).start()
    park = create_park(client, admin)
    probe = Device(target, park.id, create_device(client, admin, park.id))
    url = f"/api/v1/parks/{park.id}/devices/{probe.id}"

    def subscribed() -> bool:  # resend until a reading lands: the subscription is live
        probe.send(power_kw=1.0)
        return client.get(url, headers=admin).json()["status"] == "online"

    try:
        wait_until(subscribed, 30, "the ingestor to subscribe")
        yield process
    finally:
        probe.close()
        process.stop()


def alarms(
    client: TestClient, headers: dict[str, str], park_id: str, status: str = "all"
) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/parks/{park_id}/alarms", params={"status": status}, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def outbox(database_url: str, park_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT type, severity, data FROM event_outbox WHERE park_id = %s "
            "ORDER BY created_at, id",
            (park_id,),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _types(database_url: str, park_id: str) -> list[str]:
    return [t for t, _s, _d in outbox(database_url, park_id)]


def test_gas_leak_raises_escalates_latches_and_clears_on_acknowledgement(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
) -> None:
    park = create_park(client, admin)
    detector = Device(target, park.id, create_device(client, admin, park.id, "gas_detector"))
    try:
        detector.send(gas_lel_pct=3.0)
        detector.send(gas_lel_pct=30.0)
        wait_until(lambda: len(alarms(client, admin, park.id)) == 1, 30, "the alarm")
        (alarm,) = alarms(client, admin, park.id)
        assert (alarm["severity"], alarm["color"], alarm["active"], alarm["type"]) == (
            "major",
            "orange",
            True,
            "threshold",
        )
        assert (alarm["metric"], alarm["threshold"], alarm["value"], alarm["count"]) == (
            "gas_lel_pct",
            25.0,
            30.0,
            1,
        )

        detector.send(gas_lel_pct=55.0)
        detector.send(gas_lel_pct=4.0)  # back to normal, but gas alarms latch
        wait_until(
            lambda: (
                _types(database_url, park.id)[-1:] == ["alarm.escalated"]
                and alarms(client, admin, park.id)[0]["value"] == 4.0
            ),
            30,
            "escalation and return",
        )
        (alarm,) = alarms(client, admin, park.id, "active")
        assert (alarm["severity"], alarm["color"], alarm["peak_value"], alarm["active"]) == (
            "critical",
            "red",
            55.0,
            True,
        )

        viewer = auth(make_key(database_url, "viewer"))
        assert (
            client.post(
                f"/api/v1/parks/{park.id}/alarms/{alarm['id']}/ack", headers=viewer
            ).status_code
            == 403
        )
        acked = client.post(
            f"/api/v1/parks/{park.id}/alarms/{alarm['id']}/ack",
            json={"comment": "vented"},
            headers=operator,
        )
        assert acked.status_code == 200, acked.text
        assert (acked.json()["acknowledged"], acked.json()["active"]) == (True, False)
        assert alarms(client, admin, park.id, "active") == []
        assert _types(database_url, park.id) == [
            "alarm.raised",
            "alarm.escalated",
            "alarm.acknowledged",
            "alarm.cleared",
        ]

        detail = client.get(f"/api/v1/parks/{park.id}/alarms/{alarm['id']}", headers=admin).json()
        actions = [e["action"] for e in detail["events"]]
        assert actions == ["raised", "escalated", "returned_to_normal", "acknowledged", "cleared"]
        assert detail["events"][3]["comment"] == "vented" and detail["events"][3]["actor"]
        again = client.post(f"/api/v1/parks/{park.id}/alarms/{alarm['id']}/ack", headers=operator)
        assert again.status_code == 200 and len(outbox(database_url, park.id)) == 4  # idempotent
    finally:
        detector.close()


def test_a_new_leak_after_closing_opens_a_new_alarm_and_repeats_count(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
) -> None:
    park = create_park(client, admin)
    created = create_device(client, admin, park.id, "temperature_sensor")
    with psycopg.connect(database_url) as conn:  # a park rule that does not latch
        conn.execute(
            "INSERT INTO alarm_rule (park_id, device_type, metric, type, levels, deadband) "
            "VALUES (%s, 'temperature_sensor', 'temperature_c', 'threshold', "
            '\'[{"severity": "warning", "threshold": 60}]\', 1)',
            (park.id,),
        )
    sensor = Device(target, park.id, created)
    try:
        for value in (20.0, 65.0, 58.0, 70.0):  # raise, clear (non-latching), raise again
            sensor.send(temperature_c=value)
        wait_until(
            lambda: (
                _types(database_url, park.id) == ["alarm.raised", "alarm.cleared", "alarm.raised"]
            ),
            30,
            "three events",
        )
        (alarm,) = alarms(client, admin, park.id)
        assert (alarm["count"], alarm["active"], alarm["acknowledged"], alarm["severity"]) == (
            2,
            True,
            False,
            "warning",
        )
        summary = client.get(f"/api/v1/parks/{park.id}/alarms/summary", headers=admin).json()
        assert summary["park"]["warning"] == 1 and summary["unacknowledged"] == 1
    finally:
        sensor.close()


def test_smoke_is_critical(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
) -> None:
    park = create_park(client, admin)
    smoke = Device(target, park.id, create_device(client, admin, park.id, "smoke_detector"))
    try:
        smoke.send(smoke=False)
        smoke.send(smoke=True)
        wait_until(lambda: len(alarms(client, admin, park.id)) == 1, 30, "the smoke alarm")
        (alarm,) = alarms(client, admin, park.id)
        assert (alarm["severity"], alarm["type"], alarm["latched"]) == ("critical", "state", True)
        (event,) = outbox(database_url, park.id)
        assert (
            event[0] == "alarm.raised" and event[1] == "critical" and event[2]["id"] == alarm["id"]
        )
    finally:
        smoke.close()


def test_a_late_gas_reading_over_the_threshold_still_raises_its_alarm_at_its_time(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
) -> None:
    """Two ingest workers draining a backlog side by side can evaluate a detector's readings out
    of order (bench/park100k: 2 of 22 gas probes after an ingestor stop raised nothing). Here
    the detector's newer ordinary reading (4 %LEL) is evaluated first, then its older 30 %LEL
    arrives: the alarm is raised, at the older reading's time, and announced."""
    park = create_park(client, admin)
    detector = Device(target, park.id, create_device(client, admin, park.id, "gas_detector"))
    newer, older = detector.t0 + 3000, detector.t0 + 1000

    def evaluated_up_to() -> datetime | None:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT max(last_at) FROM alarm_state WHERE park_id = %s AND device_id = %s",
                (park.id, detector.id),
            ).fetchone()
        return row[0] if row else None

    try:
        detector.n = 2
        detector.send(gas_lel_pct=4.0)  # at t0 + 3 s
        at_newer = datetime.fromtimestamp(newer / 1000, UTC)
        wait_until(lambda: evaluated_up_to() == at_newer, 30, "the newer reading evaluated")
        detector.n = 0
        detector.send(gas_lel_pct=30.0)  # at t0 + 1 s: late
        wait_until(lambda: len(alarms(client, admin, park.id)) == 1, 30, "the late alarm")
        (alarm,) = alarms(client, admin, park.id)
        raised_at = datetime.fromisoformat(alarm["raised_at"].replace("Z", "+00:00"))
        assert raised_at == datetime.fromtimestamp(older / 1000, UTC)
        assert (alarm["severity"], alarm["value"], alarm["active"]) == ("major", 30.0, True)
        assert _types(database_url, park.id) == ["alarm.raised"]
        assert evaluated_up_to() == at_newer  # the newest reading stays the newest
    finally:
        detector.close()


def test_two_workers_racing_on_one_detector_open_one_alarm(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    services: ServiceEnv,
    target: MqttTarget,
) -> None:
    park = create_park(client, admin)
    detector = Device(target, park.id, create_device(client, admin, park.id, "gas_detector"))
    workers = Ingestor(database_url, services.mqtt_url, workers=2).start()
    try:
        wait_until(lambda: workers.output().count("connected to") == 2, 60, "both workers")
        for _ in range(40):  # every reading alarming; the messages land on both workers
            detector.send(gas_lel_pct=30.0)
        wait_until(lambda: len(alarms(client, admin, park.id)) >= 1, 30, "the alarm")
        with psycopg.connect(database_url) as conn:
            open_alarms = conn.execute(
                "SELECT count(*) FROM alarm WHERE park_id = %s AND closed_at IS NULL", (park.id,)
            ).fetchone()
        assert open_alarms == (1,)
        assert _types(database_url, park.id) == ["alarm.raised"]
    finally:
        workers.stop()
        detector.close()


def test_a_silent_device_goes_offline_and_comes_back(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    services: ServiceEnv,
    target: MqttTarget,
) -> None:
    park = create_park(client, admin)
    meter = Device(target, park.id, create_device(client, admin, park.id))
    ingest = Ingestor(database_url, services.mqtt_url)
    # last_seen_at written on every batch, so the faked silence below is seen at once
    ingest.env["PARKTWIN_INGEST_LAST_SEEN_RESOLUTION"] = "PT0S"
    ingest.start()
    env = {k: v for k, v in ingest.env.items() if not k.startswith("PARKTWIN_INGEST")}
    worker: subprocess.Popen[bytes] | None = None
    device_url = f"/api/v1/parks/{park.id}/devices/{meter.id}"
    try:

        def heard() -> bool:  # resend until the new ingestor has subscribed
            meter.send(power_kw=1.0)
            return client.get(device_url, headers=admin).json()["status"] == "online"

        wait_until(heard, 30, "online")
        # the last reading sent is stored (one worker keeps order): none can land after the
        # faked silence below
        last = datetime.fromtimestamp((meter.t0 + meter.n * 1000) / 1000, UTC)
        wait_until(lambda: _newest(database_url, park.id, meter.id) == last, 30, "the last reading")
        with psycopg.connect(database_url) as conn:  # silent for an hour: past its 15 minutes
            conn.execute(
                "UPDATE device SET last_seen_at = now() - interval '1 hour' "
                "WHERE park_id = %s AND id = %s",
                (park.id, meter.id),
            )
            # ... while the ingestor was listening: only then is silence the device's
            conn.execute(
                "UPDATE ingest_coverage SET covered_since = covered_since - interval '1 hour' "
                "WHERE covered_since IS NOT NULL"
            )
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT)
        wait_until(
            lambda: _types(database_url, park.id) == ["device.offline", "alarm.raised"],
            60,
            "offline",
        )
        (alarm,) = alarms(client, admin, park.id, "active")
        assert (alarm["type"], alarm["severity"], alarm["color"], alarm["metric"]) == (
            "device_offline",
            "minor",
            "yellow",
            None,
        )
        assert client.get(device_url, headers=admin).json()["status"] == "offline"
        meter.send(power_kw=2.0)
        wait_until(
            lambda: _types(database_url, park.id)[2:] == ["alarm.cleared", "device.online"],
            30,
            "back online",
        )
        assert alarms(client, admin, park.id, "active") == []
    finally:
        if worker is not None:
            stop_process(worker)
        ingest.stop()
        meter.close()


def test_an_on_delay_runs_out_in_the_worker_without_another_reading(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
) -> None:
    park = create_park(client, admin)
    created = create_device(client, admin, park.id, "temperature_sensor")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO alarm_rule (park_id, device_type, metric, type, levels, on_delay_s) "
            "VALUES (%s, 'temperature_sensor', 'temperature_c', 'threshold', "
            '\'[{"severity": "major", "threshold": 60}]\', 2)',
            (park.id,),
        )
    sensor = Device(target, park.id, created)
    env = {k: v for k, v in ingestor.env.items() if not k.startswith("PARKTWIN_INGEST")}
    worker: subprocess.Popen[bytes] | None = None
    try:
        sensor.send(temperature_c=65.0)  # over the threshold, but the delay has not run out
        wait_until(lambda: _pending(database_url, park.id) == 1, 30, "the pending level")
        assert alarms(client, admin, park.id) == []
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT)
        wait_until(lambda: len(alarms(client, admin, park.id)) == 1, 60, "the timer")
        (alarm,) = alarms(client, admin, park.id)
        assert (alarm["severity"], alarm["value"], alarm["active"]) == ("major", 65.0, True)
    finally:
        if worker is not None:
            stop_process(worker)
        sensor.close()


def _newest(database_url: str, park_id: str, device_id: str) -> datetime | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT max(t.time) FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s AND s.device_id = %s",
            (park_id, device_id),
        ).fetchone()
    return row[0] if row else None


def _pending(database_url: str, park_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT pending FROM alarm_state WHERE park_id = %s AND due_at IS NOT NULL", (park_id,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_rules_api(client: TestClient, admin: dict[str, str], database_url: str) -> None:
    park = create_park(client, admin)
    url = f"/api/v1/parks/{park.id}/alarm-rules"
    defaults = client.get(url, headers=admin).json()
    gas = next(r for r in defaults if r["metric"] == "gas_lel_pct")
    assert gas["park_id"] is None and gas["latch"] is True
    assert [lv["threshold"] for lv in gas["levels"]] == [25.0, 50.0]

    toxic = {
        "device_type": "toxic_gas_detector",
        "metric": "concentration_mg_m3",
        "levels": [
            {"severity": "major", "threshold": 10},
            {"severity": "critical", "threshold": 20},
        ],
        "latch": True,
    }
    created = client.post(url, json=toxic, headers=admin)
    assert created.status_code == 201, created.text
    assert client.post(url, json=toxic, headers=admin).status_code == 409
    operator = auth(make_key(database_url, "operator"))
    assert client.post(url, json=toxic, headers=operator).status_code == 403

    def refused(body: dict[str, Any]) -> str:
        response = client.post(url, json={**toxic, **body}, headers=admin)
        assert response.status_code == 422, response.text
        return str(response.json()["detail"])

    assert "level 2 must lie above" in refused(
        {
            "levels": [
                {"severity": "major", "threshold": 20},
                {"severity": "critical", "threshold": 10},
            ]
        }
    )
    assert "more severe" in refused(
        {
            "levels": [
                {"severity": "critical", "threshold": 10},
                {"severity": "major", "threshold": 20},
            ]
        }
    )
    assert "not a metric" in refused({"metric": "gas_lel_pct"})
    assert "no device" in refused({"device_id": "ghost"})

    rule_id = created.json()["id"]
    assert client.delete(f"{url}/{rule_id}", headers=admin).status_code == 204
    assert client.delete(f"{url}/{gas['id']}", headers=admin).status_code == 404  # built-in


def _rule(
    database_url: str, park_id: str, device_type: str, metric: str, kind: str, levels: str
) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO alarm_rule (park_id, device_type, metric, type, levels) "
            "VALUES (%s, %s, %s, %s, %s::jsonb)",
            (park_id, device_type, metric, kind, levels),
        )


def _audit(client: TestClient, headers: dict[str, str], park_id: str, alarm_id: str) -> list[str]:
    detail = client.get(f"/api/v1/parks/{park_id}/alarms/{alarm_id}", headers=headers).json()
    return [event["action"] for event in detail["events"]]


def test_rate_of_change_and_shelving(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
) -> None:
    park = create_park(client, admin)
    url = f"/api/v1/parks/{park.id}/alarm-rules"
    rule = {
        "device_type": "temperature_sensor",
        "metric": "temperature_c",
        "type": "rate_of_change",
        "levels": [{"severity": "minor", "threshold": 30}],  # °C per minute
    }
    assert client.post(url, json=rule, headers=admin).status_code == 201
    negative = {**rule, "levels": [{"severity": "minor", "threshold": -3}]}
    refused = client.post(url, json=negative, headers=admin)
    assert refused.status_code == 422 and "positive speed" in refused.json()["detail"]
    sensor = Device(target, park.id, create_device(client, admin, park.id, "temperature_sensor"))
    try:
        sensor.send(temperature_c=20.0)
        sensor.send(temperature_c=20.2)  # +0.2 °C in a second: 12 °C/min, no alarm
        sensor.send(temperature_c=21.0)  # +0.8 °C in a second: 48 °C/min
        wait_until(lambda: len(alarms(client, admin, park.id)) == 1, 30, "the rate alarm")
    finally:
        sensor.close()
    (alarm,) = alarms(client, admin, park.id)
    assert (alarm["type"], alarm["severity"], alarm["latched"]) == (
        "rate_of_change",
        "minor",
        False,
    )
    assert abs(alarm["value"] - 48.0) < 1e-6 and alarm["threshold"] == 30.0

    base = f"/api/v1/parks/{park.id}/alarms"
    shelve = {"duration_s": 3600, "comment": "sensor next to the oven door, checked"}
    too_long = client.post(
        f"{base}/{alarm['id']}/shelve", json={**shelve, "duration_s": 9 * 3600}, headers=operator
    )
    assert too_long.status_code == 422 and too_long.json()["field"] == "duration_s"
    shelved = client.post(f"{base}/{alarm['id']}/shelve", json=shelve, headers=operator)
    assert shelved.status_code == 200, shelved.text
    assert shelved.json()["shelved_until"] is not None and shelved.json()["active"] is True
    listed = client.get(base, params={"shelved": "exclude"}, headers=admin).json()["items"]
    assert listed == []
    only = client.get(base, params={"shelved": "only"}, headers=admin).json()["items"]
    assert [a["id"] for a in only] == [alarm["id"]]
    summary = client.get(f"{base}/summary", headers=admin).json()
    assert summary["shelved"] == 1 and summary["park"]["minor"] == 0
    assert summary["flood"] == {"active": False, "started_at": None, "held_back": 0}

    unshelved = client.post(f"{base}/{alarm['id']}/unshelve", headers=operator)
    assert unshelved.status_code == 200 and unshelved.json()["shelved_until"] is None
    assert _audit(client, admin, park.id, alarm["id"]) == ["raised", "shelved", "unshelved"]
    assert _types(database_url, park.id) == ["alarm.raised", "alarm.shelved", "alarm.unshelved"]


def test_latched_alarms_cannot_be_shelved_and_shelving_runs_out(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
) -> None:
    park = create_park(client, admin)
    gas = Device(target, park.id, create_device(client, admin, park.id, "gas_detector"))
    humid_rule = '[{"severity": "warning", "threshold": 90}]'
    _rule(database_url, park.id, "temperature_sensor", "humidity_pct", "threshold", humid_rule)
    wet = Device(target, park.id, create_device(client, admin, park.id, "temperature_sensor"))
    try:
        gas.send(gas_lel_pct=30.0)
        wet.send(humidity_pct=95.0)
        wait_until(lambda: len(alarms(client, admin, park.id)) == 2, 30, "both alarms")
    finally:
        gas.close()
        wet.close()
    by_type = {a["metric"]: a for a in alarms(client, admin, park.id)}
    base = f"/api/v1/parks/{park.id}/alarms"
    body = {"duration_s": 1, "comment": "testing"}
    refused = client.post(
        f"{base}/{by_type['gas_lel_pct']['id']}/shelve", json=body, headers=operator
    )
    assert refused.status_code == 409 and "never shelved" in refused.json()["detail"]
    viewer = auth(make_key(database_url, "viewer"))
    humid = by_type["humidity_pct"]["id"]
    assert client.post(f"{base}/{humid}/shelve", json=body, headers=viewer).status_code == 403
    assert client.post(f"{base}/{humid}/shelve", json=body, headers=operator).status_code == 200

    time.sleep(1.1)  # let the one-second shelving run out: the job ends only expired ones
    assert run_shelving(client.app.state.settings) >= 1
    after = client.get(f"{base}/{humid}", headers=admin).json()
    assert after["shelved_until"] is None
    assert [e["action"] for e in after["events"]] == ["raised", "shelved", "unshelved"]
    assert after["events"][-1]["comment"] == "shelving ran out"
    assert _types(database_url, park.id)[-1] == "alarm.unshelved"
