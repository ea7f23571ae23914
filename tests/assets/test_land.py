"""Parcels, buildings, floors and spaces through the API: geometry checks, areas, CRUD."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.core import geodesy as geo
from tests.api.conftest import create_device
from tests.assets.land_util import (
    SOUTH,
    WEST,
    building,
    new_id,
    parcel,
    park_with_boundary,
    post,
    square,
)


@pytest.fixture
def park(client: TestClient, admin: dict[str, str]) -> str:
    return park_with_boundary(client, admin)


def test_a_parcel_gets_its_geodesic_area_in_m2_and_mu(
    client: TestClient, admin: dict[str, str], park: str
) -> None:
    geometry = square(WEST + 0.001, SOUTH + 0.001, 0.002)
    body = parcel(client, admin, park, geometry)
    expected = geo.area_m2(geo.polygon(geometry))
    assert body["area_m2"] == pytest.approx(expected)
    assert body["area_mu"] == pytest.approx(expected / 666.67)
    assert 40_000 < body["area_m2"] < 45_000  # 0.002° x 0.002° at 31.3°N: ~222 m x ~190 m
    got = client.get(f"/api/v1/parks/{park}/parcels/{body['id']}", headers=admin).json()
    assert got["geometry"] == geometry


@pytest.mark.parametrize(
    ("coordinates", "reason"),
    [
        (
            [[[120.701, 31.301], [120.703, 31.303], [120.703, 31.301], [120.701, 31.303]]],
            "at least 4 positions, the last equal to the first",
        ),
        (
            [
                [
                    [120.701, 31.301],
                    [120.703, 31.303],
                    [120.703, 31.301],
                    [120.701, 31.303],
                    [120.701, 31.301],
                ]
            ],
            "Self-intersection",
        ),
        (square(120.80, 31.30, 0.001)["coordinates"], "not inside the park's boundary"),
        (square(WEST + 0.019, SOUTH + 0.005, 0.002)["coordinates"], "not inside the park"),
    ],
    ids=["unclosed", "self-intersecting", "outside", "straddling"],
)
def test_bad_polygons_are_refused_with_a_reason(
    client: TestClient, admin: dict[str, str], park: str, coordinates: object, reason: str
) -> None:
    body = {
        "id": new_id("x"),
        "name": "x",
        "geometry": {"type": "Polygon", "coordinates": coordinates},
    }
    response = client.post(f"/api/v1/parks/{park}/parcels", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]


def test_overlapping_parcels_are_refused_adjacent_ones_taken(
    client: TestClient, admin: dict[str, str], park: str
) -> None:
    first = parcel(client, admin, park, square(WEST + 0.002, SOUTH + 0.002, 0.004))
    body = {"id": new_id("x"), "name": "x", "geometry": square(WEST + 0.004, SOUTH + 0.004, 0.004)}
    response = client.post(f"/api/v1/parks/{park}/parcels", json=body, headers=admin)
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "geometry"
    assert f"overlaps parcel {first['id']!r}" in problem["detail"]
    parcel(client, admin, park, square(WEST + 0.006, SOUTH + 0.002, 0.004))  # shares an edge
    moved = client.patch(
        f"/api/v1/parks/{park}/parcels/{first['id']}",
        json={"geometry": square(WEST + 0.003, SOUTH + 0.002, 0.004)},
        headers=admin,
    )
    assert moved.status_code == 422, moved.text
    assert "overlaps parcel" in moved.json()["detail"]


def test_a_park_boundary_must_be_a_valid_polygon(client: TestClient, admin: dict[str, str]) -> None:
    bowtie = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
    body = {"id": new_id("p"), "name": "x", "boundary": {"type": "Polygon", "coordinates": bowtie}}
    response = client.post("/api/v1/parks", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["field"] == "boundary"
    assert "Self-intersection" in response.json()["detail"]


def test_buildings_stay_inside_their_parcel(
    client: TestClient, admin: dict[str, str], park: str
) -> None:
    land = parcel(client, admin, park, square(WEST + 0.010, SOUTH + 0.010, 0.004))
    url = f"/api/v1/parks/{park}/buildings"
    outside = {
        "id": new_id("b"),
        "name": "x",
        "parcel_id": land["id"],
        "footprint": square(WEST + 0.013, SOUTH + 0.011, 0.002),
        "floors": 3,
    }
    response = client.post(url, json=outside, headers=admin)
    assert response.status_code == 422
    assert response.json()["field"] == "footprint"
    assert f"not inside parcel {land['id']!r}" in response.json()["detail"]
    missing = {
        **outside,
        "parcel_id": "nope",
        "footprint": square(WEST + 0.011, SOUTH + 0.011, 0.001),
    }
    response = client.post(url, json=missing, headers=admin)
    assert response.status_code == 422
    assert response.json()["field"] == "parcel_id"

    inside = building(
        client,
        admin,
        park,
        square(WEST + 0.011, SOUTH + 0.011, 0.001),
        parcel_id=land["id"],
        floors=3,
    )
    assert inside["area_m2"] == pytest.approx(
        geo.area_m2(geo.polygon(square(WEST + 0.011, SOUTH + 0.011, 0.001)))
    )
    shrink = client.patch(
        f"/api/v1/parks/{park}/parcels/{land['id']}",
        json={"geometry": square(WEST + 0.012, SOUTH + 0.012, 0.002)},
        headers=admin,
    )
    assert shrink.status_code == 422
    assert inside["id"] in shrink.json()["detail"]
    gone = client.delete(f"/api/v1/parks/{park}/parcels/{land['id']}", headers=admin)
    assert gone.status_code == 409
    assert "1 building" in gone.json()["detail"]


def test_floors_and_spaces(client: TestClient, admin: dict[str, str], park: str) -> None:
    b = building(client, admin, park, square(WEST + 0.001, SOUTH + 0.015, 0.001), floors=3)
    floors_url = f"/api/v1/parks/{park}/buildings/{b['id']}/floors"
    for number in (1, 2, -1):
        post(client, admin, floors_url, {"number": number, "area_m2": 900})
    for number, reason in ((0, "no floor 0"), (4, "above the building's 3 floors")):
        response = client.post(floors_url, json={"number": number}, headers=admin)
        assert response.status_code == 422
        assert reason in response.json()["detail"]
    assert client.post(floors_url, json={"number": 1}, headers=admin).status_code == 409
    listed = client.get(floors_url, headers=admin).json()["items"]
    assert [f["number"] for f in listed] == [-1, 1, 2]

    spaces_url = f"/api/v1/parks/{park}/spaces"
    space = post(
        client,
        admin,
        spaces_url,
        {"id": new_id("s"), "building_id": b["id"], "floor": 2, "name": "201", "area_m2": 320},
    )
    assert space["status"] == "available"
    bad = {"id": new_id("s"), "building_id": "nope", "name": "x", "area_m2": 1}
    response = client.post(spaces_url, json=bad, headers=admin)
    assert (response.status_code, response.json()["field"]) == (422, "building_id")
    changed = client.patch(
        f"{spaces_url}/{space['id']}", json={"status": "reserved"}, headers=admin
    ).json()
    assert changed["status"] == "reserved"
    reserved = client.get(spaces_url, params={"status": "reserved"}, headers=admin).json()
    assert space["id"] in [s["id"] for s in reserved["items"]]

    lower = client.patch(
        f"/api/v1/parks/{park}/buildings/{b['id']}", json={"floors": 1}, headers=admin
    )
    assert lower.status_code == 422
    assert lower.json()["field"] == "floors"


def test_deleting_a_building_takes_its_spaces_and_frees_its_devices(
    client: TestClient, admin: dict[str, str], park: str
) -> None:
    b = building(client, admin, park, square(WEST + 0.003, SOUTH + 0.015, 0.001), floors=2)
    space_id = new_id("s")
    post(
        client,
        admin,
        f"/api/v1/parks/{park}/spaces",
        {"id": space_id, "building_id": b["id"], "name": "101", "area_m2": 50},
    )
    device = create_device(client, admin, park, building_id=b["id"])
    response = client.delete(f"/api/v1/parks/{park}/buildings/{b['id']}", headers=admin)
    assert response.status_code == 204
    assert client.get(f"/api/v1/parks/{park}/spaces/{space_id}", headers=admin).status_code == 404
    moved = client.get(f"/api/v1/parks/{park}/devices/{device['id']}", headers=admin).json()
    assert moved["building_id"] is None


def test_lists_page_and_updates_keep_what_is_left_out(
    client: TestClient, admin: dict[str, str], park: str
) -> None:
    for i in range(3):
        building(client, admin, park, square(WEST + 0.001 * i, SOUTH + 0.018, 0.0005), use="仓库")
    url = f"/api/v1/parks/{park}/buildings"
    first = client.get(url, params={"limit": 2, "use": "仓库"}, headers=admin).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(
        url, params={"limit": 2, "use": "仓库", "cursor": first["next_cursor"]}, headers=admin
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    target = first["items"][0]
    renamed = client.patch(f"{url}/{target['id']}", json={"name": "新名"}, headers=admin).json()
    assert (renamed["name"], renamed["use"], renamed["footprint"]) == (
        "新名",
        "仓库",
        target["footprint"],
    )
    nulled = client.patch(f"{url}/{target['id']}", json={"footprint": None}, headers=admin)
    assert nulled.status_code == 422


def test_a_new_park_boundary_must_hold_its_parcels_and_buildings(
    client: TestClient, admin: dict[str, str], park: str
) -> None:
    land = parcel(client, admin, park, square(WEST + 0.012, SOUTH + 0.012, 0.004))
    url = f"/api/v1/parks/{park}"
    smaller = client.patch(url, json={"boundary": square(WEST, SOUTH, 0.01)}, headers=admin)
    assert smaller.status_code == 422
    assert smaller.json()["field"] == "boundary"
    assert f"parcel {land['id']!r} would lie outside" in smaller.json()["detail"]
    bowtie = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
    invalid = client.patch(
        url, json={"boundary": {"type": "Polygon", "coordinates": bowtie}}, headers=admin
    )
    assert invalid.status_code == 422
    larger = client.patch(
        url,
        json={"name": "扩区", "boundary": square(WEST - 0.01, SOUTH - 0.01, 0.04)},
        headers=admin,
    )
    assert larger.status_code == 200, larger.text
    assert larger.json()["name"] == "扩区"
    assert larger.json()["boundary"]["coordinates"][0][0] == [WEST - 0.01, SOUTH - 0.01]
    outside_old = square(WEST - 0.005, SOUTH - 0.005, 0.002)
    parcel(client, admin, park, outside_old)  # inside the new boundary only


def test_leased_land_cannot_be_deleted(
    client: TestClient, admin: dict[str, str], park: str, database_url: str
) -> None:
    b = building(client, admin, park, square(WEST + 0.006, SOUTH + 0.016, 0.001), floors=1)
    space_id = new_id("s")
    post(
        client,
        admin,
        f"/api/v1/parks/{park}/spaces",
        {"id": space_id, "building_id": b["id"], "name": "101", "area_m2": 50},
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO enterprise (park_id, id, name, credit_code) "
            "VALUES (%s, 'acme', 'Acme', '91320594MA1MXXXXX0')",
            (park,),
        )
        conn.execute(
            "INSERT INTO lease (park_id, id, enterprise_id, space_id, area_m2, start_date, "
            "end_date) VALUES (%s, 'l1', 'acme', %s, 50, '2026-01-01', '2026-12-31')",
            (park, space_id),
        )
    for url in (f"/spaces/{space_id}", f"/buildings/{b['id']}"):
        response = client.delete(f"/api/v1/parks/{park}{url}", headers=admin)
        assert response.status_code == 409, response.text
        assert "lease" in response.json()["detail"]
    assert client.get(f"/api/v1/parks/{park}/spaces/{space_id}", headers=admin).status_code == 200
