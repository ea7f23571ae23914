"""Pure emergency calculations: zone reach and shapes (with the downwind stretch), alarm
grouping, people per zone, the incident lifecycle and warning levels.

Zones are measured on the WGS84 ellipsoid (``app.core.geodesy.GEOD``). A zone of radius ``r``
reaches ``r`` in every direction, stretched downwind: at azimuth ``az`` (degrees clockwise from
north) it reaches ``r * (1 + (stretch - 1) * max(0, cos(az - downwind)))``, so ``stretch * r``
straight downwind, ``r`` crosswind and upwind. ``downwind`` is where the wind blows to: the
meteorological wind direction (where it comes from) plus 180°.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon

from app.core.geodesy import GEOD, distances_m
from app.core.severity import COLORS, SEVERITIES, Severity

LEVELS = ("red", "orange", "yellow", "blue")
"""Warning levels, highest first: 一级 red, 二级 orange, 三级 yellow, 四级 blue."""

LEVEL_SEVERITY: dict[str, Severity] = {COLORS[severity]: severity for severity in SEVERITIES}
"""The webhook severity of an incident event at each level: the alarm severity of the same
colour (app/core/severity.py; red critical, orange major, yellow minor, blue warning)."""

STATUSES = ("reported", "responding", "contained", "closed")
"""The lifecycle, in order; an incident only moves forward (steps may be skipped)."""

ZONE_STEPS = 72


def downwind_of(wind_from_deg: float | None) -> float | None:
    """Where the wind blows to, from the meteorological direction it comes from."""
    return None if wind_from_deg is None else (wind_from_deg + 180.0) % 360.0


def stretch_factor(azimuth_deg: float, downwind_deg: float | None, stretch: float) -> float:
    """How far a zone reaches at ``azimuth_deg``, as a multiple of its radius (>= 1)."""
    if downwind_deg is None or stretch <= 1.0:
        return 1.0
    along = math.cos(math.radians(azimuth_deg - downwind_deg))
    return 1.0 + (stretch - 1.0) * max(0.0, along)


def max_reach_m(radius_m: float, downwind_deg: float | None, stretch: float) -> float:
    """The farthest a zone reaches in any direction."""
    return radius_m * (1.0 if downwind_deg is None else max(1.0, stretch))


def reaches(
    lon: float,
    lat: float,
    radius_m: float,
    downwind_deg: float | None,
    stretch: float,
    lons: NDArray[np.float64],
    lats: NDArray[np.float64],
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Which points lie in the zone (exactly, by geodesic azimuth and distance), and their
    distances from the source."""
    (inside,), dist = reaches_all(lon, lat, [radius_m], downwind_deg, stretch, lons, lats)
    return inside, dist


def reaches_all(
    lon: float,
    lat: float,
    radii_m: Sequence[float],
    downwind_deg: float | None,
    stretch: float,
    lons: NDArray[np.float64],
    lats: NDArray[np.float64],
) -> tuple[list[NDArray[np.bool_]], NDArray[np.float64]]:
    """``reaches`` for several radii around one source: one geodesic solve for them all."""
    if len(lons) == 0:
        return [np.zeros(0, dtype=bool) for _ in radii_m], np.zeros(0)
    az, _back, dist = GEOD.inv(np.full(len(lons), lon), np.full(len(lats), lat), lons, lats)
    az, dist = np.asarray(az, dtype=np.float64), np.asarray(dist, dtype=np.float64)
    if downwind_deg is None or stretch <= 1.0:
        factor = np.ones(len(lons))
    else:
        along = np.cos(np.radians(az - downwind_deg))
        factor = 1.0 + (stretch - 1.0) * np.maximum(0.0, along)
    return [dist <= radius_m * factor + 1e-6 for radius_m in radii_m], dist


def zone_polygon(
    lon: float,
    lat: float,
    radius_m: float,
    downwind_deg: float | None,
    stretch: float,
    steps: int = ZONE_STEPS,
) -> Polygon:
    """The zone's outline in lon/lat: ``steps`` geodesic points at the zone's reach."""
    azimuths = np.arange(steps) * (360.0 / steps)
    reach = [radius_m * stretch_factor(float(a), downwind_deg, stretch) for a in azimuths]
    lons, lats, _back = GEOD.fwd(np.full(steps, lon), np.full(steps, lat), azimuths, reach)
    return Polygon(zip(np.asarray(lons).tolist(), np.asarray(lats).tolist(), strict=True))


@dataclass(frozen=True)
class OpenIncident:
    """An open incident as the grouping sees it: its type, the newest alarm time and the
    points of its detectors."""

    id: str
    type: str
    last_alarm_at: datetime
    points: Sequence[tuple[float, float]]


def pick_incident(
    incidents: Sequence[OpenIncident],
    *,
    type_: str,
    lon: float,
    lat: float,
    at: datetime,
    window_s: float,
    distance_m: float,
) -> str | None:
    """The open incident a new alarm belongs to: same type, raised no later than
    ``window_s`` after the incident's newest alarm, within ``distance_m`` of one of its
    detectors; the nearest such, or None (open a new incident)."""
    best: tuple[float, str] | None = None
    for incident in incidents:
        if incident.type != type_ or not incident.points:
            continue
        if (at - incident.last_alarm_at).total_seconds() > window_s:
            continue
        lons = np.array([p[0] for p in incident.points], dtype=np.float64)
        lats = np.array([p[1] for p in incident.points], dtype=np.float64)
        nearest = float(np.min(distances_m(lon, lat, lons, lats)))
        if nearest <= distance_m and (best is None or (nearest, incident.id) < best):
            best = (nearest, incident.id)
    return None if best is None else best[1]


def people_shares(employees: float | None, areas: Sequence[float]) -> list[float]:
    """An enterprise's head count spread over its leased pieces in proportion to their area
    (equally when no piece has an area)."""
    if not employees or not areas:
        return [0.0] * len(areas)
    total = sum(areas)
    if total <= 0:
        return [employees / len(areas)] * len(areas)
    return [employees * a / total for a in areas]


def can_move(current: str, target: str) -> bool:
    """Forward only along ``STATUSES``; nothing moves out of ``closed``."""
    return STATUSES.index(target) > STATUSES.index(current)


def seconds_left(due_at: datetime, now: datetime) -> float:
    """Seconds until the report deadline (negative once it has passed)."""
    return (due_at - now).total_seconds()
