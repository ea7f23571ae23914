"""Major hazard sources through the API (GB 18218-2018: Σq/Q, α, R, level, by hand), on the
map and in impact analysis; a toxic release's ERG corridor in a measured wind; drills of plans
with their approver and review date."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.emergency.support import FixturePark, fixture_park, offset
from tests.emergency.test_impact import impact
from tests.emergency.test_incidents import open_incident


@pytest.fixture
def park(client: TestClient, admin: dict[str, str], database_url: str) -> FixturePark:
    return fixture_park(client, admin, database_url)


def source_body(id_: str, east: float, north: float, **extra: Any) -> dict[str, Any]:
    lon, lat = offset(east, north)
    body = {
        "id": id_,
        "name": f"{id_} 储罐区",
        "unit_kind": "storage",
        "location": {"lon": lon, "lat": lat},
        "exposed_population": 60,
        "inventory": [
            {"chemical": "chlorine", "quantity_t": 20},
            {"chemical": "ammonia", "quantity_t": 5},
        ],
    }
    return body | extra


def create_source(
    client: TestClient, admin: dict[str, str], park: FixturePark, body: dict[str, Any]
) -> Any:
    response = client.post(f"/api/v1/parks/{park.id}/hazard-sources", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_hazard_source_assessed_by_hand_and_replaced(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], park: FixturePark
) -> None:
    catalogue = client.get(f"/api/v1/parks/{park.id}/emergency/chemicals", headers=viewer).json()
    chlorine = next(c for c in catalogue if c["chemical"] == "chlorine")
    assert "GB 18218-2018" in chlorine["source"]
    q_cl, b_cl = chlorine["critical_t"], chlorine["beta"]
    body = create_source(client, admin, park, source_body("T1", 50, 0))
    # GB 18218-2018: chlorine Q 5 t, β 4; ammonia Q 10 t, β 2; 60 people: α 1.5 (Table 5)
    assert (q_cl, b_cl) == (5, 4)
    a = body["assessment"]
    assert a["sum_ratio"] == pytest.approx(20 / 5 + 5 / 10)  # 4.5
    assert a["is_major"] and a["alpha"] == 1.5
    assert a["r"] == pytest.approx(1.5 * (4 * 20 / 5 + 2 * 5 / 10))  # 25.5
    assert (a["level"], a["level_zh"]) == (3, "三级")
    assert [i["beta_ratio"] for i in body["inventory"]] == pytest.approx([1.0, 16.0])
    # 150 people (α 2.0) and 62.5 t chlorine: R = 2 × 4 × 12.5 = 100: 一级 on the bound
    more = source_body("T1", 50, 0, exposed_population=150,
                       inventory=[{"chemical": "chlorine", "quantity_t": 62.5}])  # fmt: skip
    url = f"/api/v1/parks/{park.id}/hazard-sources/T1"
    replaced = client.put(url, json=more, headers=admin)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["assessment"]["r"] == pytest.approx(100.0)
    assert replaced.json()["assessment"]["level"] == 1
    again = client.post(f"/api/v1/parks/{park.id}/hazard-sources", json=more, headers=admin)
    assert again.status_code == 409
    denied = client.put(url, json=more, headers=viewer)
    assert denied.status_code == 403


def test_unknown_chemical_needs_its_own_q_beta_and_basis(
    client: TestClient, admin: dict[str, str], park: FixturePark
) -> None:
    odd = source_body("T2", 0, 0, inventory=[{"chemical": "toluene", "quantity_t": 600}])
    url = f"/api/v1/parks/{park.id}/hazard-sources"
    refused = client.post(url, json=odd, headers=admin)
    assert refused.status_code == 422 and "toluene" in refused.text
    own = {"chemical": "toluene", "quantity_t": 600, "critical_t": 500, "beta": 1,
           "basis": "GB 18218-2018 Table 2 W5.3; Table 4"}  # fmt: skip
    body = create_source(client, admin, park, odd | {"inventory": [own]})
    # 600/500 = 1.2 ≥ 1: major; R = 1.5 × 1 × 1.2 = 1.8: 四级
    assert body["assessment"]["r"] == pytest.approx(1.8) and body["assessment"]["level"] == 4
    assert body["inventory"][0]["source"].startswith("GB 18218-2018 Table 2")
    small = source_body("T3", 0, 0, inventory=[{"chemical": "chlorine", "quantity_t": 4}])
    below = create_source(client, admin, park, small)["assessment"]
    assert below["is_major"] is False and below["r"] is None  # 4/5 = 0.8 < 1
    duplicate = odd | {"id": "T4", "inventory": [own, own]}
    assert client.post(url, json=duplicate, headers=admin).status_code == 422


def test_hazard_sources_on_the_map_and_in_the_zones(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], park: FixturePark
) -> None:
    near = create_source(client, admin, park, source_body("H-near", 50, 0))
    create_source(client, admin, park, source_body("H-mid", 0, 200))
    create_source(client, admin, park, source_body("H-far", 1000, 0))
    features = client.get(f"/api/v1/parks/{park.id}/map", headers=operator).json()["features"]
    shown = {
        f["properties"]["id"]: f for f in features if f["properties"]["kind"] == "hazard_source"
    }
    assert sorted(shown) == ["H-far", "H-mid", "H-near"]
    assert shown["H-near"]["properties"]["status"] == "major"
    assert shown["H-near"]["properties"]["level"] == near["assessment"]["level"]
    assert shown["H-near"]["geometry"]["coordinates"] == pytest.approx(
        [near["location"]["lon"], near["location"]["lat"]]
    )
    incident = open_incident(client, operator, park.id)  # gas leak: 100 m and 300 m, no wind
    inner, outer = impact(client, operator, park, incident["id"])["zones"]
    assert [h["id"] for h in inner["hazard_sources"]] == ["H-near"]
    assert [h["id"] for h in outer["hazard_sources"]] == ["H-near", "H-mid"]
    assert outer["hazard_sources"][1]["distance_m"] == pytest.approx(200.0, abs=0.5)
    assert outer["hazard_sources"][0]["r"] == pytest.approx(25.5)
    assert "ERG 2024 Guide 115" in inner["source"]


def weather_station(park: FixturePark, from_deg: float, speed_m_s: float) -> None:
    """A park-defined weather device reporting wind direction and speed now, far away."""
    type_ = f"weather_{uuid.uuid4().hex[:8]}"
    park.sql("INSERT INTO device_type (type, domain, park_id) VALUES (%s, 'environment', %s)",
             type_, park.id)  # fmt: skip
    for metric, unit in (("wind_direction_deg", "°"), ("wind_speed_m_s", "m/s")):
        park.sql("INSERT INTO device_type_metric (device_type, name, unit, kind) "
                 "VALUES (%s, %s, %s, 'gauge')", type_, metric, unit)  # fmt: skip
    device = park.device(type_, -9000.0, -9000.0)
    now = datetime.now(UTC)
    park.reading(device, "wind_direction_deg", from_deg, now)
    park.reading(device, "wind_speed_m_s", speed_m_s, now)


def test_toxic_corridor_reach_in_a_west_wind_of_4_m_s(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], park: FixturePark
) -> None:
    """Chlorine, large spill, by day, wind from the west (270°) at 4 m/s = 14.4 km/h: ERG
    Table 3's moderate band. The protective square runs PAD east of the source, PAD/2 either
    side; a hazard source 3000 m east is reached (the plume takes 3000 / 4 = 750 s), one 3000 m
    west is not (upwind, beyond the isolation circle)."""
    weather_station(park, 270.0, 4.0)
    create_source(client, admin, park, source_body("east", 3000, 0))
    create_source(client, admin, park, source_body("west", -3000, 0))
    ((isolation, protective, source),) = park.sql(
        "SELECT isolation_m, protective_m, source FROM toxic_zone_default WHERE park_id IS NULL "
        "AND chemical = 'chlorine' AND spill_size = 'large' AND period = 'day' "
        "AND wind_band = 'moderate'"
    )
    assert protective > 3000 + 100 and isolation < 3000  # the seeded distances fit the test
    tz = ZoneInfo("Asia/Shanghai")
    day = (datetime.now(tz) - timedelta(days=1)).replace(hour=10, minute=0, second=0)
    incident = open_incident(client, operator, park.id, type="toxic_release",
                             chemical="chlorine", spill_size="large",
                             learned_at=day.isoformat())  # fmt: skip
    body = impact(client, operator, park, incident["id"])
    assert body["wind"]["speed_m_s"] == 4.0 and body["wind"]["band"] == "moderate"
    inner, outer = body["zones"]
    assert (inner["shape"], inner["radius_m"], inner["downwind_reach_m"]) == (
        "circle", isolation, isolation,
    )  # fmt: skip
    assert outer["shape"] == "corridor" and outer["downwind_reach_m"] == protective
    assert source in outer["source"] and "moderate" in outer["source"]
    assert inner["hazard_sources"] == []
    (east,) = outer["hazard_sources"]
    assert east["id"] == "east" and east["arrival_s"] == pytest.approx(750.0, abs=1.0)


def test_an_alarm_toxic_release_gets_its_chemical_later(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], park: FixturePark
) -> None:
    """Opened without a chemical: the type's radii (100 m, 800 m); once the operator names
    it, ERG's zones (by day or night and wind band; no wind known: a circle)."""
    incident = open_incident(client, operator, park.id, type="toxic_release")
    inner, outer = impact(client, operator, park, incident["id"])["zones"]
    assert (inner["radius_m"], outer["radius_m"]) == (100.0, 800.0)
    url = f"/api/v1/parks/{park.id}/incidents/{incident['id']}"
    changed = client.patch(url, json={"chemical": "ammonia", "spill_size": "small"},
                           headers=operator)  # fmt: skip
    assert changed.status_code == 200, changed.text
    event = changed.json()["timeline"][-1]
    assert event["action"] == "facts_changed" and event["detail"]["chemical"]["to"] == "ammonia"
    _inner, outer = impact(client, operator, park, incident["id"])["zones"]
    assert "UN1005" in outer["source"] and outer["shape"] == "circle"
    bad = client.patch(url, json={"chemical": "unobtainium"}, headers=operator)
    assert bad.status_code == 422


