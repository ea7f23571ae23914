"""The import's warning for coordinates that look already shifted to GCJ-02 or BD-09."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from shapely.geometry import Point, box

from app.assets import crs
from app.assets.imports.shift import judge
from tests.assets.land_util import SOUTH, WEST, new_id, parcel, park_with_boundary, square
from tests.assets.test_import import post


def shifted(geometry: dict[str, Any], target: crs.Crs) -> dict[str, Any]:
    """The polygon as a map widget in ``target`` would have traced it."""
    return crs.from_wgs84(geometry, target)


def features(footprints: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": footprint,
                "properties": {"id": new_id("b"), "name": f"{i + 1}号楼", "floors": 3},
            }
            for i, footprint in enumerate(footprints)
        ],
    }


def test_footprints_traced_on_a_gcj02_map_are_flagged(
    client: TestClient, admin: dict[str, str]
) -> None:
    park_id = park_with_boundary(client, admin)  # 0.02° square near Suzhou
    parcel(client, admin, park_id, square(WEST + 0.002, SOUTH + 0.002, 0.006))
    # Two buildings inside the parcel, traced in GCJ-02: near Suzhou that moves them about
    # 0.0045° east and 0.002° south, out of the parcel but still inside the park.
    true = [square(WEST + 0.004, SOUTH + 0.004, 0.001), square(WEST + 0.006, SOUTH + 0.005, 0.001)]
    response = post(
        client, admin, park_id, "buildings", features([shifted(g, "gcj02") for g in true])
    )
    assert response.status_code == 200, response.text
    [warning] = response.json()["warnings"]
    assert (warning["code"], warning["crs"], warning["rows"]) == (
        "coordinates_look_shifted",
        "gcj02",
        [1, 2],
    )
    assert "GCJ-02" in warning["detail"] and "WGS-84" in warning["detail"]

    clean = post(client, admin, park_id, "buildings", features(true))
    assert clean.status_code == 200 and clean.json()["warnings"] == []


def test_a_refused_import_still_says_why_it_may_be_off(
    client: TestClient, admin: dict[str, str]
) -> None:
    """No parcels: the park boundary is the reference. BD-09 moves a point near the east edge
    out of the park, so the import is refused, and the 422 carries the hint."""
    park_id = park_with_boundary(client, admin)
    true = square(WEST + 0.0175, SOUTH + 0.01, 0.001)
    response = post(client, admin, park_id, "buildings", features([shifted(true, "bd09")]))
    assert response.status_code == 422
    body = response.json()
    assert "not inside the park" in body["errors"][0]["reason"]
    assert [(w["crs"], w["rows"]) for w in body["warnings"]] == [("bd09", [1])]


def test_a_minority_of_odd_rows_is_not_a_shift() -> None:
    """Three rows fit the reference as they are and one fits only once moved back: that is
    one odd row, not a file in another system."""
    reference = box(120.70, 31.30, 120.71, 31.31)
    inside = [(i, Point(120.701 + i * 0.002, 31.305)) for i in (1, 2, 3)]
    lon, lat = crs.wgs84_to_gcj02(120.709, 31.301)
    odd = [(4, Point(lon, lat))]
    assert judge(inside + odd, reference, "boundary") is None
    assert judge(odd, reference, "boundary") is not None
