"""The twin: status roll-up, map, building view, spatial queries and their index."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.assets.twin import spatial
from app.assets.twin.index import IndexCache, Layer, RowProps
from app.assets.twin.status import rollup, worst
from app.core import geodesy as geo
from tests.api.conftest import create_device, series_id, write_readings
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


def test_worst_and_counts() -> None:
    assert worst([]) == "normal"
    assert worst(["normal", "offline", "warning", "maintenance"]) == "warning"
    assert worst(["minor", "critical", "major"]) == "critical"
    rolled = rollup(["offline", "normal", "offline"]).as_dict()
    assert rolled["status"] == "offline"
    assert rolled["counts"] == {
        "critical": 0,
        "major": 0,
        "minor": 0,
        "warning": 0,
        "offline": 2,
        "maintenance": 0,
        "unknown": 0,
        "normal": 1,
    }


@dataclass
class Site:
    park: str
    parcel: dict[str, Any]
    building: dict[str, Any]
    space_id: str
    in_building: str
    in_space: str
    outside: str


@pytest.fixture
def site(client: TestClient, admin: dict[str, str], database_url: str) -> Site:
    """A parcel with one building (2 floors, a space on floor 2), a device on the building, a
    device in the space, and a device standing in no building and no parcel; all online."""
    park = park_with_boundary(client, admin)
    land = parcel(client, admin, park, square(WEST + 0.004, SOUTH + 0.004, 0.004))
    house = building(
        client,
        admin,
        park,
        square(WEST + 0.005, SOUTH + 0.005, 0.001),
        parcel_id=land["id"],
        floors=2,
    )
    post(client, admin, f"/api/v1/parks/{park}/buildings/{house['id']}/floors", {"number": 2})
    space_id = new_id("s")
    post(
        client,
        admin,
        f"/api/v1/parks/{park}/spaces",
        {"id": space_id, "building_id": house["id"], "floor": 2, "name": "201", "area_m2": 80},
    )
    at = {"lon": WEST + 0.0055, "lat": SOUTH + 0.0055}
    on_building = create_device(client, admin, park, building_id=house["id"], location=at)
    in_space = create_device(client, admin, park, "temperature_sensor", location=at)
    outside = create_device(
        client, admin, park, location={"lon": WEST + 0.015, "lat": SOUTH + 0.015}
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE device SET space_id = %s WHERE park_id = %s AND id = %s",
            (space_id, park, in_space["id"]),
        )
        conn.execute("UPDATE device SET status = 'online' WHERE park_id = %s", (park,))
    return Site(
        park, land, house, space_id, str(on_building["id"]), str(in_space["id"]), str(outside["id"])
    )


def open_alarm(database_url: str, park: str, device: str, severity: str) -> str:
    alarm_id = str(uuid.uuid4())
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO alarm (id, park_id, device_id, metric, type, severity, raised_at) "
            "VALUES (%s, %s, %s, %s, 'threshold', %s, now())",
            (alarm_id, park, device, severity, severity),
        )
    return alarm_id


def sql(database_url: str, statement: str, *args: object) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(statement, args)  # type: ignore[arg-type]


def statuses(client: TestClient, admin: dict[str, str], park: str) -> dict[str, Any]:
    body = client.get(f"/api/v1/parks/{park}/twin", headers=admin).json()
    return {
        "park": body["status"],
        "parcels": {p["id"]: p["status"] for p in body["parcels"]},
        "buildings": {b["id"]: (b["status"], b["counts"]) for b in body["buildings"]},
    }


def test_status_rolls_up_as_alarms_open_and_clear(
    client: TestClient, admin: dict[str, str], database_url: str, site: Site
) -> None:
    b = site.building["id"]
    calm = statuses(client, admin, site.park)
    assert calm["park"] == "normal"
    assert calm["buildings"][b][1]["normal"] == 2

    minor = open_alarm(database_url, site.park, site.in_space, "minor")
    major = open_alarm(database_url, site.park, site.in_space, "major")
    sql(database_url, "UPDATE device SET status = 'offline' WHERE id = %s", site.in_building)
    hot = statuses(client, admin, site.park)
    assert hot["park"] == "major"
    assert hot["parcels"][site.parcel["id"]] == "major"
    status, counts = hot["buildings"][b]
    assert status == "major"
    assert (counts["major"], counts["offline"], counts["normal"]) == (1, 1, 0)

    sql(database_url, "UPDATE alarm SET closed_at = now() WHERE id IN (%s, %s)", minor, major)
    assert statuses(client, admin, site.park)["buildings"][b][0] == "offline"
    sql(database_url, "UPDATE device SET status = 'online' WHERE id = %s", site.in_building)
    client.patch(
        f"/api/v1/parks/{site.park}/spaces/{site.space_id}",
        json={"status": "maintenance"},
        headers=admin,
    )
    later = statuses(client, admin, site.park)
    assert later["buildings"][b][0] == "maintenance"
    assert later["parcels"][site.parcel["id"]] == "maintenance"

    # The device in no building and no parcel counts for the park only.
    open_alarm(database_url, site.park, site.outside, "critical")
    last = statuses(client, admin, site.park)
    assert last["park"] == "critical"
    assert last["parcels"][site.parcel["id"]] == "maintenance"


def test_a_device_never_heard_from_is_unknown_between_maintenance_and_normal(
    client: TestClient, admin: dict[str, str], database_url: str, site: Site
) -> None:
    b = site.building["id"]
    sql(database_url, "UPDATE device SET status = 'unknown' WHERE id = %s", site.in_space)
    status, counts = statuses(client, admin, site.park)["buildings"][b]
    assert status == "unknown"
    assert (counts["unknown"], counts["normal"]) == (1, 1)
    client.patch(
        f"/api/v1/parks/{site.park}/spaces/{site.space_id}",
        json={"status": "maintenance"},
        headers=admin,
    )
    assert statuses(client, admin, site.park)["buildings"][b][0] == "maintenance"
    assert worst(["normal", "unknown"]) == "unknown"
    assert worst(["unknown", "maintenance"]) == "maintenance"


def test_the_map_has_every_kind_with_a_status_and_an_etag(
    client: TestClient, admin: dict[str, str], database_url: str, site: Site
) -> None:
    url = f"/api/v1/parks/{site.park}/map"
    response = client.get(url, headers=admin)
    body = response.json()
    assert body["type"] == "FeatureCollection"
    kinds = {(f["properties"]["kind"], f["properties"]["id"]): f for f in body["features"]}
    assert {k for k, _ in kinds} == {"park", "parcel", "building", "device"}
    assert kinds[("building", site.building["id"])]["geometry"] == site.building["footprint"]
    device = kinds[("device", site.outside)]
    assert device["geometry"]["type"] == "Point"
    assert device["properties"]["status"] == "normal"
    etag = response.headers["etag"]
    assert client.get(url, headers={**admin, "If-None-Match": etag}).status_code == 304
    open_alarm(database_url, site.park, site.outside, "warning")
    changed = client.get(url, headers={**admin, "If-None-Match": etag})
    assert changed.status_code == 200
    features = changed.json()["features"]
    found = [f for f in features if f["properties"]["id"] == site.outside]
    assert found[0]["properties"]["status"] == "warning"


def test_the_cockpits_map_holds_only_the_devices_in_alarm(
    client: TestClient, admin: dict[str, str], database_url: str, site: Site
) -> None:
    """``devices=alarmed``: the parcels and buildings as in the full map, statuses counting
    every device, and only the located devices with an open alarm (the cockpit's map marks
    those; every device was 24 MB at 100,000)."""
    url = f"/api/v1/parks/{site.park}/map"

    def split(params: dict[str, str]) -> tuple[dict[Any, Any], list[tuple[str, str]]]:
        response = client.get(url, params=params, headers=admin)
        assert response.status_code == 200, response.text
        features = response.json()["features"]
        shapes = {
            (f["properties"]["kind"], f["properties"]["id"]): f
            for f in features
            if f["properties"]["kind"] != "device"
        }
        devices = [
            (f["properties"]["id"], f["properties"]["status"])
            for f in features
            if f["properties"]["kind"] == "device"
        ]
        return shapes, devices

    shapes, devices = split({})
    assert len(devices) == 3  # all three devices are located
    assert split({"devices": "alarmed"}) == (shapes, [])

    open_alarm(database_url, site.park, site.outside, "major")
    sql(database_url, "UPDATE device SET status = 'offline' WHERE id = %s", site.in_building)
    shapes, devices = split({})
    assert sorted(devices) == sorted(
        [(site.outside, "major"), (site.in_building, "offline"), (site.in_space, "normal")]
    )
    alarmed_shapes, alarmed = split({"devices": "alarmed"})
    assert alarmed == [(site.outside, "major")]
    assert alarmed_shapes == shapes
    assert alarmed_shapes[("park", site.park)]["properties"]["status"] == "major"
    assert alarmed_shapes[("building", site.building["id"])]["properties"]["status"] == "offline"

    inside = f"{WEST + 0.004},{SOUTH + 0.004},{WEST + 0.008},{SOUTH + 0.008}"  # the parcel
    assert split({"devices": "alarmed", "bbox": inside})[1] == []
    assert split({"devices": "alarmed", "zoom": "12"})[1] == [(site.outside, "major")]
    wrong = client.get(url, params={"devices": "some"}, headers=admin)
    assert wrong.status_code == 422


def test_the_building_view_in_one_call(
    client: TestClient, admin: dict[str, str], database_url: str, site: Site
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    sid = series_id(database_url, site.park, site.in_space, "temperature_c")
    write_readings(database_url, sid, [(now - timedelta(minutes=1), 21.0), (now, 22.5)])
    open_alarm(database_url, site.park, site.in_space, "warning")
    url = f"/api/v1/parks/{site.park}/buildings/{site.building['id']}/twin"
    body = client.get(url, headers=admin).json()
    assert body["status"] == "warning"
    assert [f["number"] for f in body["floors"]] == [2]
    (space,) = body["floors"][0]["spaces"]
    assert (space["id"], space["status"], space["space_status"]) == (
        site.space_id,
        "warning",
        "available",
    )
    (device,) = space["devices"]
    assert device["id"] == site.in_space
    assert device["latest"]["temperature_c"]["value"] == 22.5
    assert [d["id"] for d in body["devices"]] == [site.in_building]
    missing = client.get(f"/api/v1/parks/{site.park}/buildings/nope/twin", headers=admin)
    assert missing.status_code == 404


def nearby(client: TestClient, admin: dict[str, str], park: str, **params: Any) -> list[Any]:
    response = client.get(f"/api/v1/parks/{park}/spatial/nearby", params=params, headers=admin)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def test_containing(client: TestClient, admin: dict[str, str], site: Site) -> None:
    url = f"/api/v1/parks/{site.park}/spatial/containing"
    inside = client.get(url, params={"lon": WEST + 0.0055, "lat": SOUTH + 0.0055}, headers=admin)
    body = inside.json()
    assert body["parcel"]["id"] == site.parcel["id"]
    assert body["building"]["id"] == site.building["id"]
    yard = client.get(url, params={"lon": WEST + 0.0075, "lat": SOUTH + 0.0075}, headers=admin)
    assert (yard.json()["parcel"]["id"], yard.json()["building"]) == (site.parcel["id"], None)
    away = client.get(url, params={"lon": WEST + 0.015, "lat": SOUTH + 0.015}, headers=admin)
    assert away.json() == {"parcel": None, "building": None}


def test_nearby_devices_are_sorted_with_geodesic_distances(
    client: TestClient, admin: dict[str, str], site: Site
) -> None:
    lon, lat = WEST + 0.0150, SOUTH + 0.0140  # ~111 m south of the outside device
    close = nearby(client, admin, site.park, lon=lon, lat=lat, radius_m=200)
    assert [d["id"] for d in close] == [site.outside]
    assert close[0]["distance_m"] == pytest.approx(
        geo.distance_m(lon, lat, WEST + 0.015, SOUTH + 0.015), abs=0.01
    )
    wide = nearby(client, admin, site.park, lon=lon, lat=lat, radius_m=5000)
    assert wide[0]["id"] == site.outside
    assert {d["id"] for d in wide} == {site.outside, site.in_building, site.in_space}
    assert [d["distance_m"] for d in wide] == sorted(d["distance_m"] for d in wide)
    nearest = nearby(client, admin, site.park, lon=lon, lat=lat, limit=2)
    assert [d["id"] for d in nearest] == [d["id"] for d in wide[:2]]


def test_nearby_buildings_parcels_and_spaces(
    client: TestClient, admin: dict[str, str], site: Site
) -> None:
    inside = {"lon": WEST + 0.0055, "lat": SOUTH + 0.0055}
    (b,) = nearby(client, admin, site.park, kind="building", radius_m=10, **inside)
    assert (b["id"], b["distance_m"]) == (site.building["id"], 0)
    north = {"lon": WEST + 0.0055, "lat": SOUTH + 0.0070}  # 0.0010° north of the building
    (b,) = nearby(client, admin, site.park, kind="building", radius_m=500, **north)
    expected = geo.distance_m(north["lon"], north["lat"], north["lon"], SOUTH + 0.006)
    assert b["distance_m"] == pytest.approx(expected, rel=1e-3)
    (p,) = nearby(client, admin, site.park, kind="parcel", radius_m=10, **north)
    assert (p["id"], p["distance_m"]) == (site.parcel["id"], 0)
    (s,) = nearby(client, admin, site.park, kind="space", radius_m=500, **north)
    assert (s["id"], s["building_id"]) == (site.space_id, site.building["id"])


def test_nearby_enterprises_where_they_hold_a_lease_today(
    client: TestClient, admin: dict[str, str], database_url: str, site: Site
) -> None:
    enterprise = new_id("e")
    sql(
        database_url,
        "INSERT INTO enterprise (park_id, id, name, credit_code) "
        "VALUES (%s, %s, 'Acme', '91320594MA1MXXXXX0')",
        site.park,
        enterprise,
    )
    inside = {"lon": WEST + 0.0055, "lat": SOUTH + 0.0055}
    assert nearby(client, admin, site.park, kind="enterprise", radius_m=100, **inside) == []
    today = date.today()
    sql(
        database_url,
        "INSERT INTO lease (park_id, id, enterprise_id, space_id, area_m2, start_date, end_date) "
        "VALUES (%s, %s, %s, %s, 80, %s, %s)",
        site.park,
        new_id("l"),
        enterprise,
        site.space_id,
        today - timedelta(days=30),
        today + timedelta(days=30),
    )
    (found,) = nearby(client, admin, site.park, kind="enterprise", radius_m=100, **inside)
    assert (found["id"], found["name"], found["distance_m"]) == (enterprise, "Acme", 0)


def test_the_index_follows_changes(client: TestClient, admin: dict[str, str], site: Site) -> None:
    spot = {"lon": WEST + 0.018, "lat": SOUTH + 0.002}
    assert nearby(client, admin, site.park, radius_m=50, **spot) == []
    new = create_device(client, admin, site.park, location=spot)
    assert [d["id"] for d in nearby(client, admin, site.park, radius_m=50, **spot)] == [new["id"]]
    moved = client.patch(
        f"/api/v1/parks/{site.park}/devices/{new['id']}",
        json={"location": {"lon": WEST + 0.017, "lat": SOUTH + 0.002}},
        headers=admin,
    )
    assert moved.status_code == 200
    assert nearby(client, admin, site.park, radius_m=50, **spot) == []
    client.delete(f"/api/v1/parks/{site.park}/buildings/{site.building['id']}", headers=admin)
    inside = {"lon": WEST + 0.0055, "lat": SOUTH + 0.0055}
    assert nearby(client, admin, site.park, kind="building", radius_m=10, **inside) == []


def test_the_brute_force_baseline_gives_the_same_answers(
    client: TestClient, admin: dict[str, str], site: Site
) -> None:
    queries = [
        {"lon": WEST + 0.01, "lat": SOUTH + 0.01, "radius_m": 2000},
        {"lon": WEST + 0.01, "lat": SOUTH + 0.01, "limit": 2},
        {"lon": WEST + 0.0, "lat": SOUTH + 0.0, "kind": "building", "radius_m": 1500},
    ]
    indexed = [nearby(client, admin, site.park, **q) for q in queries]
    client.app.state.spatial_brute_force = True  # type: ignore[attr-defined]
    try:
        scanned = [nearby(client, admin, site.park, **q) for q in queries]
    finally:
        client.app.state.spatial_brute_force = False  # type: ignore[attr-defined]
    assert scanned == indexed
    assert all(indexed)


def test_requests_arriving_during_a_build_wait_for_it(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Six requests find the park's index out of date together: one builds it, the other five
    wait for that build and answer from it (a build of their own each cost 1.2 s apiece at
    100,000 devices). Each request is held after reading the asset version until all six have
    read it, so they do meet at the index."""
    cache = client.app.state.cache(IndexCache)  # type: ignore[attr-defined]
    read = 0
    everyone: asyncio.Event | None = None
    real_version = spatial.repository.asset_version

    async def gathered(session: Any, park_id: str) -> int:
        nonlocal read, everyone
        version = await real_version(session, park_id)
        everyone = everyone or asyncio.Event()  # made in the app's event loop
        read += 1
        if read == 6:
            everyone.set()
        await asyncio.wait_for(everyone.wait(), 10)
        return version

    spot = {"lon": WEST + 0.0055, "lat": SOUTH + 0.0055, "radius_m": 300}
    before = nearby(client, admin, site.park, **spot)
    sql(database_url, "UPDATE device SET lon = lon + 0.00001 WHERE id = %s", site.outside)
    builds = cache.builds
    monkeypatch.setattr(spatial.repository, "asset_version", gathered)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: nearby(client, admin, site.park, **spot), range(6)))
    assert read == 6
    assert cache.builds == builds + 1
    assert all(answer == answers[0] for answer in answers)
    assert [d["id"] for d in answers[0]] == [d["id"] for d in before]


