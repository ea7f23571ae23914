"""Output coordinates for Chinese map widgets: WGS-84, GCJ-02 (国测局 "火星坐标", AMap/高德,
Tencent, Google China) and BD-09 (Baidu/百度), pure.

parktwin stores and computes in WGS-84 only; ``?crs=gcj02|bd09`` converts what an answer
carries (GeoJSON coordinates, ``{"lon", "lat"}`` objects) on the way out, and the lon/lat a
spatial query takes on the way in.

- GCJ-02 from WGS-84: the published form of the GB 20263-2006 obfuscation (the offsets in
  metres as functions of (lon - 105, lat - 35), turned into degrees on the Krasovsky 1940
  ellipsoid, a = 6378245 m, e² = 0.00669342162296594323), as in every open implementation
  (eviltransform, coordTransform, PRCoords). Outside China (the usual box 72.004–137.8347 E,
  0.8293–55.8271 N) GCJ-02 is WGS-84 and nothing is shifted.
- BD-09 from GCJ-02: Baidu's published rotation and offset (+0.0065 lon, +0.006 lat).
- The inverses have no closed form: they are solved by fixed-point iteration on the forward
  transform until it reproduces the input within 1e-10 degrees (about 0.01 mm), so a point
  sent in GCJ-02 and answered back in GCJ-02 comes back unchanged.

Not PyPI's ``eviltransform`` (2018), ``coord-convert`` (2019) or ``prcoords`` (2019): none is
maintained or typed, prcoords warns (an error under our test settings) for points outside
China, and ``coordtransform`` ships a compiled extension for a 20-line formula; pyproj has no
GCJ-02 (it is not a geodetic datum). Checked against the reference points of eviltransform's
test suite (tests/assets/test_crs.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

Crs = Literal["wgs84", "gcj02", "bd09"]
CRS_NAMES: tuple[Crs, ...] = ("wgs84", "gcj02", "bd09")

KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
BD_DLON, BD_DLAT = 0.0065, 0.006
BD_X_PI = math.pi * 3000.0 / 180.0
INVERSE_TOLERANCE_DEG = 1e-10
INVERSE_MAX_ROUNDS = 30

LonLat = tuple[float, float]


def in_china(lon: float, lat: float) -> bool:
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _offset_lat_m(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2 / 3
    return ret


def _offset_lon_m(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> LonLat:
    if not in_china(lon, lat):
        return lon, lat
    dlat_m, dlon_m = _offset_lat_m(lon - 105.0, lat - 35.0), _offset_lon_m(lon - 105.0, lat - 35.0)
    rad = math.radians(lat)
    magic = 1 - KRASOVSKY_EE * math.sin(rad) ** 2
    metres_per_deg_lat = math.radians(KRASOVSKY_A * (1 - KRASOVSKY_EE) / magic**1.5)
    metres_per_deg_lon = math.radians(KRASOVSKY_A * math.cos(rad) / math.sqrt(magic))
    return lon + dlon_m / metres_per_deg_lon, lat + dlat_m / metres_per_deg_lat


def gcj02_to_bd09(lon: float, lat: float) -> LonLat:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * BD_X_PI)
    return z * math.cos(theta) + BD_DLON, z * math.sin(theta) + BD_DLAT


def wgs84_to_bd09(lon: float, lat: float) -> LonLat:
    if not in_china(lon, lat):
        return lon, lat
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward: Callable[[float, float], LonLat], lon: float, lat: float) -> LonLat:
    """The point ``p`` with ``forward(p) == (lon, lat)``: fixed-point iteration (the forward
    transforms are the identity plus a slowly varying offset, so it converges in a few
    rounds)."""
    x, y = lon, lat
    for _ in range(INVERSE_MAX_ROUNDS):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        if abs(dx) < INVERSE_TOLERANCE_DEG and abs(dy) < INVERSE_TOLERANCE_DEG:
            break
        x, y = x - dx, y - dy
    return x, y


def gcj02_to_wgs84(lon: float, lat: float) -> LonLat:
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> LonLat:
    return _invert(wgs84_to_bd09, lon, lat)


FROM_WGS84: dict[Crs, Callable[[float, float], LonLat]] = {
    "wgs84": lambda lon, lat: (lon, lat),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}
TO_WGS84: dict[Crs, Callable[[float, float], LonLat]] = {
    "wgs84": lambda lon, lat: (lon, lat),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}

GEOMETRY_TYPES = frozenset(
    ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
)


def _positions(coordinates: Any, move: Callable[[float, float], LonLat]) -> Any:
    """GeoJSON ``coordinates`` at any depth, each position moved (a third value kept)."""
    if coordinates and isinstance(coordinates[0], int | float):
        lon, lat = move(float(coordinates[0]), float(coordinates[1]))
        return [lon, lat, *coordinates[2:]]
    return [_positions(part, move) for part in coordinates]


def convert(value: Any, move: Callable[[float, float], LonLat]) -> Any:
    """A copy of a JSON answer with every GeoJSON geometry's coordinates and every
    ``{"lon", "lat"}`` object moved; everything else as it was."""
    if isinstance(value, list):
        return [convert(item, move) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("type") in GEOMETRY_TYPES and "coordinates" in value:
        return {**value, "coordinates": _positions(value["coordinates"], move)}
    lon, lat = value.get("lon"), value.get("lat")
    if isinstance(lon, int | float) and isinstance(lat, int | float):
        new_lon, new_lat = move(float(lon), float(lat))
        return {**value, "lon": new_lon, "lat": new_lat}
    return {key: convert(item, move) for key, item in value.items()}


def from_wgs84(value: Any, crs: Crs) -> Any:
    """An answer (stored in WGS-84) in ``crs``."""
    return value if crs == "wgs84" else convert(value, FROM_WGS84[crs])


def to_wgs84(value: Any, crs: Crs) -> Any:
    """Input given in ``crs`` as WGS-84."""
    return value if crs == "wgs84" else convert(value, TO_WGS84[crs])
