"""Hand-computed checks of the pure safety rules: accident grades on the bounds of 条例 Art. 3,
the reporting clocks of Art. 9 and 13, R and levels of GB 18218-2018, and a toxic corridor's
reach in a wind (ERG 2024)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.geodesy import GEOD
from app.emergency import accident, hazard, toxic
from app.emergency.accident import Casualties

WAN = Decimal(10_000)  # 1万 yuan
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def grade_of(deaths: int = 0, serious: int = 0, loss_wan: int = 0) -> str | None:
    found = accident.grade(Casualties(deaths, serious, 0, 0, loss_wan * WAN))
    return None if found is None else found.id


@pytest.mark.parametrize(
    ("deaths", "serious", "loss_wan", "expected"),
    [
        # 条例 Art. 3: 较大 from 3 deaths, 10 serious injuries, 1000万 yuan ("以上" includes)
        (3, 0, 0, "larger"),
        (2, 0, 0, "general"),
        (0, 10, 0, "larger"),
        (0, 9, 0, "general"),
        (0, 0, 1000, "larger"),  # 10,000,000 yuan
        (0, 0, 999, "general"),  # 9,990,000 yuan: "以下" excludes the bound
        # 重大 from 10 deaths, 50 serious injuries, 5000万
        (10, 0, 0, "major"),
        (9, 0, 0, "larger"),
        (0, 50, 0, "major"),
        (0, 49, 0, "larger"),
        (0, 0, 5000, "major"),
        (0, 0, 4999, "larger"),
        # 特别重大 from 30 deaths, 100 serious injuries, 1亿
        (30, 0, 0, "especially_major"),
        (29, 0, 0, "major"),
        (0, 100, 0, "especially_major"),
        (0, 99, 0, "major"),
        (0, 0, 10000, "especially_major"),
        (0, 0, 9999, "major"),
        # the highest criterion wins: 1 death (一般) but 60 serious injuries (重大)
        (1, 60, 0, "major"),
        (2, 9, 999, "general"),
    ],
)
def test_accident_grade_on_the_bounds(
    deaths: int, serious: int, loss_wan: int, expected: str
) -> None:
    assert grade_of(deaths, serious, loss_wan) == expected


def test_loss_just_below_ten_million_by_one_yuan_is_general() -> None:
    below = accident.grade(Casualties(direct_loss_yuan=Decimal("9999999.99")))
    assert below is not None and below.id == "general"


def test_no_casualties_and_no_loss_is_a_hazard_event_not_an_accident() -> None:
    assert grade_of() is None
    assert not Casualties().is_accident()
    assert Casualties(minor_injuries=1).is_accident()  # a minor injury: 一般 accident
    assert accident.grade(Casualties(minor_injuries=1)).id == "general"  # type: ignore[union-attr]


def test_report_clock_counts_from_learning_of_the_accident() -> None:
    # Art. 9: 1 hour from when the unit learned of it. Learned 10:00, injuries known 10:20.
    learned, known = T0, T0 + timedelta(minutes=20)
    assert accident.report_due(learned, known, 3600) == T0 + timedelta(minutes=80)
    # casualties back-dated before the unit knew of the event: the clock still starts at 10:00
    assert accident.report_due(learned, T0 - timedelta(hours=2), 3600) == T0 + timedelta(hours=1)
    assert accident.late(T0 + timedelta(minutes=61), T0 + timedelta(hours=1)) is True
    assert accident.late(T0 + timedelta(minutes=60), T0 + timedelta(hours=1)) is False
    assert accident.late(T0, None) is None  # a 险情: nothing due, never late


def test_supplement_window_30_days_or_7_for_fire_and_road_traffic() -> None:
    # Art. 13
    assert accident.within_supplement_window(T0, T0 + timedelta(days=30), 30)
    assert not accident.within_supplement_window(T0, T0 + timedelta(days=30, seconds=1), 30)
    assert accident.within_supplement_window(T0, T0 + timedelta(days=7), 7)
    assert not accident.within_supplement_window(T0, T0 + timedelta(days=8), 7)


@pytest.mark.parametrize(
    ("people", "alpha"),
    # GB 18218-2018 Table 5
    [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0)],
)
def test_alpha_by_exposed_population(people: int, alpha: float) -> None:
    assert hazard.alpha(people) == alpha


@pytest.mark.parametrize(
    ("r", "level"),
    # GB 18218-2018 Table 6: 一级 ≥ 100, 二级 [50, 100), 三级 [10, 50), 四级 < 10
    [(100.0, 1), (99.99, 2), (50.0, 2), (49.99, 3), (10.0, 3), (9.99, 4), (1.0, 4)],
)
def test_level_bounds(r: float, level: int) -> None:
    assert hazard.level(r)[0] == level


def test_chlorine_store_hand_computed() -> None:
    """A chlorine store: 20 t chlorine (Q 5 t, β 4) and 5 t ammonia (Q 10 t, β 2), 60 people
    within 500 m (α 1.5). Σq/Q = 20/5 + 5/10 = 4.5 ≥ 1: a major hazard source.
    R = 1.5 × (4 × 4 + 2 × 0.5) = 1.5 × 17 = 25.5: 三级."""
    items = [hazard.Item("chlorine", 20, 5, 4), hazard.Item("ammonia", 5, 10, 2)]
    found = hazard.assess(items, 60)
    assert found.sum_ratio == pytest.approx(4.5)
    assert found.is_major and found.alpha == 1.5
    assert found.r == pytest.approx(25.5)
    assert (found.level, found.level_zh) == (3, "三级")


def test_level_one_exactly_at_r_100() -> None:
    """Chlorine (Q 5 t, β 4), 100 people exposed (α 2.0): 62.5 t gives R = 2.0 × 4 × 62.5/5
    = 100: 一级, exactly on the bound; 62.4 t gives 99.84: 二级; 12.5 t gives 20: 三级."""
    assert hazard.assess([hazard.Item("chlorine", 62.5, 5, 4)], 100).level == 1
    assert hazard.assess([hazard.Item("chlorine", 62.4, 5, 4)], 100).level == 2
    assert hazard.assess([hazard.Item("chlorine", 12.5, 5, 4)], 100).r == pytest.approx(20.0)


def test_below_critical_quantity_is_not_a_major_hazard() -> None:
    """3.5 t chlorine (3.5/5 = 0.7) and 3 t ammonia (0.3): Σ = 1.0, a major hazard (≥ 1 includes
    the bound); 2 t ammonia instead (0.2): Σ = 0.9, not one, and no R."""
    at_bound = hazard.assess([hazard.Item("c", 3.5, 5, 4), hazard.Item("a", 3, 10, 2)], 10)
    assert at_bound.is_major and at_bound.r == pytest.approx(1.0 * (4 * 0.7 + 2 * 0.3))
    below = hazard.assess([hazard.Item("c", 3.5, 5, 4), hazard.Item("a", 2, 10, 2)], 10)
    assert not below.is_major and below.r is None and below.level is None


@pytest.mark.parametrize(
    ("speed_m_s", "band"),
    # ERG 2024 Table 3: low < 10 km/h, moderate 10–20 km/h, high > 20 km/h
    [
        (None, "low"),
        (2.0, "low"),
        (2.78, "moderate"),
        (4.0, "moderate"),
        (5.55, "moderate"),
        (5.6, "high"),
    ],
)
def test_wind_bands(speed_m_s: float | None, band: str) -> None:
    assert toxic.wind_band(speed_m_s) == band


def test_day_and_night_by_park_local_hour() -> None:
    # ERG: day is sunrise to sunset; the park's setting 06:00-18:00 by default
    assert [toxic.period(h) for h in (5, 6, 17, 18)] == ["night", "day", "day", "night"]
    assert toxic.period(6, day_from_h=7, day_until_h=19) == "night"


def _points(
    lon: float, lat: float, polar: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    n = len(polar)
    lons, lats, _ = GEOD.fwd(
        np.full(n, lon), np.full(n, lat), [a for a, _ in polar], [d for _, d in polar]
    )
    az, _back, dist = GEOD.inv(np.full(n, lon), np.full(n, lat), lons, lats)
    return np.asarray(az), np.asarray(dist)


def test_toxic_corridor_reach_in_a_west_wind() -> None:
    """Wind from the west (270°) at 4 m/s = 14.4 km/h: moderate. Take isolation 1000 m and a
    protective action distance of 6400 m: the square runs 6400 m east, 3200 m either side.
    Inside: 6300 m east; 6000 m east 3100 m north; 900 m west (isolation circle).
    Outside: 6500 m east; 3000 m east 3300 m north; 1100 m west (upwind, past the circle)."""
    corridor = toxic.Corridor(1000.0, 6400.0, downwind_deg=90.0)
    az, dist = _points(
        120.7,
        31.3,
        [
            (90.0, 6300.0),
            (90.0 - np.degrees(np.arctan2(3100, 6000)), float(np.hypot(6000, 3100))),
            (270.0, 900.0),
            (90.0, 6500.0),
            (90.0 - np.degrees(np.arctan2(3300, 3000)), float(np.hypot(3000, 3300))),
            (270.0, 1100.0),
        ],
    )
    assert corridor.contains(az, dist).tolist() == [True, True, True, False, False, False]
    assert corridor.reach_m() == 6400.0
    # the plume covers the 6300 m to the east point in 6300 / 4 = 1575 s
    assert toxic.arrival_s(6300.0, 4.0) == 1575.0
    assert toxic.arrival_s(6300.0, 0.2) is None  # calm: no arrival time


def test_calm_makes_the_protective_zone_a_circle() -> None:
    corridor = toxic.Corridor(300.0, 1900.0, downwind_deg=None)
    az, dist = _points(120.7, 31.3, [(270.0, 1800.0), (0.0, 2000.0)])
    assert corridor.contains(az, dist).tolist() == [True, False]


def test_corridor_polygon_holds_what_contains_holds() -> None:
    corridor = toxic.Corridor(1000.0, 6400.0, downwind_deg=45.0)
    poly = corridor.polygon(120.7, 31.3)
    assert poly.is_valid
    minx, miny, maxx, maxy = poly.bounds
    lon, lat, _ = GEOD.fwd(120.7, 31.3, 45.0, 6300.0)
    assert minx < lon < maxx and miny < lat < maxy


GRADE_ORDER = ["general", "larger", "major", "especially_major"]


@settings(max_examples=200, deadline=None)
@given(
    deaths=st.integers(0, 60),
    serious=st.integers(0, 200),
    loss_wan=st.integers(0, 20_000),
    more=st.integers(1, 50),
)
def test_more_harm_never_lowers_the_grade(
    deaths: int, serious: int, loss_wan: int, more: int
) -> None:
    """Art. 3 is monotone in each criterion: adding deaths, injuries or loss never lowers it."""
    base = grade_of(deaths, serious, loss_wan)
    for worse in (
        grade_of(deaths + more, serious, loss_wan),
        grade_of(deaths, serious + more, loss_wan),
        grade_of(deaths, serious, loss_wan + more),
    ):
        assert worse is not None
        assert base is None or GRADE_ORDER.index(worse) >= GRADE_ORDER.index(base)