def version(database_url: str, park: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT version FROM asset_version WHERE park_id = %s", (park,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_the_asset_version_moves_with_assets_not_with_readings(
    client: TestClient, admin: dict[str, str], database_url: str, site: Site
) -> None:
    start = version(database_url, site.park)
    sql(
        database_url,
        "UPDATE device SET status = 'offline', last_seen_at = now() WHERE park_id = %s",
        site.park,
    )
    assert version(database_url, site.park) == start
    sql(database_url, "UPDATE device SET lon = lon + 0.0001 WHERE id = %s", site.outside)
    assert version(database_url, site.park) == start + 1
    client.patch(
        f"/api/v1/parks/{site.park}/parcels/{site.parcel['id']}", json={"name": "x"}, headers=admin
    )
    assert version(database_url, site.park) == start + 2


points_st = st.lists(
    st.tuples(st.floats(120.70, 120.72), st.floats(31.30, 31.32)), min_size=1, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(
    items=points_st,
    boxes=st.lists(
        st.tuples(st.floats(120.70, 120.72), st.floats(31.30, 31.32), st.floats(1e-5, 2e-3)),
        min_size=1,
        max_size=20,
    ),
    at=st.tuples(st.floats(120.69, 120.73), st.floats(31.29, 31.33)),
    radius=st.floats(1, 3000),
    n=st.integers(1, 10),
)
def test_the_index_answers_as_a_scan_does(
    items: list[tuple[float, float]],
    boxes: list[tuple[float, float, float]],
    at: tuple[float, float],
    radius: float,
    n: int,
) -> None:
    devices = Layer.build(
        "device", [(f"d{i}", {}, shapely.Point(x, y)) for i, (x, y) in enumerate(items)]
    )
    buildings = Layer.build(
        "building",
        [(f"b{i}", {}, shapely.box(x, y, x + s, y + s)) for i, (x, y, s) in enumerate(boxes)],
    )
    for layer in (devices, buildings):
        assert layer.within(*at, radius) == layer.within(*at, radius, brute_force=True)
        assert layer.nearest(*at, n) == layer.nearest(*at, n, brute_force=True)
        assert layer.containing(*at) == layer.containing(*at, brute_force=True)
    rows = [(f"d{i}", x, y) for i, (x, y) in enumerate(items)]
    vectorised = Layer.at_points(
        "device",
        [r[0] for r in rows],
        RowProps(rows, lambda r: {"location": {"lon": r[1], "lat": r[2]}}),
        [r[1] for r in rows],
        [r[2] for r in rows],
    )
    assert vectorised.within(*at, radius) == devices.within(*at, radius)
    assert vectorised.nearest(*at, n) == devices.nearest(*at, n)
    assert vectorised.containing(*at) == devices.containing(*at)
    assert vectorised.points and vectorised.positions == devices.positions
    assert [p["location"] for p in vectorised.props] == [{"lon": x, "lat": y} for x, y in items]
    assert vectorised.props[-1] == {"location": {"lon": items[-1][0], "lat": items[-1][1]}}
