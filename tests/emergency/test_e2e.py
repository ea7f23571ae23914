"""The gas-leak scenario end to end on the hand-laid fixture park: detectors made through the
API publish rising %LEL over MQTT, the ingestor raises and escalates their alarms, the worker
(``parktwin worker`` as a process) opens exactly one incident for the event, and its impact
zones hold the buildings and people counted by hand (support.FixturePark)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.mqtt import MqttTarget
from tests.api.conftest import create_device
from tests.api.test_alarms import Device, alarms
from tests.emergency.support import FixturePark, fixture_park, incidents, offset, outbox_types
from tests.emergency.test_impact import impact, names
from tests.ingest_support import ROOT, Ingestor, stop_process, wait_until


@pytest.fixture
def worker(database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")} | {
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_WORKER_INTERVAL": "PT0.5S",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        stop_process(process)


POINTS = ((10, 0), (0, 40), (-30, 0))
"""Detectors within 50 m of each other; the incident opens at whichever alarm came first,
and from any of them the inner zone holds only A and the outer one A and B (by hand)."""


def detector(
    client: TestClient, admin: dict[str, str], target: MqttTarget, park: str, at: tuple[int, int]
) -> Device:
    lon, lat = offset(*at)
    created = create_device(client, admin, park, "gas_detector", location={"lon": lon, "lat": lat})
    return Device(target, park, created)


def test_gas_leak_opens_one_incident_with_the_hand_checked_zones(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    target: MqttTarget,
    ingestor: Ingestor,
    worker: subprocess.Popen[bytes],
) -> None:
    park: FixturePark = fixture_park(client, admin, database_url)
    detectors = [detector(client, admin, target, park.id, at) for at in POINTS]
    try:
        for level in (3.0, 12.0, 28.0, 41.0, 55.0, 63.0):
            for d in detectors:
                d.send(gas_lel_pct=level)

        def critical() -> bool:
            found = alarms(client, operator, park.id, "active")
            return sum(a["severity"] == "critical" for a in found) == len(detectors)

        wait_until(critical, 30, "three critical gas alarms")

        def linked() -> bool:
            found = incidents(client, operator, park.id)
            return sum(len(i["alarm_ids"]) for i in found) == len(detectors)

        wait_until(linked, 30, "the worker to link the alarms")
    finally:
        for d in detectors:
            d.close()

    (incident,) = incidents(client, operator, park.id)
    assert incident["type"] == "gas_leak" and incident["source"] == "alarm"
    assert incident["level"] == "orange" and incident["status"] == "reported"
    alarm_ids = {a["id"] for a in alarms(client, operator, park.id, "active")}
    assert set(incident["alarm_ids"]) == alarm_ids
    # a gas alarm is a 险情: the park's response clock runs, the regulator's does not
    assert incident["category"] == "hazard" and incident["report_seconds_left"] is None
    assert incident["response_due_at"] is not None and incident["response_overdue"] is False
    source = (incident["location"]["lon"], incident["location"]["lat"])
    assert any(source == pytest.approx(offset(*p)) for p in POINTS)

    body: Any = impact(client, operator, park, incident["id"])
    inner, outer = body["zones"]
    assert names(park, inner["buildings"], "building") == ["A"]
    assert names(park, outer["buildings"], "building") == ["A", "B"]
    assert (inner["people"], outer["people"]) == (120, 180)
    assert {d["id"] for d in inner["devices"]} == {d.id for d in detectors}
    assert all(d["latest"]["gas_lel_pct"]["value"] == 63.0 for d in inner["devices"])

    types = [t for t, _ in outbox_types(database_url, park.id)]
    assert types.count("incident.opened") == 1
    assert types.count("incident.updated") == len(detectors)  # one per linked alarm
