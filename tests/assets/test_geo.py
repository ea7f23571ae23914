"""The pure geometry: polygon checks, geodesic areas and distances, the search box."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from app.core import geodesy as geo

# WGS84
A = 6_378_137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
E = math.sqrt(E2)
B = A * (1 - F)


def _q(lat: float) -> float:
    s = math.sin(math.radians(lat))
    return s / (1 - E2 * s * s) + math.log((1 + E * s) / (1 - E * s)) / (2 * E)


def zone_cell_area(west: float, south: float, east: float, north: float) -> float:
    """Exact ellipsoidal area between two parallels and two meridians (Lambert's formula via
    the authalic q function): the textbook value to check the geodesic area against."""
    return B * B / 2 * math.radians(east - west) * (_q(north) - _q(south))


def square(lon: float, lat: float, size: float) -> dict[str, object]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_area_of_a_known_cell_is_within_half_a_percent() -> None:
    # 0.01° x 0.01° at Suzhou Industrial Park: about 951 m x 1109 m, 105.5 ha.
    expected = zone_cell_area(120.70, 31.30, 120.71, 31.31)
    area = geo.area_m2(geo.polygon(square(120.70, 31.30, 0.01)))
    assert area == pytest.approx(expected, rel=0.005)
    assert area == pytest.approx(expected, rel=1e-5)  # in fact far closer
    assert 1_050_000 < area < 1_060_000


def test_area_agrees_with_a_utm_projection() -> None:
    # UTM zone 51N has a scale error below 0.1% near its central meridian (123°E).
    polygon = geo.polygon(square(122.90, 31.30, 0.02))
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)
    projected = shapely.transform(polygon, lambda c: np.column_stack(to_utm.transform(*c.T)))
    assert geo.area_m2(polygon) == pytest.approx(projected.area, rel=0.005)


def test_mu() -> None:
    assert geo.m2_to_mu(666.67) == pytest.approx(1)
    assert geo.m2_to_mu(10_000) == pytest.approx(15, rel=1e-4)  # 1 ha = 15 亩


def test_a_degree_of_latitude_at_the_equator() -> None:
    assert geo.distance_m(0, 0, 0, 1) == pytest.approx(110_574.4, abs=0.5)


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        ({"type": "Point", "coordinates": [0, 0]}, "expected a GeoJSON Polygon"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}, "invalid"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
                    [[0.5, 0.5], [2, 0.5], [2, 0.6], [0.5, 0.5]],
                ],
            },
            "invalid polygon",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}, "not a readable"),
    ],
    ids=["point", "bowtie", "flat", "hole-outside", "short-ring"],
)
def test_bad_polygons_say_why(geometry: dict[str, object], reason: str) -> None:
    with pytest.raises(geo.GeometryError, match=reason):
        geo.polygon(geometry)


def test_overlap_and_cover() -> None:
    a = geo.polygon(square(120.70, 31.30, 0.01))
    beside = geo.polygon(square(120.71, 31.30, 0.01))
    across = geo.polygon(square(120.705, 31.305, 0.01))
    inner = geo.polygon(square(120.701, 31.301, 0.002))
    assert not geo.interiors_overlap(a, beside)
    assert geo.interiors_overlap(a, across)
    assert geo.covers(a, inner)
    assert not geo.covers(a, across)


def test_distances_to_polygons_and_points() -> None:
    cell = geo.polygon(square(120.70, 31.30, 0.01))
    geometries = np.array([cell, shapely.Point(120.72, 31.30)])
    inside = geo.distances_to_geometries_m(geometries, 120.705, 31.305)
    assert inside[0] == 0
    assert inside[1] == pytest.approx(geo.distance_m(120.705, 31.305, 120.72, 31.30))
    north = geo.distances_to_geometries_m(geometries, 120.705, 31.32)
    assert north[0] == pytest.approx(geo.distance_m(120.705, 31.32, 120.705, 31.31), rel=1e-6)


lons = st.floats(min_value=-170, max_value=170)
lats = st.floats(min_value=-70, max_value=70)


@settings(max_examples=200, deadline=None)
@given(
    lon=lons,
    lat=lats,
    radius=st.floats(min_value=1, max_value=50_000),
    bearing=st.floats(min_value=0, max_value=360),
    fraction=st.floats(min_value=0, max_value=1),
)
def test_the_search_box_holds_every_point_within_the_radius(
    lon: float, lat: float, radius: float, bearing: float, fraction: float
) -> None:
    end_lon, end_lat, _ = geo.GEOD.fwd(lon, lat, bearing, radius * fraction)
    box = geo.search_box(lon, lat, radius)
    assert box.covers(shapely.Point(end_lon, end_lat))


@settings(max_examples=100, deadline=None)
@given(lon=lons, lat=lats, size=st.floats(min_value=1e-4, max_value=0.05))
def test_area_ignores_orientation_and_longitude(lon: float, lat: float, size: float) -> None:
    ring = square(lon, lat, size)["coordinates"][0]  # type: ignore[index]
    reverse = {"type": "Polygon", "coordinates": [ring[::-1]]}
    area = geo.area_m2(geo.polygon(square(lon, lat, size)))
    assert geo.area_m2(geo.polygon(reverse)) == pytest.approx(area)
    assert geo.area_m2(geo.polygon(square(lon + 5, lat, size))) == pytest.approx(area, rel=1e-6)
    expected = zone_cell_area(lon, lat, lon + size, lat + size)
    assert area == pytest.approx(expected, rel=0.005)
