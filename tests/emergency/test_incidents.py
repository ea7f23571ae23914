"""Incidents: opened from critical alarms by the worker job and grouped, the lifecycle and its
rules, tasks from response plans, the on-duty roster, report deadlines, drills kept apart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine_for
from app.emergency.repository import unlinked_critical_alarms
from tests.api.conftest import auth, create_park, make_key
from tests.emergency.support import (
    LAT,
    LON,
    FixturePark,
    fixture_park,
    incidents,
    offset,
    outbox_types,
    run_incident_job,
    run_report_job,
)


@pytest.fixture
def park(client: TestClient, admin: dict[str, str], database_url: str) -> FixturePark:
    return fixture_park(client, admin, database_url)


def open_incident(
    client: TestClient, headers: dict[str, str], park_id: str, **body: Any
) -> dict[str, Any]:
    body.setdefault("type", "gas_leak")
    body.setdefault("location", {"lon": LON, "lat": LAT})
    response = client.post(f"/api/v1/parks/{park_id}/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def detail(client: TestClient, headers: dict[str, str], park_id: str, iid: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/parks/{park_id}/incidents/{iid}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def set_status(
    client: TestClient, headers: dict[str, str], park_id: str, iid: str, **body: Any
) -> Any:
    return client.post(
        f"/api/v1/parks/{park_id}/incidents/{iid}/status", json=body, headers=headers
    )


def test_near_alarms_group_into_one_incident_and_far_or_late_ones_do_not(
    client: TestClient, viewer: dict[str, str], park: FixturePark, settings: Settings
) -> None:
    t0 = datetime.now(UTC) - timedelta(minutes=40)
    g1, g2 = park.device("gas_detector", 10, 0), park.device("gas_detector", 0, 60)
    far, late = park.device("gas_detector", 1000, 0), park.device("gas_detector", 0, -100)
    smoke = park.device("smoke_detector", 20, 0)
    a1 = park.alarm(g1, "gas_lel_pct", t0)
    a2 = park.alarm(g2, "gas_lel_pct", t0 + timedelta(minutes=2))
    a3 = park.alarm(far, "gas_lel_pct", t0 + timedelta(minutes=1))
    a4 = park.alarm(late, "gas_lel_pct", t0 + timedelta(minutes=30))
    a5 = park.alarm(smoke, "smoke", t0 + timedelta(minutes=1))

    assert run_incident_job(settings) >= 5
    assert run_incident_job(settings) == 0  # every alarm is taken once

    found = sorted(incidents(client, viewer, park.id), key=lambda i: i["opened_at"])
    groups = sorted(sorted(i["alarm_ids"]) for i in found)
    assert groups == sorted([sorted([a1, a2]), [a3], [a4], [a5]])
    assert len(found) == 4
    first = next(i for i in found if a1 in i["alarm_ids"])
    assert first["type"] == "gas_leak" and first["source"] == "alarm"
    assert (first["location"]["lon"], first["location"]["lat"]) == pytest.approx(offset(10, 0))
    assert next(i for i in found if a5 in i["alarm_ids"])["type"] == "fire"
    timeline = [e["action"] for e in detail(client, viewer, park.id, first["id"])["timeline"]]
    assert timeline == ["opened", "alarm_linked", "alarm_linked"]
    types = [t for t, _ in outbox_types(park.database_url, park.id)]
    assert types.count("incident.opened") == 4


def test_an_alarm_of_a_closed_incident_opens_a_new_one_and_a_drill_never_takes_alarms(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    park: FixturePark,
    settings: Settings,
) -> None:
    drill = open_incident(client, admin, park.id, drill=True)
    g1 = park.device("gas_detector", 5, 5)
    alarm = park.alarm(g1, "gas_lel_pct", datetime.now(UTC))
    run_incident_job(settings)
    real = incidents(client, viewer, park.id)
    assert [i["alarm_ids"] for i in real] == [[alarm]]
    assert detail(client, viewer, park.id, drill["id"])["alarm_ids"] == []


def test_lifecycle_forward_only_and_no_close_with_open_critical_tasks(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    park: FixturePark,
) -> None:
    incident = open_incident(client, operator, park.id, description="smell of gas at A")
    iid, pid = incident["id"], park.id
    assert incident["status"] == "reported" and incident["level"] == "orange"
    tasks = detail(client, operator, pid, iid)["tasks"]
    assert len(tasks) == 5 and sum(t["critical"] for t in tasks) == 4

    assert set_status(client, operator, pid, iid, status="responding").status_code == 200
    assert set_status(client, operator, pid, iid, status="responding").status_code == 409
    refused = set_status(client, operator, pid, iid, status="closed")
    assert refused.status_code == 409
    assert len(refused.json()["open_critical_tasks"]) == 4
    forced = set_status(client, operator, pid, iid, status="closed", force=True)
    assert forced.status_code == 403  # only an admin may force

    url = f"/api/v1/parks/{pid}/incidents/{iid}/tasks"
    for task in tasks:
        body = {"status": "done", "assignee": "张三"} if task["critical"] else {"assignee": "李四"}
        response = client.patch(f"{url}/{task['id']}", json=body, headers=operator)
        assert response.status_code == 200, response.text
    level = client.patch(
        f"/api/v1/parks/{pid}/incidents/{iid}", json={"level": "red"}, headers=operator
    )
    assert level.json()["level"] == "red"
    closed = set_status(client, operator, pid, iid, status="closed", comment="done")
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and not body["forced_close"]
    assert body["closed_at"] and body["responding_at"]
    assert client.patch(f"{url}/{tasks[0]['id']}", json={}, headers=operator).status_code == 409
    assert set_status(client, admin, pid, iid, status="closed").status_code == 409

    actions = [(e["action"], e["actor"]) for e in body["timeline"]]
    assert actions[0][0] == "opened"
    assert [a for a, _ in actions].count("task_updated") == 5
    assert ("level_changed", actions[0][1]) in actions
    changes = [e["detail"] for e in body["timeline"] if e["action"] == "status_changed"]
    assert [(c["from"], c["to"]) for c in changes] == [
        ("reported", "responding"),
        ("responding", "closed"),
    ]
    types = [t for t, _ in outbox_types(park.database_url, pid)]
    assert types[0] == "incident.opened" and types[-1] == "incident.closed"
    assert "incident.updated" in types


def test_an_admin_may_force_a_close_and_it_is_recorded(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], park: FixturePark
) -> None:
    iid = open_incident(client, operator, park.id)["id"]
    response = set_status(client, admin, park.id, iid, status="closed", force=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forced_close"] is True
    last = body["timeline"][-1]
    assert last["action"] == "status_changed" and last["detail"]["forced"] is True
    assert len(last["detail"]["open_critical_tasks"]) == 4
    closed = [d for t, d in outbox_types(park.database_url, park.id) if t == "incident.closed"]
    assert closed[0]["forced_close"] is True


def test_drills_are_kept_apart_in_lists_and_statistics(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], database_url: str
) -> None:
    pid = create_park(client, admin).id
    real = [open_incident(client, operator, pid) for _ in range(2)]
    fire = open_incident(client, operator, pid, type="fire", level="yellow")
    drill = open_incident(client, operator, pid, drill=True, level="red")
    assert drill["drill"] is True
    assert set_status(client, operator, pid, real[0]["id"], status="responding").status_code == 200
    assert set_status(client, admin, pid, drill["id"], status="closed", force=True).is_success

    listed = {i["id"] for i in incidents(client, operator, pid)}
    assert listed == {real[0]["id"], real[1]["id"], fire["id"]}
    assert [i["id"] for i in incidents(client, operator, pid, drill="true")] == [drill["id"]]
    assert {i["id"] for i in incidents(client, operator, pid, status="open")} == listed

    url = f"/api/v1/parks/{pid}/incidents/stats"
    stats = client.get(url, headers=operator).json()
    assert stats["total"] == 3 and stats["drill"] is False
    assert stats["by_type"] == {"gas_leak": 2, "fire": 1}
    assert stats["by_status"] == {"reported": 2, "responding": 1}
    assert stats["by_level"] == {"orange": 2, "yellow": 1}
    assert stats["mean_seconds_to_closed"] is None
    drills = client.get(url, params={"drill": "true"}, headers=operator).json()
    assert drills["total"] == 1 and drills["by_status"] == {"closed": 1}
    assert drills["by_level"] == {"red": 1} and drills["mean_seconds_to_closed"] is not None
    events = outbox_types(database_url, pid)
    assert [d["drill"] for t, d in events if d["id"] == drill["id"]] == [True, True]


def test_report_deadline_counts_down_and_report_due_is_sent_once(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    pid = create_park(client, admin).id
    rule = {"incident_type": "gas_leak", "radii_m": [100, 300], "report_deadline_s": 600,
            "report_warn_s": 900, "trigger_device_type": "gas_detector",
            "trigger_metric": "gas_lel_pct"}  # fmt: skip
    created = client.post(f"/api/v1/parks/{pid}/emergency/settings", json=rule, headers=admin)
    assert created.status_code == 201, created.text
    in_force = client.get(f"/api/v1/parks/{pid}/emergency/settings", headers=operator).json()
    deadlines = {r["incident_type"]: r["report_deadline_s"] for r in in_force}
    assert deadlines["gas_leak"] == 600 and deadlines["fire"] == 3600
    # only an accident (casualties or loss) has the regulator's clock; a 险情 none
    hazard = open_incident(client, operator, pid)
    assert hazard["report_seconds_left"] is None
    injured = {"casualties": {"minor_injuries": 1}}
    incident = open_incident(client, operator, pid, **injured)
    assert 0 < incident["report_seconds_left"] <= 600
    other = create_park(client, admin).id
    calm = open_incident(client, operator, other, **injured)  # the default: 1 h, warned 15 min
    assert 3000 < calm["report_seconds_left"] <= 3600

    run_report_job(settings)
    assert run_report_job(settings) == 0
    due = [d for t, d in outbox_types(database_url, pid) if t == "incident.report_due"]
    assert len(due) == 1 and due[0]["id"] == incident["id"] and 0 < due[0]["seconds_left"] <= 600
    assert not [t for t, _ in outbox_types(database_url, other) if t == "incident.report_due"]

    url = f"/api/v1/parks/{pid}/incidents/{incident['id']}/report"
    reported = client.post(url, json={"comment": "phoned the county office"}, headers=operator)
    assert reported.status_code == 200, reported.text
    body = reported.json()
    assert body["reported_at"] and body["report_seconds_left"] is None
    actions = [e["action"] for e in body["timeline"]]
    assert actions == ["opened", "casualties_changed", "report_due", "reported"]


def test_plans_by_level_become_tasks_and_the_roster_goes_into_the_events(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], database_url: str
) -> None:
    pid = create_park(client, admin).id
    tasks = [{"title": "Evacuate 300 m", "critical": True}, {"title": "Notify tenants"}]
    plan = {"incident_type": "gas_leak", "level": "red", "name": "红色预警预案", "tasks": tasks}
    assert client.post(f"/api/v1/parks/{pid}/emergency/plans", json=plan, headers=admin).is_success
    now = datetime.now(UTC)
    shift = {"name": "王五", "role": "值班长", "phone": "13800000000",
             "starts_at": (now - timedelta(hours=1)).isoformat(),
             "ends_at": (now + timedelta(hours=7)).isoformat()}  # fmt: skip
    later = {**shift, "name": "赵六", "starts_at": (now + timedelta(hours=8)).isoformat(),
             "ends_at": (now + timedelta(hours=16)).isoformat()}  # fmt: skip
    for body in (shift, later):
        response = client.post(f"/api/v1/parks/{pid}/emergency/roster", json=body, headers=admin)
        assert response.status_code == 201, response.text

    red = open_incident(client, operator, pid, level="red")
    red_tasks = detail(client, operator, pid, red["id"])["tasks"]
    assert [(t["title"], t["critical"]) for t in red_tasks] == [
        ("Evacuate 300 m", True),
        ("Notify tenants", False),
    ]
    orange = open_incident(client, operator, pid)
    assert len(detail(client, operator, pid, orange["id"])["tasks"]) == 5  # the default plan

    opened = [d for t, d in outbox_types(database_url, pid) if t == "incident.opened"]
    assert opened[0]["on_duty"] == [{"name": "王五", "role": "值班长", "phone": "13800000000"}]
    first = detail(client, operator, pid, red["id"])["timeline"][0]
    assert first["detail"]["on_duty"][0]["name"] == "王五"
    plans = client.get(f"/api/v1/parks/{pid}/emergency/plans", headers=operator).json()
    assert {(p["incident_type"], p["level"]) for p in plans} >= {("gas_leak", "red")}


def test_unknown_type_and_bad_bodies_are_refused(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    pid = create_park(client, admin).id
    operator = auth(make_key(database_url, "operator"))
    url = f"/api/v1/parks/{pid}/incidents"
    body = {"type": "meteor", "location": {"lon": LON, "lat": LAT}}
    assert client.post(url, json=body, headers=operator).status_code == 422
    body = {"type": "gas_leak", "location": {"lon": 200, "lat": LAT}}
    assert client.post(url, json=body, headers=operator).status_code == 422
    viewer = auth(make_key(database_url, "viewer"))
    body = {"type": "gas_leak", "location": {"lon": LON, "lat": LAT}}
    assert client.post(url, json=body, headers=viewer).status_code == 403


def test_a_park_held_by_another_worker_is_left_to_it(
    client: TestClient, viewer: dict[str, str], park: FixturePark, settings: Settings
) -> None:
    """Two workers never group one park at once: while another transaction holds the park's
    advisory lock, the job leaves its alarms; once released, the next round takes them."""
    alarm = park.alarm(park.device("gas_detector", 0, 0), "gas_lel_pct", datetime.now(UTC))
    with psycopg.connect(park.database_url) as other:
        other.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('incident:' || %s, 0))", (park.id,)
        )
        run_incident_job(settings)
        assert incidents(client, viewer, park.id) == []
    run_incident_job(settings)
    assert [i["alarm_ids"] for i in incidents(client, viewer, park.id)] == [[alarm]]


def test_a_park_that_turns_auto_open_off_leaves_its_alarms_out_of_the_queue(
    client: TestClient, admin: dict[str, str], park: FixturePark, settings: Settings
) -> None:
    """Its own rule (no trigger) wins over the default: the worker neither links its gas
    alarms nor takes them up again every round."""
    off = {"incident_type": "gas_leak", "radii_m": [50, 150, 300]}
    response = client.post(f"/api/v1/parks/{park.id}/emergency/settings", json=off, headers=admin)
    assert response.status_code == 201, response.text
    alarm = park.alarm(park.device("gas_detector", 5, 5), "gas_lel_pct", datetime.now(UTC))

    async def queued() -> list[str]:
        engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
        try:
            async with async_sessionmaker(engine)() as session:
                rows = await unlinked_critical_alarms(session, 10_000)
                return [str(r["id"]) for r in rows]
        finally:
            await engine.dispose()

    run_incident_job(settings)
    assert alarm not in asyncio.run(queued())
    assert incidents(client, admin, park.id) == []
