"""The platform's own outage is not the devices' outage: offline detection counts a device's
silence only while ingest was up and subscribed (``ingest_coverage``), plus a grace period.

Time is moved by rewriting the stored times (a device's last reading, the start of coverage),
never by waiting for the wall clock; heartbeats are short so a killed ingestor is noticed soon.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from app.alarms.jobs import detect_offline
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from app.worker.loop import Job
from ingest.coverage import CoverageBeacon
from tests.api.conftest import create_device, create_park
from tests.api.test_alarms import Device, _newest, alarms
from tests.api.worker_util import drain
from tests.conftest import ServiceEnv
from tests.ingest_support import Ingestor, scalar, wait_until

BEAT = timedelta(milliseconds=200)


def _covered_since(database_url: str, client_id: str) -> object:
    return scalar(
        database_url,
        "SELECT covered_since FROM ingest_coverage WHERE client_id = %s",
        client_id,
    )


def _execute(database_url: str, sql: str, *params: object) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql, params)


def test_a_gap_the_platform_caused_raises_no_device_offline(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    services: ServiceEnv,
    settings: Settings,
) -> None:
    park = create_park(client, admin)
    meter = Device(
        MqttTarget.from_url(services.mqtt_url), park.id, create_device(client, admin, park.id)
    )
    ingest = Ingestor(database_url, services.mqtt_url)
    ingest.env["PARKTWIN_INGEST_LAST_SEEN_RESOLUTION"] = "PT0S"
    ingest.env["PARKTWIN_INGEST_HEARTBEAT_INTERVAL"] = "PT0.2S"
    client_id = f"{ingest.env['PARKTWIN_INGEST_CLIENT_ID']}-0"
    # the worker's side: the same heartbeat, no grace (only listening time counts here)
    job_settings = settings.model_copy(
        update={"ingest_heartbeat_interval": BEAT, "offline_grace": timedelta(0)}
    )
    offline = Job("offline", detect_offline)
    device_url = f"/api/v1/parks/{park.id}/devices/{meter.id}"

    def offline_alarms() -> list[str]:
        return [a["device_id"] for a in alarms(client, admin, park.id, "all")]

    def heard() -> bool:
        meter.send(power_kw=1.0)
        return client.get(device_url, headers=admin).json()["status"] == "online"

    ingest.start()
    try:
        wait_until(heard, 30, "the meter heard")
        wait_until(lambda: _covered_since(database_url, client_id) is not None, 30, "coverage")

        # ingest dies (no clean stop): its heartbeat goes stale, nobody is listening
        assert ingest.process is not None
        ingest.process.kill()
        ingest.process.wait()
        wait_until(
            lambda: bool(
                scalar(
                    database_url,
                    "SELECT heartbeat_at < now() - interval '0.6 s' FROM ingest_coverage "
                    "WHERE client_id = %s",
                    client_id,
                )
            ),
            30,
            "a stale heartbeat",
        )
        # an hour passes with ingest down: the meter's last reading is an hour old, far past
        # its 15-minute reporting timeout
        _execute(
            database_url,
            "UPDATE device SET last_seen_at = now() - interval '1 hour' "
            "WHERE park_id = %s AND id = %s",
            park.id,
            meter.id,
        )
        drain(job_settings, offline)
        assert offline_alarms() == []

        # ingest back: listening starts now; the meter has its timeout (and the grace) to speak
        restarted_at = scalar(database_url, "SELECT now()")
        ingest.start()
        wait_until(
            lambda: bool(
                scalar(
                    database_url,
                    "SELECT covered_since > %s FROM ingest_coverage WHERE client_id = %s",
                    restarted_at,
                    client_id,
                )
            ),
            30,
            "coverage again",
        )
        # whatever the broker redelivers to the new ingestor is stored before the next reading
        # (one worker keeps order); then the meter is as silent as before the restart
        meter.send(power_kw=2.0)
        last = datetime.fromtimestamp((meter.t0 + meter.n * 1000) / 1000, UTC)
        wait_until(lambda: _newest(database_url, park.id, meter.id) == last, 30, "the backlog")
        _execute(
            database_url,
            "UPDATE device SET last_seen_at = now() - interval '1 hour' "
            "WHERE park_id = %s AND id = %s",
            park.id,
            meter.id,
        )
        drain(job_settings, offline)
        assert offline_alarms() == []
        assert client.get(device_url, headers=admin).json()["status"] == "online"

        # the same silence while ingest listened through it: that is the meter's outage
        _execute(
            database_url,
            "UPDATE ingest_coverage SET covered_since = covered_since - interval '1 hour' "
            "WHERE client_id = %s",
            client_id,
        )
        drain(job_settings, offline)
        (alarm,) = alarms(client, admin, park.id, "all")
        assert (alarm["device_id"], alarm["type"], alarm["severity"]) == (
            meter.id,
            "device_offline",
            "minor",
        )
        # seconds silent while listening: from the later of the last reading (an hour ago)
        # and the start of coverage (an hour and a few seconds ago); past the 900 s timeout
        assert alarm["value"] >= 3600 and alarm["threshold"] == 900
        assert client.get(device_url, headers=admin).json()["status"] == "offline"

        ingest.stop()  # a clean stop ends the coverage at once
        assert _covered_since(database_url, client_id) is None
    finally:
        ingest.stop()
        meter.close()


def test_the_beacon_restarts_coverage_after_a_lost_subscription(database_url: str) -> None:
    client_id = f"beacon-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    beacon = CoverageBeacon(database_url, client_id, BEAT, BEAT * 3, stop)
    try:
        beacon.beat()
        assert _covered_since(database_url, client_id) is None  # not subscribed yet
        beacon.subscribed(True)
        beacon.beat()
        first = _covered_since(database_url, client_id)
        assert first is not None
        beacon.beat()
        assert _covered_since(database_url, client_id) == first  # unbroken: unchanged
        beacon.subscribed(False)  # the broker went away
        beacon.beat()
        assert _covered_since(database_url, client_id) is None
        beacon.subscribed(True)
        beacon.beat()
        again = _covered_since(database_url, client_id)
        assert again is not None and again != first
        # a gap in the heartbeats (ingest frozen, its database away) restarts it as well
        _execute(
            database_url,
            "UPDATE ingest_coverage SET heartbeat_at = heartbeat_at - interval '1 hour', "
            "covered_since = covered_since - interval '1 hour' WHERE client_id = %s",
            client_id,
        )
        beacon.beat()
        after_gap = _covered_since(database_url, client_id)
        assert isinstance(after_gap, datetime) and isinstance(again, datetime)
        assert after_gap > again
    finally:
        stop.set()
        beacon.wake()
        beacon.end()
    assert _covered_since(database_url, client_id) is None
