"""``?crs=``: WGS-84 to GCJ-02 / BD-09 and back (app/assets/crs.py), and the map and spatial
answers in the map widgets' coordinates."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from app.assets import crs
from app.assets.geo import GEOD
from tests.assets.land_util import SOUTH, WEST, building, park_with_boundary, square

# Reference points of eviltransform's test suite (github.com/googollee/eviltransform,
# python/test.py, MIT): WGS-84 -> GCJ-02, (lon, lat).
WGS_GCJ = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]
# The same suite's BD-09 -> WGS-84 points. They differ from the published formulas (ours,
# and eviltransform's own) by 10 to 40 m: see test_bd09_reference_points.
BD_WGS = [
    ((120.019809, 29.199786), (120.00877901149691, 29.196131605295484)),
    ((120.036455, 29.210504), (120.0253853970846, 29.206795749156136)),
]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_gcj02_reference_points(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    assert crs.wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)
    assert crs.gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-9)  # exact inverse


@pytest.mark.parametrize(("bd", "wgs"), BD_WGS)
def test_bd09_reference_points(bd: tuple[float, float], wgs: tuple[float, float]) -> None:
    ours = crs.bd09_to_wgs84(*bd)
    assert crs.wgs84_to_bd09(*ours) == pytest.approx(bd, abs=1e-9)
    # eviltransform's expected values come from elsewhere (probably Baidu's own converter,
    # which is not the published formula): within 50 m of them.
    assert metres(ours, wgs) < 50


def test_bd09_offset_by_hand() -> None:
    """At (0, 0): z = 0 + 0.00002 sin(0) = 0, so BD-09 is just Baidu's offset (0.0065, 0.006)."""
    assert crs.gcj02_to_bd09(0.0, 0.0) == pytest.approx((0.0065, 0.006), abs=1e-12)


def test_outside_china_nothing_moves() -> None:
    paris = (2.3522, 48.8566)
    assert crs.wgs84_to_gcj02(*paris) == paris
    assert crs.wgs84_to_bd09(*paris) == paris
    assert crs.gcj02_to_wgs84(*paris) == paris


@given(
    st.floats(min_value=73.0, max_value=135.0),
    st.floats(min_value=18.0, max_value=53.0),
    st.sampled_from(["gcj02", "bd09"]),
)
def test_round_trips_are_exact(lon: float, lat: float, name: str) -> None:
    target: crs.Crs = "gcj02" if name == "gcj02" else "bd09"
    moved = crs.FROM_WGS84[target](lon, lat)
    assert 1 < metres((lon, lat), moved) < 2000  # real everywhere (44 m at 97 E 37 N), < 2 km
    assert crs.TO_WGS84[target](*moved) == pytest.approx((lon, lat), abs=1e-9)


def test_convert_moves_geometries_and_locations_only() -> None:
    answer: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [121.5272106, 31.1774276, 12.0]},
                "properties": {"kind": "device", "lon": "not a number", "status": "normal"},
            },
            {"type": "Feature", "geometry": None, "properties": {"kind": "park"}},
        ],
        "items": [{"id": "d1", "location": {"lon": 116.377817, "lat": 39.911954}}],
    }
    moved = crs.from_wgs84(answer, "gcj02")
    point = moved["features"][0]["geometry"]["coordinates"]
    assert point[:2] == pytest.approx(list(WGS_GCJ[0][1]), abs=1e-9) and point[2] == 12.0
    assert moved["features"][0]["properties"] == answer["features"][0]["properties"]
    assert moved["features"][1] == answer["features"][1]
    location = moved["items"][0]["location"]
    assert (location["lon"], location["lat"]) == pytest.approx(WGS_GCJ[2][1], abs=1e-9)
    assert answer["items"][0]["location"]["lon"] == 116.377817  # the input is not changed
    assert crs.from_wgs84(answer, "wgs84") is answer


def _building_feature(answer: dict[str, Any], building_id: str) -> dict[str, Any]:
    return next(f for f in answer["features"] if f["properties"]["id"] == building_id)


def test_map_and_spatial_answers_in_gcj02(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park_id = park_with_boundary(client, admin)
    made = building(client, admin, park_id, square(WEST + 0.005, SOUTH + 0.005, 0.002))
    base = f"/api/v1/parks/{park_id}"
    wgs = client.get(f"{base}/map", headers=viewer).json()
    gcj = client.get(f"{base}/map", params={"crs": "gcj02"}, headers=viewer)
    assert gcj.status_code == 200
    ring_wgs = _building_feature(wgs, made["id"])["geometry"]["coordinates"][0]
    ring_gcj = _building_feature(gcj.json(), made["id"])["geometry"]["coordinates"][0]
    for (lon, lat), moved in zip(ring_wgs, ring_gcj, strict=True):
        assert moved == pytest.approx(list(crs.wgs84_to_gcj02(lon, lat)), abs=1e-9)
    etag = gcj.headers["etag"]
    assert etag != client.get(f"{base}/map", headers=viewer).headers["etag"]
    again = client.get(f"{base}/map?crs=gcj02", headers={**viewer, "If-None-Match": etag})
    assert again.status_code == 304

    # A point given in GCJ-02 is the same place: the building holds it in both systems.
    centre = (WEST + 0.006, SOUTH + 0.006)
    centre_gcj = crs.wgs84_to_gcj02(*centre)
    lon, lat = centre_gcj
    found = client.get(
        f"{base}/spatial/containing",
        params={"lon": lon, "lat": lat, "crs": "gcj02"},
        headers=viewer,
    ).json()
    assert found["building"]["id"] == made["id"]
    # Read as WGS-84, the GCJ-02 numbers are ~500 m away: outside the 200 m building.
    shifted = client.get(
        f"{base}/spatial/containing", params={"lon": lon, "lat": lat}, headers=viewer
    ).json()
    assert shifted["building"] is None
    twin = client.get(f"{base}/buildings/{made['id']}/twin?crs=bd09", headers=viewer).json()
    corner = twin["footprint"]["coordinates"][0][0]
    assert corner == pytest.approx(list(crs.wgs84_to_bd09(WEST + 0.005, SOUTH + 0.005)), abs=1e-9)
    assert client.get(f"{base}/map?crs=epsg3857", headers=viewer).status_code == 422


def test_nearby_locations_in_bd09(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park_id = park_with_boundary(client, admin)
    base = f"/api/v1/parks/{park_id}"
    spot = (WEST + 0.01, SOUTH + 0.01)
    body = {
        "id": "gas-1",
        "type": "gas_detector",
        "name": "气体探测器",
        "location": {"lon": spot[0], "lat": spot[1]},
    }
    assert client.post(f"{base}/devices", json=body, headers=admin).status_code == 201
    lon, lat = crs.wgs84_to_bd09(*spot)
    answer = client.get(
        f"{base}/spatial/nearby",
        params={"lon": lon, "lat": lat, "radius_m": 5, "kind": "device", "crs": "bd09"},
        headers=viewer,
    ).json()
    [item] = answer["items"]
    assert item["id"] == "gas-1" and item["distance_m"] == pytest.approx(0, abs=0.01)
    assert (item["location"]["lon"], item["location"]["lat"]) == pytest.approx((lon, lat))
