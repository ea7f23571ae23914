"""Pure zones of a toxic release, the way the Emergency Response Guidebook (ERG 2024) draws them.

- The initial isolation zone is a circle of the isolation distance around the source, in all
  directions.
- The protective action zone is a square downwind: its length and width equal the protective
  action distance, the source at the middle of its upwind side (ERG 2024, "How to use Table 1").
  So a point is in it when its along-wind distance is in [0, PAD] and its crosswind distance at
  most PAD / 2.
- Wind speed picks the row of ERG 2024 Table 3: low wind < 10 km/h, moderate 10–20 km/h, high
  > 20 km/h (Table 1 rows hold for any wind). It also gives the plume's arrival time at a point
  (along-wind distance / wind speed), which the impact analysis shows.
- Calm (wind under the type's ``calm_wind_m_s``, a park setting, 0.5 m/s by default) or no wind
  known: the direction is unknown, so the protective zone is a circle of radius PAD (the
  conservative reading).
- Day or night: ERG's day is sunrise to sunset; here the park-local hours ``day_from_h`` to
  ``day_until_h`` of the type's settings (06:00–18:00 by default, a park setting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon

from app.core.geodesy import GEOD

LOW_KMH, HIGH_KMH = 10.0, 20.0
"""ERG 2024 Table 3 wind bands: low < 10 km/h (6 mph), moderate 10–20 km/h, high > 20 km/h."""


def wind_band(speed_m_s: float | None) -> str:
    """The ERG Table 3 band of a wind speed; unknown counts as low (the longest distances)."""
    if speed_m_s is None:
        return "low"
    kmh = speed_m_s * 3.6
    if kmh < LOW_KMH:
        return "low"
    return "moderate" if kmh <= HIGH_KMH else "high"


def period(local_hour: int, day_from_h: int = 6, day_until_h: int = 18) -> str:
    """ERG's day or night at a park-local hour (the day's hours: a park setting)."""
    return "day" if day_from_h <= local_hour < day_until_h else "night"


@dataclass(frozen=True)
class Corridor:
    """An isolation circle plus (``downwind_deg`` known) the protective square downwind, or
    (unknown) a protective circle."""

    isolation_m: float
    protective_m: float
    downwind_deg: float | None

    def contains(self, az: NDArray[np.float64], dist: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Points (geodesic azimuth and distance from the source) in the zone."""
        if self.downwind_deg is None:
            return dist <= max(self.isolation_m, self.protective_m) + 1e-6
        rad = np.radians(az - self.downwind_deg)
        along, across = dist * np.cos(rad), dist * np.abs(np.sin(rad))
        square = (along >= -1e-6) & (along <= self.protective_m + 1e-6)
        square &= across <= self.protective_m / 2 + 1e-6
        return square | (dist <= self.isolation_m + 1e-6)

    def reach_m(self) -> float:
        """How far downwind the zone reaches."""
        return max(self.isolation_m, self.protective_m)

    def outer_m(self) -> float:
        """The farthest any point of the zone lies from the source (the square's far corners)."""
        if self.downwind_deg is None:
            return self.reach_m()
        return max(self.isolation_m, self.protective_m * math.sqrt(1.25))

    def polygon(self, lon: float, lat: float, steps: int = 72) -> Polygon:
        """The outline: the circle, and the square's corners where the square sticks out."""
        circle = _ring(lon, lat, [(a, self.isolation_m) for a in _angles(steps)])
        if self.downwind_deg is None:
            return _ring(lon, lat, [(a, self.reach_m()) for a in _angles(steps)]).union(circle)
        d, half = self.protective_m, self.protective_m / 2
        corners = [(0.0, -half), (d, -half), (d, half), (0.0, half)]
        square = _ring(
            lon,
            lat,
            [
                (self.downwind_deg + math.degrees(math.atan2(y, x)), math.hypot(x, y))
                for x, y in corners
            ],
        )
        outline = square.union(circle)
        return outline if isinstance(outline, Polygon) else outline.convex_hull


def _angles(steps: int) -> list[float]:
    return [i * 360.0 / steps for i in range(steps)]


def _ring(lon: float, lat: float, polar: list[tuple[float, float]]) -> Polygon:
    n = len(polar)
    az = np.array([a for a, _ in polar])
    dist = np.array([d for _, d in polar])
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, dist)
    return Polygon(zip(np.asarray(lons).tolist(), np.asarray(lats).tolist(), strict=True))


def arrival_s(along_m: float, speed_m_s: float | None, calm_m_s: float = 0.5) -> float | None:
    """Seconds for the plume to travel ``along_m`` downwind (None without a usable wind)."""
    if speed_m_s is None or speed_m_s < calm_m_s or along_m < 0:
        return None
    return along_m / speed_m_s
