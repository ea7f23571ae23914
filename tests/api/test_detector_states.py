"""Detector and alarm states end to end: readings go through the evaluation the ingestor calls
(``AlarmWriter.apply``, committed), operators set states through the API, the worker's jobs run
as ``parktwin worker`` runs them, and every change is in the audit trails and the outbox.

Thresholds are GB/T 50493-2019 §5.5.2's (DOMAIN.md): oxygen low 19.5 / high 23.5 %VOL; toxic
gases level 1 / level 2 in mg/m³ (H₂S 10/20, CO 20/40, NH₃ 20/40, Cl₂ 1/2, SO₂ 5/10), in ppm
converted as ppm = mg/m³ × 24.45 / M (25 °C, 101.325 kPa).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.alarms import repository as alarm_repository
from app.alarms.detectors import announce_by_design_over, calibration_reminders
from app.alarms.evaluator import AlarmWriter
from app.alarms.rules import RuleBook
from app.core.clock import to_us
from app.core.config import Settings
from app.core.db import create_engine_for
from app.worker.loop import Job
from tests.api.conftest import auth, create_device, create_park, make_key, series_id
from tests.api.worker_util import drain


@pytest.fixture
def operator(database_url: str) -> dict[str, str]:
    return auth(make_key(database_url, "operator"))


@dataclass(frozen=True)
class Readings:
    park_id: str
    device_id: str
    readings: list[tuple[int, str, float]]


_clock = itertools.count(1)
START = datetime.now(UTC) - timedelta(minutes=30)


def feed(
    database_url: str, park: str, device: str, device_type: str, metric: str, *values: float
) -> None:
    """Evaluate readings as the ingestor does after storing them: the newest value goes to
    ``latest_value`` and the readings to ``AlarmWriter.apply``, in one committed transaction.
    Each reading is a second after the one before (a test clock, not the wall clock)."""
    times = [START + timedelta(seconds=next(_clock)) for _ in values]
    with psycopg.connect(database_url, autocommit=True) as conn:
        sid = conn.execute(
            "INSERT INTO series (park_id, device_id, metric) VALUES (%s, %s, %s) "
            "ON CONFLICT (park_id, device_id, metric) DO UPDATE SET metric = excluded.metric "
            "RETURNING id",
            (park, device, metric),
        ).fetchone()
        assert sid is not None
        with conn.transaction():
            conn.execute(
                "INSERT INTO latest_value (series_id, time, value) VALUES (%s, %s, %s) "
                "ON CONFLICT (series_id) DO UPDATE SET time = excluded.time, "
                "value = excluded.value",
                (sid[0], times[-1], values[-1]),
            )
            batch = [
                Readings(
                    park,
                    device,
                    [(to_us(t), metric, v) for t, v in zip(times, values, strict=True)],
                )
            ]
            AlarmWriter(conn, RuleBook()).apply(batch, {(park, device): device_type})


def alarms(client: TestClient, headers: dict[str, str], park: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/parks/{park}/alarms?status=all", headers=headers)
    assert response.status_code == 200, response.text
    return sorted(response.json()["items"], key=lambda a: a["raised_at"])


def audit(client: TestClient, headers: dict[str, str], park: str, alarm_id: str) -> list[Any]:
    detail = client.get(f"/api/v1/parks/{park}/alarms/{alarm_id}", headers=headers).json()
    return [(e["action"], e["comment"]) for e in detail["events"]]


def outbox(database_url: str, park: str) -> list[tuple[str, dict[str, Any]]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT type, data FROM event_outbox WHERE park_id = %s ORDER BY created_at, id",
            (park,),
        ).fetchall()
    return [(str(t), dict(d)) for t, d in rows]


async def _held_back(settings: Settings, park: str) -> list[tuple[str, str, str | None]]:
    """Apply the notification policy to the park's events, as the webhook fan-out does; the
    alarm events with what was held back: (type, alarm id, held_back), in order."""
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    events = text("SELECT id FROM event_outbox WHERE park_id = :p")
    judged = text(
        "SELECT type, data->>'id', held_back FROM event_outbox "
        "WHERE park_id = :p AND type LIKE 'alarm.%' ORDER BY created_at, id"
    )
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as session, session.begin():
            ids = [row[0] for row in await session.execute(events, {"p": park})]
            await alarm_repository.hold_back(session, ids, 10, 600.0)
        async with maker() as session:
            return [(str(t), str(i), h) for t, i, h in await session.execute(judged, {"p": park})]
    finally:
        await engine.dispose()


def held_back(settings: Settings, park: str) -> list[tuple[str, str, str | None]]:
    return asyncio.run(_held_back(settings, park))


def set_state(
    client: TestClient, headers: dict[str, str], park: str, device: str, state: str
) -> dict[str, Any]:
    response = client.put(
        f"/api/v1/parks/{park}/detectors/{device}/state",
        json={"state": state, "comment": f"{state}: 测试"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_oxygen_goes_low_clears_then_goes_high(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin).id
    o2 = str(create_device(client, admin, park, "oxygen_detector")["id"])
    feed(database_url, park, o2, "oxygen_detector", "oxygen_pct_vol", 20.9, 19.0)
    (low,) = alarms(client, admin, park)
    # 19.0 <= 19.5 %VOL: the low side (GB/T 50493-2019 §5.5.2), orange, latching
    assert (low["type"], low["severity"], low["threshold"], low["value"]) == (
        "threshold_low",
        "major",
        19.5,
        19.0,
    )
    assert low["active"] and low["latched"] and low["metric"] == "oxygen_pct_vol"
    feed(database_url, park, o2, "oxygen_detector", "oxygen_pct_vol", 20.9)
    assert alarms(client, admin, park)[0]["active"]  # latched: back to normal, not yet reset
    ack = client.post(f"/api/v1/parks/{park}/alarms/{low['id']}/ack", headers=operator)
    assert ack.status_code == 200 and not ack.json()["active"]
    feed(database_url, park, o2, "oxygen_detector", "oxygen_pct_vol", 23.4, 23.6)
    first, high = alarms(client, admin, park)
    assert first["id"] == low["id"] and not first["active"]
    # 23.4 < 23.5: nothing; 23.6 >= 23.5 %VOL: the high side, a new alarm
    assert (high["type"], high["severity"], high["threshold"], high["value"]) == (
        "threshold_high",
        "major",
        23.5,
        23.6,
    )
    assert [a for a, _c in audit(client, admin, park, low["id"])] == [
        "raised",
        "returned_to_normal",
        "acknowledged",
        "cleared",
    ]
    assert [t for t, _d in outbox(database_url, park)] == [
        "alarm.raised",
        "alarm.acknowledged",
        "alarm.cleared",
        "alarm.raised",
    ]


def test_a_low_limit_must_lie_below_the_high_ones(
    client: TestClient, admin: dict[str, str]
) -> None:
    park = create_park(client, admin).id
    url = f"/api/v1/parks/{park}/alarm-rules"
    rule = {
        "device_type": "oxygen_detector",
        "metric": "oxygen_pct_vol",
        "levels": [{"severity": "major", "threshold": 23.5}],
        "low_levels": [{"severity": "major", "threshold": 24}],
    }
    assert client.post(url, json=rule, headers=admin).status_code == 422
    assert client.post(url, json={**rule, "direction": "below"}, headers=admin).status_code == 422
    rule["low_levels"] = [
        {"severity": "major", "threshold": 19.5},
        {"severity": "critical", "threshold": 18},
    ]
    created = client.post(url, json=rule, headers=admin)
    assert created.status_code == 201, created.text
    assert [lv["threshold"] for lv in created.json()["low_levels"]] == [19.5, 18.0]


def test_toxic_gas_limits_in_ppm_and_mg_follow_the_detectors_gas(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin).id
    gases = client.get(f"/api/v1/parks/{park}/alarm-rules/toxic-gases", headers=admin).json()
    table = {g["gas"]: (g["level1_ppm"], g["level2_ppm"]) for g in gases}
    # by hand: ppm = mg/m³ × 24.45 / M. H₂S (M 34.08): 10 × 24.45 / 34.08 = 7.174,
    # 20 → 14.349; Cl₂ (M 70.90): 1 × 24.45 / 70.90 = 0.345, 2 → 0.690; CO (M 28.01):
    # 20 → 17.458, 40 → 34.916; NH₃ (M 17.03): 20 → 28.714, 40 → 57.428; SO₂ (M 64.06):
    # 5 → 1.908, 10 → 3.817
    assert table == {
        "H2S": (7.174, 14.349),
        "Cl2": (0.345, 0.69),
        "CO": (17.458, 34.916),
        "NH3": (28.714, 57.428),
        "SO2": (1.908, 3.817),
    }
    kind = "toxic_gas_detector"
    h2s = str(create_device(client, admin, park, kind, attributes={"gas": "h2s"})["id"])
    co = str(create_device(client, admin, park, kind, attributes={"gas": "CO"})["id"])
    unknown = str(create_device(client, admin, park, kind)["id"])
    feed(database_url, park, h2s, kind, "concentration_ppm", 7.1, 7.2, 14.4)
    feed(database_url, park, co, kind, "concentration_mg_m3", 19.9, 20.0)
    feed(database_url, park, unknown, kind, "concentration_mg_m3", 100.0)
    found = {(a["device_id"], a["metric"]): a for a in alarms(client, admin, park)}
    assert set(found) == {(h2s, "concentration_ppm"), (co, "concentration_mg_m3")}
    by_ppm = found[(h2s, "concentration_ppm")]
    # 7.1 < 7.174: nothing; 7.2 level 1 (major); 14.4 >= 14.349: escalated to critical
    assert (by_ppm["severity"], by_ppm["threshold"], by_ppm["peak_value"]) == (
        "critical",
        14.349,
        14.4,
    )
    by_mg = found[(co, "concentration_mg_m3")]
    assert (by_mg["severity"], by_mg["threshold"], by_mg["value"]) == ("major", 20.0, 20.0)


def test_out_of_service_records_without_announcing_and_back_in_service_announces(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin).id
    gas = str(create_device(client, admin, park, "gas_detector")["id"])
    state = set_state(client, operator, park, gas, "maintenance")
    assert state["state"] == "maintenance" and state["set_by"] is not None
    listed = client.get(f"/api/v1/parks/{park}/detectors?state=out_of_service", headers=admin)
    assert [d["device_id"] for d in listed.json()["items"]] == [gas]

    # test gas during maintenance: 30 %LEL is level 1, recorded as suppressed
    feed(database_url, park, gas, "gas_detector", "gas_lel_pct", 30.0)
    (first,) = alarms(client, admin, park)
    assert (first["severity"], first["suppressed"], first["active"]) == (
        "major",
        "out_of_service",
        True,
    )
    assert audit(client, admin, park, first["id"]) == [
        ("raised", "suppressed: the detector is out of service")
    ]
    # back to normal: a suppressed alarm does not latch, it clears and closes by itself
    feed(database_url, park, gas, "gas_detector", "gas_lel_pct", 3.0, 55.0)
    first, second = alarms(client, admin, park)
    assert not first["active"] and first["cleared_at"] is not None
    assert (second["severity"], second["suppressed"]) == ("critical", "out_of_service")

    summary = client.get(f"/api/v1/parks/{park}/alarms/summary", headers=admin).json()
    assert (summary["suppressed"], summary["park"]["critical"]) == (1, 0)
    back = set_state(client, operator, park, gas, "in_service")
    assert back["state"] == "in_service" and back["suppressed_alarms"] == 0
    summary = client.get(f"/api/v1/parks/{park}/alarms/summary", headers=admin).json()
    assert (summary["suppressed"], summary["park"]["critical"]) == (0, 1)
    assert [e["state"] for e in back["events"]] == ["maintenance", "in_service"]
    assert all(e["actor"] and e["comment"] for e in back["events"])
    _first, second = alarms(client, admin, park)
    assert second["suppressed"] is None and second["active"]
    assert [a for a, _c in audit(client, admin, park, second["id"])] == ["raised", "unsuppressed"]

    types = [t for t, _d in outbox(database_url, park)]
    assert types == [
        "detector.state_changed",
        "alarm.raised",
        "alarm.cleared",
        "alarm.raised",
        "detector.state_changed",
        "alarm.raised",
    ]
    # what the evaluation raised while out of service is held back; the announcement when
    # the detector is back in service goes out
    assert held_back(settings, park) == [
        ("alarm.raised", first["id"], "suppressed"),
        ("alarm.cleared", first["id"], "suppressed"),
        ("alarm.raised", second["id"], "suppressed"),
        ("alarm.raised", second["id"], None),
    ]
    announced = [
        d for t, d in outbox(database_url, park) if t == "alarm.raised" and d["id"] == second["id"]
    ]
    assert [d["suppressed"] for d in announced] == ["out_of_service", None]


def test_a_fault_raises_detector_fault_until_back_in_service(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
) -> None:
    park = create_park(client, admin).id
    gas = str(create_device(client, admin, park, "gas_detector")["id"])
    meter = str(create_device(client, admin, park)["id"])
    url = f"/api/v1/parks/{park}/detectors"
    body = {"state": "fault", "comment": "传感器漂移"}
    assert client.put(f"{url}/{meter}/state", json=body, headers=operator).status_code == 422
    assert client.put(f"{url}/nobody/state", json=body, headers=operator).status_code == 404
    assert client.put(f"{url}/{gas}/state", json=body, headers=viewer).status_code == 403
    bad = client.put(f"{url}/{gas}/state", json={"state": "broken", "comment": "x"}, headers=admin)
    assert bad.status_code == 422

    set_state(client, operator, park, gas, "fault")
    set_state(client, operator, park, gas, "fault")  # the same state again changes nothing
    (fault,) = alarms(client, admin, park)
    assert (fault["type"], fault["severity"], fault["color"], fault["metric"]) == (
        "detector_fault",
        "minor",
        "yellow",
        None,
    )
    assert fault["suppressed"] is None and fault["active"]
    listed = client.get(url, headers=admin).json()["items"]
    assert [(d["device_id"], d["state"]) for d in listed] == [(gas, "fault")]
    feed(database_url, park, gas, "gas_detector", "gas_lel_pct", 30.0)
    by_type = {a["type"]: a for a in alarms(client, admin, park)}
    assert by_type["threshold"]["suppressed"] == "out_of_service"

    back = set_state(client, operator, park, gas, "in_service")
    assert [e["state"] for e in back["events"]] == ["fault", "in_service"]
    by_type = {a["type"]: a for a in alarms(client, admin, park)}
    fault, reading = by_type["detector_fault"], by_type["threshold"]
    assert not fault["active"] and reading["suppressed"] is None and reading["active"]
    assert client.get(url, headers=admin).json()["items"] == []

    # a fault the detector reports itself, through its `fault` state metric
    feed(database_url, park, gas, "gas_detector", "fault", 0.0, 1.0)
    reported = [a for a in alarms(client, admin, park) if a["metric"] == "fault"]
    assert [(a["type"], a["severity"], a["active"]) for a in reported] == [
        ("detector_fault", "minor", True)
    ]


def _park_today(database_url: str, park: str) -> date:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (now() AT TIME ZONE timezone)::date FROM park WHERE id = %s", (park,)
        ).fetchone()
    assert row is not None
    return date.fromisoformat(str(row[0]))


def test_calibration_due_reminds_then_escalates_and_clears(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin).id
    gas = str(create_device(client, admin, park, "gas_detector")["id"])
    url = f"/api/v1/parks/{park}/detectors/{gas}/calibration"
    today = _park_today(database_url, park)
    job = Job("calibration_reminders", calibration_reminders)

    def due(days: int) -> dict[str, Any]:
        body = {"due_on": (today + timedelta(days=days)).isoformat(), "comment": "检定证书"}
        response = client.put(url, json=body, headers=operator)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    assert due(40)["days_to_calibration"] == 40
    drain(settings, job)
    assert alarms(client, admin, park) == []  # 40 days out: past the 30-day reminder
    due(3)
    drain(settings, job)
    (soon,) = alarms(client, admin, park)
    assert (soon["type"], soon["severity"], soon["color"], soon["value"]) == (
        "calibration_due",
        "warning",
        "blue",
        -3.0,
    )
    due(-2)  # a new date: the old reminder clears, the job raises the new one
    assert not alarms(client, admin, park)[0]["active"]
    drain(settings, job)
    # the same record (open until acknowledged), raised again: two days overdue, minor
    (overdue,) = alarms(client, admin, park)
    assert (overdue["severity"], overdue["value"], overdue["active"], overdue["count"]) == (
        "minor",
        2.0,
        True,
        2,
    )
    assert [a for a, _c in audit(client, admin, park, overdue["id"])] == [
        "raised",
        "cleared",
        "raised",
    ]
    listed = client.get(f"/api/v1/parks/{park}/detectors?state=calibration_due", headers=admin)
    assert [d["days_to_calibration"] for d in listed.json()["items"]] == [-2]
    calibrated = due(365)
    assert [e["calibration_due_on"] for e in calibrated["events"]] == [
        (today + timedelta(days=d)).isoformat() for d in (40, 3, -2, 365)
    ]
    drain(settings, job)
    assert [a["active"] for a in alarms(client, admin, park)] == [False]


def test_suppressed_by_design_is_recorded_and_announced_when_the_condition_ends(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    park = create_park(client, admin).id
    rules = f"/api/v1/parks/{park}/alarm-rules"
    rule = {
        "device_type": "equipment_monitor",
        "metric": "vibration_mm_s",
        "levels": [{"severity": "minor", "threshold": 7.1}],
        "suppress_when": {"metric": "running", "below": 0.5},
    }
    both = {**rule, "suppress_when": {"metric": "running", "below": 0.5, "above": 2}}
    assert client.post(rules, json=both, headers=admin).status_code == 422
    foreign = {**rule, "suppress_when": {"metric": "gas_lel_pct", "below": 1}}
    assert client.post(rules, json=foreign, headers=admin).status_code == 422
    assert client.post(rules, json=rule, headers=admin).status_code == 201

    kind = "equipment_monitor"
    pump = str(create_device(client, admin, park, kind)["id"])
    assert series_id(database_url, park, pump, "running")
    feed(database_url, park, pump, kind, "running", 0.0)  # stopped
    feed(database_url, park, pump, kind, "vibration_mm_s", 9.0)
    (alarm,) = alarms(client, admin, park)
    assert (alarm["suppressed"], alarm["active"]) == ("by_design", True)
    job = Job("alarm_suppression", announce_by_design_over)
    assert drain(settings, job) == 0  # still stopped: still suppressed
    feed(database_url, park, pump, kind, "running", 1.0)  # running again, still vibrating
    assert drain(settings, job) == 1
    (alarm,) = alarms(client, admin, park)
    assert alarm["suppressed"] is None and alarm["active"]
    assert audit(client, admin, park, alarm["id"]) == [
        ("raised", "suppressed by design: the rule's condition holds"),
        ("unsuppressed", "the rule's suppression condition no longer holds"),
    ]
    raised = [d["suppressed"] for t, d in outbox(database_url, park) if t == "alarm.raised"]
    assert raised == ["by_design", None]
