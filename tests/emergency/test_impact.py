"""Impact analysis on the hand-laid fixture park (support.FixturePark), with and without wind;
nearest resources against hand-computed distances; the STRtree answer equals a linear scan."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.assets import crs
from tests.emergency.support import LAT, LON, FixturePark, fixture_park, offset
from tests.emergency.test_incidents import open_incident

# Resources: (name, kind, east, north, capacity); distances from the source by construction.
RESOURCES = [
    ("h1", "hydrant", 0, 30, None),
    ("h2", "hydrant", 120, 0, None),
    ("h3", "hydrant", -80, 0, None),
    ("h4", "hydrant", 0, -1000, None),
    ("aed1", "aed", 500, 0, None),
    ("s1", "shelter", 150, 0, 500),  # inside the 300 m zone: not a safe shelter
    ("s2", "shelter", -400, 0, 100),
    ("s3", "shelter", 0, 800, 50),
]


def place_resources(client: TestClient, admin: dict[str, str], park: FixturePark) -> None:
    for name, kind, east, north, capacity in RESOURCES:
        lon, lat = offset(east, north)
        body = {"id": name, "kind": kind, "name": name, "capacity": capacity,
                "location": {"lon": lon, "lat": lat}}  # fmt: skip
        response = client.post(f"/api/v1/parks/{park.id}/resources", json=body, headers=admin)
        assert response.status_code == 201, response.text


@pytest.fixture
def park(client: TestClient, admin: dict[str, str], database_url: str) -> FixturePark:
    park = fixture_park(client, admin, database_url)
    place_resources(client, admin, park)
    return park


def impact(client: TestClient, headers: dict[str, str], park: FixturePark, iid: str) -> Any:
    url = f"/api/v1/parks/{park.id}/incidents/{iid}/impact"
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def names(park: FixturePark, items: list[dict[str, Any]], kind: str) -> list[str]:
    ids = park.buildings if kind == "building" else park.enterprises
    back = {v: k for k, v in ids.items()}
    return sorted(back[i["id"]] for i in items)


def test_zones_buildings_enterprises_people_and_sensors_by_hand(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], park: FixturePark
) -> None:
    gas = park.device("gas_detector", 10, 0)
    smoke = park.device("smoke_detector", 0, 250)
    park.device("electricity_meter", 700, 0)
    park.reading(gas, "gas_lel_pct", 62.5, datetime.now(UTC))
    iid = open_incident(client, admin, park.id)["id"]

    body = impact(client, viewer, park, iid)
    assert body["wind"] is None
    inner, outer = body["zones"]
    assert (inner["radius_m"], outer["radius_m"]) == (100, 300)
    assert inner["downwind_reach_m"] == 100
    assert names(park, inner["buildings"], "building") == ["A"]
    assert names(park, outer["buildings"], "building") == ["A", "B"]
    assert names(park, inner["enterprises"], "enterprise") == ["E1", "E4"]
    assert names(park, outer["enterprises"], "enterprise") == ["E1", "E2", "E4"]
    people = {e["id"]: e["people"] for e in outer["enterprises"]}
    assert people[park.enterprises["E2"]] == pytest.approx(60)  # 80 x 300 / (300 + 100) m²
    assert people[park.enterprises["E4"]] == 0  # no head count known
    assert (inner["people"], outer["people"]) == (120, 180)

    assert [d["id"] for d in inner["devices"]] == [gas]
    assert [d["id"] for d in outer["devices"]] == [gas, smoke]
    assert inner["devices"][0]["distance_m"] == pytest.approx(10, abs=0.01)
    assert inner["devices"][0]["latest"]["gas_lel_pct"]["value"] == 62.5
    assert outer["geometry"]["type"] == "Polygon"

    shelters = body["shelter_capacity"]
    assert [s["id"] for s in shelters["shelters"]] == ["s2", "s3"]
    assert (shelters["people"], shelters["capacity"], shelters["shortfall"]) == (180, 150, 30)


def test_wind_stretches_the_zones_downwind(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], park: FixturePark
) -> None:
    station = park.wind_station(from_deg=0.0)  # a north wind: the gas drifts south
    iid = open_incident(client, admin, park.id)["id"]
    body = impact(client, viewer, park, iid)
    assert body["wind"]["device_id"] == station
    assert (body["wind"]["from_deg"], body["wind"]["downwind_deg"]) == (0, 180)
    inner, outer = body["zones"]
    assert (inner["downwind_reach_m"], outer["downwind_reach_m"]) == (200, 600)
    assert names(park, inner["buildings"], "building") == ["A"]
    assert names(park, outer["buildings"], "building") == ["A", "B", "D"]  # D 440-460 m south
    assert (inner["people"], outer["people"]) == (120, 230)
    assert [s["id"] for s in body["shelter_capacity"]["shelters"]] == ["s2", "s3"]


def test_nearest_resources_against_hand_computed_distances(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], park: FixturePark
) -> None:
    iid = open_incident(client, admin, park.id)["id"]
    nearest = impact(client, viewer, park, iid)["nearest_resources"]
    hydrants = [(r["id"], r["distance_m"]) for r in nearest if r["kind"] == "hydrant"]
    assert [h for h, _ in hydrants] == ["h1", "h3", "h2"]
    assert [d for _, d in hydrants] == pytest.approx([30, 80, 120], abs=0.01)
    assert [(r["id"], r["kind"]) for r in nearest if r["kind"] != "hydrant"] == [
        ("s1", "shelter"),
        ("s2", "shelter"),
        ("s3", "shelter"),
        ("aed1", "aed"),
    ]
    url = f"/api/v1/parks/{park.id}/resources/nearest"
    lon, lat = offset(0, -900)  # 100 m north of h4
    params: dict[str, Any] = {"lon": lon, "lat": lat, "kind": "hydrant", "n": 2}
    found = client.get(url, params=params, headers=viewer).json()
    assert [r["id"] for r in found] == ["h4", "h3"]  # h3 ~903.5 m, h2 ~908 m, h1 930 m
    assert found[0]["distance_m"] == pytest.approx(100, abs=0.01)
    assert found[1]["distance_m"] == pytest.approx(math.hypot(80, 900), abs=1.0)


def test_the_index_answer_equals_a_linear_scan(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], park: FixturePark
) -> None:
    for k in range(30):
        park.device("gas_detector", (k * 37) % 600 - 300, (k * 53) % 600 - 300)
    park.wind_station(from_deg=300.0)
    iid = open_incident(client, admin, park.id)["id"]
    indexed = impact(client, viewer, park, iid)
    client.app.state.spatial_brute_force = True  # type: ignore[attr-defined]
    try:
        scanned = impact(client, viewer, park, iid)
    finally:
        client.app.state.spatial_brute_force = False  # type: ignore[attr-defined]
    assert indexed == scanned
    assert len(indexed["zones"][1]["devices"]) > len(indexed["zones"][0]["devices"]) > 0


def test_resources_are_managed_by_admins(
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
    viewer: dict[str, str],
    park: FixturePark,
) -> None:
    url = f"/api/v1/parks/{park.id}/resources"
    body = {"id": "t1", "kind": "team", "name": "消防队", "location": {"lon": LON, "lat": LAT},
            "contact": "119"}  # fmt: skip
    assert client.post(url, json=body, headers=operator).status_code == 403
    assert client.post(url, json=body, headers=admin).status_code == 201
    assert client.post(url, json=body, headers=admin).status_code == 409
    teams = client.get(url, params={"kind": "team"}, headers=viewer).json()
    assert [(t["id"], t["contact"]) for t in teams] == [("t1", "119")]
    assert client.get(f"{url}/t1", headers=viewer).json()["location"] == {"lon": LON, "lat": LAT}
    assert client.delete(f"{url}/t1", headers=admin).status_code == 204
    assert client.get(f"{url}/t1", headers=viewer).status_code == 404
    bad = {**body, "id": "t2", "kind": "helicopter"}
    assert client.post(url, json=bad, headers=admin).status_code == 422


def test_head_count_from_economy_reports_when_no_attribute(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], park: FixturePark
) -> None:
    """E4 has no ``employees`` attribute: the mean of its reports of the last 12 months (30
    and 50; one from two years ago is left out) counts, all in its space in A."""
    today = datetime.now(UTC).date().replace(day=1)
    months = [
        today,
        (today - timedelta(days=40)).replace(day=1),
        today.replace(year=today.year - 2),
    ]
    for month, employees in zip(months, (30, 50, 900), strict=True):
        park.sql(
            "INSERT INTO economy_report (park_id, enterprise_id, month, output_value, "
            "value_added, revenue, tax, employees, rd_spend) "
            "VALUES (%s, %s, %s, 1, 1, 1, 1, %s, 0)",
            park.id,
            park.enterprises["E4"],
            month,
            employees,
        )
    iid = open_incident(client, admin, park.id)["id"]
    inner = impact(client, viewer, park, iid)["zones"][0]
    people = {e["id"]: e["people"] for e in inner["enterprises"]}
    assert people[park.enterprises["E4"]] == 40
    assert inner["people"] == 160  # E1's 120 and E4's 40


def where(position: tuple[float, float]) -> dict[str, float]:
    return {"lon": position[0], "lat": position[1]}


def _positions(geometry: dict[str, Any]) -> list[list[float]]:
    """Every position of a Polygon or MultiPolygon."""
    rings = geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        rings = [ring for polygon in rings for ring in polygon]
    return [position for ring in rings for position in ring]


@pytest.mark.parametrize("name", ["gcj02", "bd09"])
def test_emergency_answers_in_the_crs_asked(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    park: FixturePark,
    name: crs.Crs,
) -> None:
    """Impact zones, nearest resources, incidents, resources and hazard sources come back in
    ``crs``; a point sent in it is taken back to WGS-84 first. Storage stays WGS-84."""
    move = crs.FROM_WGS84[name]
    iid = open_incident(client, admin, park.id)["id"]
    base = f"/api/v1/parks/{park.id}"
    plain = impact(client, viewer, park, iid)
    moved = client.get(f"{base}/incidents/{iid}/impact", params={"crs": name}, headers=viewer)
    assert moved.status_code == 200, moved.text
    shifted = moved.json()
    assert shifted["location"] == pytest.approx(where(move(LON, LAT)))
    for zone, wgs in zip(shifted["zones"], plain["zones"], strict=True):
        expected = [c for lon, lat, *_ in _positions(wgs["geometry"]) for c in move(lon, lat)]
        got = [c for position in _positions(zone["geometry"]) for c in position[:2]]
        assert got == pytest.approx(expected, abs=1e-9)
    for resource, wgs in zip(shifted["nearest_resources"], plain["nearest_resources"], strict=True):
        at = wgs["location"]
        assert resource["location"] == pytest.approx(where(move(at["lon"], at["lat"])))
        assert resource["distance_m"] == wgs["distance_m"]  # computed in WGS-84, as before

    # Asked in the widget's coordinates: the same resources, their locations in them too.
    lon, lat = offset(0, -900)
    asked = where(move(lon, lat))
    params: dict[str, Any] = {**asked, "kind": "hydrant", "n": 2, "crs": name}
    found = client.get(f"{base}/resources/nearest", params=params, headers=viewer).json()
    assert [r["id"] for r in found] == ["h4", "h3"]
    assert found[0]["distance_m"] == pytest.approx(100, abs=0.01)
    h4 = where(move(*offset(0, -1000)))
    assert found[0]["location"] == pytest.approx(h4)
    one = client.get(f"{base}/resources/h4", params={"crs": name}, headers=viewer).json()
    assert one["location"] == pytest.approx(h4)
    listed = client.get(f"{base}/resources", params={"crs": name}, headers=viewer).json()
    assert {r["id"]: r["location"] for r in listed}["h4"] == pytest.approx(h4)
    incidents = client.get(f"{base}/incidents", params={"crs": name}, headers=viewer).json()
    assert incidents["items"][0]["location"] == shifted["location"]
    detail = client.get(f"{base}/incidents/{iid}", params={"crs": name}, headers=viewer).json()
    assert detail["location"] == shifted["location"]