def test_calm_wind_makes_the_protective_zone_a_circle(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], park: FixturePark
) -> None:
    weather_station(park, 270.0, 0.2)  # calm: the direction cannot be trusted
    create_source(client, admin, park, source_body("west", -3000, 0))
    incident = open_incident(client, operator, park.id, type="toxic_release",
                             chemical="chlorine", spill_size="large")  # fmt: skip
    _inner, outer = impact(client, operator, park, incident["id"])["zones"]
    assert outer["shape"] == "circle"
    assert [h["id"] for h in outer["hazard_sources"]] == ["west"]
    assert outer["hazard_sources"][0]["arrival_s"] is None


def test_drill_links_to_the_plan_it_exercised_with_its_findings(
    client: TestClient, admin: dict[str, str], operator: dict[str, str], park: FixturePark
) -> None:
    plan = {"incident_type": "toxic_release", "name": "氯气泄漏专项应急预案",
            "tasks": [{"title": "启动喷淋", "critical": True}], "approved_by": "王总",
            "approved_at": "2026-01-10", "review_due_on": "2026-06-30"}  # fmt: skip
    created = client.post(f"/api/v1/parks/{park.id}/emergency/plans", json=plan, headers=admin)
    assert created.status_code == 201, created.text
    saved = created.json()
    assert saved["approved_by"] == "王总" and saved["review_overdue"] is True  # 2026-06-30 passed
    rehearsal = open_incident(client, operator, park.id, type="toxic_release", drill=True)
    real = open_incident(client, operator, park.id)
    drill = {"plan_id": saved["id"], "held_at": "2026-11-20T02:00:00Z", "scenario": "氯气储罐泄漏",
             "participants": 45, "incident_id": rehearsal["id"],
             "findings": [{"finding": "喷淋启动慢 3 分钟", "severity": "major",
                           "action": "改为自动联锁", "owner": "设备部"}]}  # fmt: skip
    url = f"/api/v1/parks/{park.id}/emergency/drills"
    response = client.post(url, json=drill, headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["plan"]["name"] == "氯气泄漏专项应急预案" and body["plan"]["approved_by"] == "王总"
    assert body["findings"][0]["severity"] == "major" and body["incident_id"] == rehearsal["id"]
    listed = client.get(url, params={"plan_id": saved["id"]}, headers=operator).json()
    assert [d["id"] for d in listed] == [body["id"]]
    bad_plan = client.post(url, json=drill | {"plan_id": 999_999_999}, headers=admin)
    assert bad_plan.status_code == 422
    not_a_drill = client.post(url, json=drill | {"incident_id": real["id"]}, headers=admin)
    assert not_a_drill.status_code == 422
    bad_review = plan | {"review_due_on": "2025-01-01"}
    refused = client.post(
        f"/api/v1/parks/{park.id}/emergency/plans", json=bad_review, headers=admin
    )
    assert refused.status_code == 422
