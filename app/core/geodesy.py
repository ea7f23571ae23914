"""Geometry, pure: GeoJSON (WGS84 lon/lat) <-> shapely, validation with reasons, and geodesic
areas and distances on the WGS84 ellipsoid (pyproj.Geod), never in degrees.

Shapely works in plain lon/lat here only for topology (validity, containment, overlap), which
does not depend on the metric. Every number in metres is geodesic. To find the point of a
polygon nearest to a point, the polygon is first put in a local plane around the point (lon
scaled by cos(lat)), where "nearest" is very close to the geodesic answer at park scale; the
distance to that point is then measured on the ellipsoid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod
from shapely.geometry import Point, Polygon, mapping, shape

from app.core.limits import check_polygon_size

SQUARE_METRES_PER_MU = 666.67
"""1 亩 = 666.67 m² (1 ha = 15 亩), as the park's land figures are stated."""

GEOD = Geod(ellps="WGS84")

# Lower bounds of the length of one degree, with a margin: a search box of radius r metres
# built from them always contains every point within r metres (geodesic).
_METRES_PER_DEGREE_LAT_MIN = 110_000.0
_METRES_PER_DEGREE_LON_AT_EQUATOR_MIN = 111_000.0


class GeometryError(ValueError):
    """A geometry that cannot be stored; the message says why."""


def m2_to_mu(area_m2: float) -> float:
    return area_m2 / SQUARE_METRES_PER_MU


def polygon(geojson: dict[str, Any]) -> Polygon:
    """A valid, non-empty shapely Polygon from a GeoJSON Polygon, or GeometryError."""
    if geojson.get("type") != "Polygon":
        raise GeometryError(f"expected a GeoJSON Polygon, got {geojson.get('type')!r}")
    try:
        check_polygon_size(geojson.get("coordinates") or [])
        geometry = shape(geojson)
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise GeometryError(f"not a readable GeoJSON Polygon: {exc}") from exc
    geometry = shapely.force_2d(geometry)
    if geometry.is_empty:
        raise GeometryError("the polygon is empty")
    if not geometry.is_valid:
        raise GeometryError(f"invalid polygon: {shapely.is_valid_reason(geometry)}")
    if geometry.area == 0:
        raise GeometryError("the polygon has no area")
    assert isinstance(geometry, Polygon)
    return geometry


def to_geojson(geometry: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON of a shapely geometry, with lists (not tuples) as JSON has them."""
    result: dict[str, Any] = _listify(mapping(geometry))
    return result


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


def area_m2(geometry: Polygon) -> float:
    """Geodesic area on the WGS84 ellipsoid, in m² (whatever the ring orientation)."""
    area, _perimeter = GEOD.geometry_area_perimeter(geometry)
    return abs(float(area))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance between two points, in metres."""
    _az1, _az2, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return float(dist)


def distances_m(
    lon: float, lat: float, lons: NDArray[np.float64], lats: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Geodesic distances from one point to many, in metres (vectorised)."""
    if len(lons) == 0:
        return np.zeros(0)
    _az1, _az2, dist = GEOD.inv(np.full(len(lons), lon), np.full(len(lats), lat), lons, lats)
    return np.asarray(dist, dtype=np.float64)


def search_box(lon: float, lat: float, radius_m: float) -> Polygon:
    """A lon/lat box that contains every point within ``radius_m`` of (lon, lat)."""
    dlat = radius_m / _METRES_PER_DEGREE_LAT_MIN
    top = min(abs(lat) + dlat, 89.9)
    parallel = _METRES_PER_DEGREE_LON_AT_EQUATOR_MIN * math.cos(math.radians(top))
    dlon = min(radius_m / parallel, 180.0)
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def nearest_points_on(
    geometries: NDArray[np.object_], lon: float, lat: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For each geometry, the lon/lat of its point nearest to (lon, lat) (the point itself
    when the geometry contains it), found in a local plane scaled by cos(lat)."""
    scale = math.cos(math.radians(lat))

    def to_plane(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(((coords[:, 0] - lon) * scale, coords[:, 1] - lat))

    local = shapely.transform(geometries, to_plane)
    lines = shapely.shortest_line(local, Point(0.0, 0.0))
    starts = shapely.get_coordinates(shapely.get_point(lines, 0))
    return starts[:, 0] / scale + lon, starts[:, 1] + lat


def distances_to_geometries_m(
    geometries: NDArray[np.object_], lon: float, lat: float
) -> NDArray[np.float64]:
    """Geodesic distance from (lon, lat) to each geometry: 0 inside, else to its nearest point."""
    if len(geometries) == 0:
        return np.zeros(0)
    lons, lats = nearest_points_on(geometries, lon, lat)
    result = distances_m(lon, lat, lons, lats)
    inside = shapely.intersects_xy(geometries, lon, lat)
    result[inside] = 0.0
    return result


def interiors_overlap(a: Polygon, b: Polygon, tolerance_m2: float = 0.01) -> bool:
    """True when the two polygons share area (more than ``tolerance_m2``), not just an edge."""
    if not shapely.relate_pattern(a, b, "2********"):
        return False
    common = a.intersection(b)
    pieces = [g for g in getattr(common, "geoms", [common]) if isinstance(g, Polygon)]
    return sum(area_m2(p) for p in pieces) > tolerance_m2


def covers(outer: Polygon, inner: Polygon, tolerance_m2: float = 0.01) -> bool:
    """True when ``inner`` lies within ``outer`` (up to ``tolerance_m2`` sticking out)."""
    if outer.covers(inner):
        return True
    outside = inner.difference(outer)
    pieces = [g for g in getattr(outside, "geoms", [outside]) if isinstance(g, Polygon)]
    return sum(area_m2(p) for p in pieces) <= tolerance_m2
