"""Equipment register, devices linked to spaces and parent meters, the meter tree and its
unmetered gap (损耗/未计量)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.assets.support import make_building, uid

CST = timezone(timedelta(hours=8))


@pytest.fixture
def park_id(client: TestClient, admin: dict[str, str]) -> str:
    return create_park(client, admin).id


def test_equipment_round_trip(
    client: TestClient, admin: dict[str, str], park_id: str, database_url: str
) -> None:
    building, (space,) = make_building(database_url, park_id, [(80.0, "available")])
    monitor = create_device(client, admin, park_id, "equipment_monitor")
    url = f"/api/v1/parks/{park_id}/equipment"
    body = {
        "id": "chiller-1",
        "name": "1号冷水机组",
        "category": "chiller",
        "model": "30XW",
        "installed_on": "2021-05-20",
        "space_id": space,
        "location": {"lon": 120.7, "lat": 31.3},
        "device_id": monitor["id"],
    }
    created = client.post(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    got = created.json()
    assert (got["building_id"], got["maintenance_status"]) == (building, "normal")
    assert got["location"] == {"lon": 120.7, "lat": 31.3}
    changed = client.patch(
        f"{url}/chiller-1",
        json={"maintenance_status": "under_maintenance", "location": None},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["maintenance_status"], changed.json()["location"]) == (
        "under_maintenance",
        None,
    )
    listed = client.get(url, params={"maintenance_status": "under_maintenance"}, headers=admin)
    assert [e["id"] for e in listed.json()["items"]] == ["chiller-1"]
    assert client.get(url, params={"category": "boiler"}, headers=admin).json()["items"] == []
    assert client.delete(f"{url}/chiller-1", headers=admin).status_code == 204
    assert client.get(f"{url}/chiller-1", headers=admin).status_code == 404


def test_equipment_references_are_checked(
    client: TestClient, admin: dict[str, str], park_id: str, database_url: str
) -> None:
    _, (space,) = make_building(database_url, park_id, [(80.0, "available")])
    other, _ = make_building(database_url, park_id, [])
    url = f"/api/v1/parks/{park_id}/equipment"
    base = {"id": "pump-1", "name": "泵", "category": "pump"}
    cases = [
        ({"building_id": "ghost"}, "building_id"),
        ({"space_id": "ghost"}, "space_id"),
        ({"device_id": "ghost"}, "device_id"),
        ({"space_id": space, "building_id": other}, "building_id"),
    ]
    for extra, field in cases:
        response = client.post(url, json={**base, **extra}, headers=admin)
        assert response.status_code == 422 and response.json()["field"] == field, response.text
    bad_status = client.post(url, json={**base, "maintenance_status": "broken"}, headers=admin)
    assert bad_status.status_code == 422


def test_devices_link_to_spaces(
    client: TestClient, admin: dict[str, str], park_id: str, database_url: str
) -> None:
    building, (space,) = make_building(database_url, park_id, [(80.0, "available")])
    other, _ = make_building(database_url, park_id, [])
    device = create_device(client, admin, park_id, "smoke_detector", space_id=space)
    assert (device["space_id"], device["building_id"]) == (space, building)
    url = f"/api/v1/parks/{park_id}/devices"
    listed = client.get(url, params={"space_id": space}, headers=admin).json()
    assert [d["id"] for d in listed["items"]] == [device["id"]]
    wrong = client.post(
        url,
        json={"id": uid("d"), "type": "smoke_detector", "name": "x", "space_id": "ghost"},
        headers=admin,
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "space_id"
    moved = client.patch(f"{url}/{device['id']}", json={"building_id": other}, headers=admin)
    assert (moved.json()["building_id"], moved.json()["space_id"]) == (other, None)
    back = client.patch(f"{url}/{device['id']}", json={"space_id": space}, headers=admin)
    assert (back.json()["building_id"], back.json()["space_id"]) == (building, space)


def test_parent_meter_links_are_checked(
    client: TestClient, admin: dict[str, str], park_id: str
) -> None:
    main = create_device(client, admin, park_id)
    sub = create_device(client, admin, park_id, parent_meter_id=main["id"])
    assert sub["parent_meter_id"] == main["id"]
    url = f"/api/v1/parks/{park_id}/devices"
    loop = client.patch(f"{url}/{main['id']}", json={"parent_meter_id": sub["id"]}, headers=admin)
    assert loop.status_code == 422 and "loop" in loop.json()["detail"]
    itself = client.patch(
        f"{url}/{main['id']}", json={"parent_meter_id": main["id"]}, headers=admin
    )
    assert itself.status_code == 422
    gas = client.post(
        url,
        json={"id": uid("g"), "type": "gas_meter", "name": "g", "parent_meter_id": main["id"]},
        headers=admin,
    )
    assert gas.status_code == 422 and "no counter in common" in gas.json()["detail"]
    detector = client.post(
        url,
        json={"id": uid("g"), "type": "gas_detector", "name": "g", "parent_meter_id": main["id"]},
        headers=admin,
    )
    assert detector.status_code == 422 and "not an energy meter" in detector.json()["detail"]
    ghost = client.patch(f"{url}/{sub['id']}", json={"parent_meter_id": "ghost"}, headers=admin)
    assert ghost.status_code == 422 and ghost.json()["field"] == "parent_meter_id"
    listed = client.get(url, params={"parent_meter_id": main["id"]}, headers=admin).json()
    assert [d["id"] for d in listed["items"]] == [sub["id"]]
    assert client.delete(f"{url}/{main['id']}", headers=admin).status_code == 204
    assert client.get(f"{url}/{sub['id']}", headers=admin).json()["parent_meter_id"] is None


def readings(
    database_url: str, park_id: str, device_id: str, values: list[tuple[str, float]]
) -> None:
    """Counter readings at park-local times ("MM-DD HH")."""
    points = [
        (datetime.strptime(f"2026-{t}", "%Y-%m-%d %H").replace(tzinfo=CST), v) for t, v in values
    ]
    write_readings(database_url, series_id(database_url, park_id, device_id, "energy_kwh"), points)


def test_meter_tree_shows_the_unmetered_gap(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    main = create_device(client, admin, park_id, name="总表")["id"]
    sub1 = create_device(client, admin, park_id, parent_meter_id=main)["id"]
    sub2 = create_device(client, admin, park_id, parent_meter_id=main)["id"]
    sub21 = create_device(client, admin, park_id, parent_meter_id=sub2)["id"]
    lone = create_device(client, admin, park_id)["id"]
    readings(database_url, park_id, main, [("10-31 12", 1000), ("11-01 12", 1050),
                                           ("11-03 12", 1200), ("11-04 12", 9999)])  # fmt: skip
    readings(database_url, park_id, sub1, [("10-31 12", 500), ("11-02 00", 580)])
    # sub2 restarts from zero on 11-03: 100 before the drop, then 5 after it
    readings(database_url, park_id, sub2, [("10-31 12", 0), ("11-02 12", 100), ("11-03 12", 5)])
    url = f"/api/v1/parks/{park_id}/meters/tree"
    body = client.get(url, params={"from": "2026-11-01", "to": "2026-11-03"}, headers=viewer)
    assert body.status_code == 200, body.text
    tree = body.json()
    assert (tree["from"], tree["to"]) == ("2026-11-01", "2026-11-03")
    (root,) = tree["roots"]
    assert (root["device_id"], root["name"], root["metric"], root["unit"]) == (
        main,
        "总表",
        "energy_kwh",
        "kWh",
    )
    assert root["consumption"] == 200.0
    assert root["children_sum"] == 185.0  # 80 + (100 + 5)
    assert root["unmetered"] == 15.0
    assert root["unmetered_share"] == pytest.approx(0.075)
    children = {c["device_id"]: c for c in root["children"]}
    assert children[sub1]["consumption"] == 80.0 and children[sub1]["unmetered"] is None
    assert children[sub2]["consumption"] == 105.0
    (grandchild,) = children[sub2]["children"]
    assert grandchild["device_id"] == sub21 and grandchild["consumption"] is None
    assert children[sub2]["unmetered"] == 105.0 and not children[sub2]["complete"]
    assert not root["complete"]  # sub21 never reported

    subtree = client.get(
        url, params={"from": "2026-11-01", "to": "2026-11-03", "root": sub1}, headers=viewer
    ).json()
    assert [r["device_id"] for r in subtree["roots"]] == [sub1]
    alone = client.get(url, params={"root": lone}, headers=viewer).json()
    assert alone["roots"][0]["children"] == [] and alone["roots"][0]["consumption"] is None
    assert client.get(url, params={"root": "ghost"}, headers=viewer).status_code == 404
    backwards = client.get(url, params={"from": "2026-11-03", "to": "2026-11-01"}, headers=viewer)
    assert backwards.status_code == 422
