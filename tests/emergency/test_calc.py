"""The pure emergency calculations: zone reach and outline, the downwind stretch, grouping,
people shares, the lifecycle (unit and property tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from app.core.geodesy import GEOD
from app.emergency import calc
from tests.emergency.support import LAT, LON

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def at_bearing(azimuth: float, distance: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(LON, LAT, azimuth, distance)
    return float(lon), float(lat)


def test_downwind_is_opposite_the_wind_direction() -> None:
    assert calc.downwind_of(0.0) == 180.0
    assert calc.downwind_of(270.0) == 90.0
    assert calc.downwind_of(None) is None


def test_stretch_reaches_full_downwind_and_none_upwind_or_crosswind() -> None:
    assert calc.stretch_factor(180.0, 180.0, 2.0) == pytest.approx(2.0)
    assert calc.stretch_factor(90.0, 180.0, 2.0) == pytest.approx(1.0)
    assert calc.stretch_factor(0.0, 180.0, 2.0) == pytest.approx(1.0)
    assert calc.stretch_factor(120.0, 180.0, 3.0) == pytest.approx(1 + 2 * 0.5)
    assert calc.stretch_factor(33.0, None, 3.0) == 1.0


def test_reaches_decides_points_by_geodesic_distance_and_azimuth() -> None:
    points = [at_bearing(180.0, 550.0), at_bearing(0.0, 350.0), at_bearing(90.0, 299.0)]
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    inside, dist = calc.reaches(LON, LAT, 300.0, 180.0, 2.0, lons, lats)
    assert inside.tolist() == [True, False, True]
    assert dist.tolist() == pytest.approx([550.0, 350.0, 299.0], abs=1e-6)
    still, _ = calc.reaches(LON, LAT, 300.0, None, 2.0, lons, lats)
    assert still.tolist() == [False, False, True]


def test_zone_polygon_is_a_circle_without_wind() -> None:
    polygon = calc.zone_polygon(LON, LAT, 100.0, None, 2.0)
    assert polygon.is_valid
    for lon, lat in list(polygon.exterior.coords)[:-1]:
        _az, _b, d = GEOD.inv(LON, LAT, lon, lat)
        assert d == pytest.approx(100.0, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    radius=st.floats(10, 2000),
    wind=st.one_of(st.none(), st.floats(0, 359.9)),
    stretch=st.floats(1, 4),
    azimuth=st.floats(0, 359.9),
    fraction=st.floats(0.01, 1.5),
)
def test_points_and_outline_agree_away_from_the_edge(
    radius: float, wind: float | None, stretch: float, azimuth: float, fraction: float
) -> None:
    """A point clearly inside (outside) the analytic zone is inside (outside) its outline."""
    downwind = calc.downwind_of(wind)
    reach = radius * calc.stretch_factor(azimuth, downwind, stretch)
    if abs(fraction - 1.0) < 0.03:
        fraction = 0.9
    lon, lat = at_bearing(azimuth, reach * fraction)
    inside, _ = calc.reaches(LON, LAT, radius, downwind, stretch, np.array([lon]), np.array([lat]))
    polygon = calc.zone_polygon(LON, LAT, radius, downwind, stretch)
    assert bool(inside[0]) == (fraction < 1.0)
    assert polygon.contains(Point(lon, lat)) == (fraction < 1.0)


@settings(max_examples=60, deadline=None)
@given(
    radius=st.floats(10, 2000),
    wind=st.floats(0, 359.9),
    stretch=st.floats(1, 4),
    azimuth=st.floats(0, 359.9),
)
def test_wind_only_grows_a_zone(radius: float, wind: float, stretch: float, azimuth: float) -> None:
    """Whatever the wind, the still-air circle stays inside the zone, and nothing lies
    beyond the maximum reach."""
    downwind = calc.downwind_of(wind)
    assert calc.stretch_factor(azimuth, downwind, stretch) >= 1.0
    reach = radius * calc.stretch_factor(azimuth, downwind, stretch)
    assert reach <= calc.max_reach_m(radius, downwind, stretch) + 1e-9


def incident(id_: str, points: list[tuple[float, float]], last: datetime = T0) -> calc.OpenIncident:
    return calc.OpenIncident(id=id_, type="gas_leak", last_alarm_at=last, points=points)


def test_an_alarm_near_and_soon_joins_the_nearest_incident() -> None:
    near, far = at_bearing(90.0, 150.0), at_bearing(90.0, 180.0)
    found = calc.pick_incident(
        [incident("far", [far]), incident("near", [near])],
        type_="gas_leak",
        lon=LON,
        lat=LAT,
        at=T0 + timedelta(minutes=5),
        window_s=600,
        distance_m=200,
    )
    assert found == "near"


@pytest.mark.parametrize(
    ("distance", "minutes", "type_", "joins"),
    [
        (199.0, 9.9, "gas_leak", True),
        (201.0, 1.0, "gas_leak", False),  # too far
        (50.0, 10.1, "gas_leak", False),  # too late
        (50.0, 1.0, "fire", False),  # another type
        (50.0, -30.0, "gas_leak", True),  # an older alarm seen late still belongs
    ],
)
def test_grouping_rules(distance: float, minutes: float, type_: str, joins: bool) -> None:
    found = calc.pick_incident(
        [incident("i", [at_bearing(45.0, distance)])],
        type_=type_,
        lon=LON,
        lat=LAT,
        at=T0 + timedelta(minutes=minutes),
        window_s=600,
        distance_m=200,
    )
    assert (found == "i") is joins


def test_grouping_measures_to_every_detector_of_the_incident() -> None:
    """A chain of detectors 150 m apart stays one incident."""
    points = [at_bearing(0.0, 150.0 * k) for k in range(1, 4)]
    found = calc.pick_incident(
        [incident("i", points)],
        type_="gas_leak",
        lon=points[-1][0],
        lat=points[-1][1] + 0.0012,
        at=T0,
        window_s=600,
        distance_m=200,
    )
    assert found == "i"


@given(
    employees=st.integers(0, 100_000),
    areas=st.lists(st.floats(0, 1e5), min_size=1, max_size=8),
)
def test_people_shares_add_up(employees: int, areas: list[float]) -> None:
    shares = calc.people_shares(employees, areas)
    assert len(shares) == len(areas)
    assert sum(shares) == pytest.approx(employees, rel=1e-9, abs=1e-6)
    assert all(s >= 0 for s in shares)


def test_people_shares_by_area() -> None:
    assert calc.people_shares(80, [300.0, 100.0]) == [60.0, 20.0]
    assert calc.people_shares(None, [1.0]) == [0.0]


def test_lifecycle_only_moves_forward() -> None:
    assert calc.can_move("reported", "responding")
    assert calc.can_move("reported", "closed")
    assert calc.can_move("contained", "closed")
    assert not calc.can_move("contained", "responding")
    assert not calc.can_move("responding", "responding")
    assert not calc.can_move("closed", "closed")


def test_seconds_left() -> None:
    assert calc.seconds_left(T0 + timedelta(hours=1), T0) == 3600.0
    assert calc.seconds_left(T0, T0 + timedelta(seconds=5)) == -5.0
