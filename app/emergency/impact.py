"""Impact analysis of an incident: zones around the source (radii per incident type, stretched
downwind when a device reports the wind), the buildings, enterprises, people and sensors in
each, the nearest resources of each kind and the shelter places against the people.

Zones are cumulative: the 300 m zone holds what the 100 m zone holds. Candidates come from the
park's STRtree index (app/assets/twin); every answer is then decided exactly: a point by its
geodesic azimuth and distance (``calc.reaches``), a building or parcel by intersecting the
zone's geodesic outline (``calc.zone_polygon``, 72 points).

People: each enterprise's head count is its ``employees`` attribute (``attributes.employees``,
a number, set through the enterprise API or the import), else the mean ``employees`` of its
economy reports (issue 8) of the last 12 months, spread over its leases in force by leased
area; a lease counts in a zone when its building (or its space's building) or its parcel meets
the zone. An enterprise with neither counts 0 people (and is listed).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry import Polygon
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.twin import repository as twin_repository
from app.assets.twin import spatial
from app.assets.twin.index import IndexCache, Layer, ParkIndex
from app.core import geodesy as geo
from app.core.errors import NotFound, Unprocessable
from app.core.geodesy import GEOD
from app.emergency import calc, hazard_repository, hazards, repository, toxic
from app.emergency import config_repository as config
from app.emergency.schemas import (
    Impact,
    NearResource,
    ShelterCapacity,
    Wind,
    Zone,
    ZoneBuilding,
    ZoneDevice,
    ZoneEnterprise,
    ZoneHazard,
)
from app.emergency.zones import ZoneShape, radial_zones, toxic_zones
from app.parks.deps import ParkContext

KINDS = ("shelter", "hydrant", "aed", "team", "supplies")


def _meeting(layer: Layer, zone: Polygon, brute_force: bool) -> list[int]:
    """Items of the layer whose geometry meets the zone."""
    if not layer.ids:
        return []
    if brute_force:
        return np.flatnonzero(shapely.intersects(layer.geometries, zone)).tolist()
    return sorted(int(i) for i in layer.tree.query(zone, predicate="intersects"))


def near_resource(row: RowMapping, distance: float) -> NearResource:
    return NearResource(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        capacity=row["capacity"],
        contact=row["contact"],
        location={"lon": row["lon"], "lat": row["lat"]},
        distance_m=round(distance, 2),
    )


SCAN_BELOW = 256
"""Resource kinds with fewer items are measured in full: cheaper than growing an STRtree
search radius until it holds N of a kind spread thinly over the park."""


def resource_layer(kind: str, rows: list[RowMapping]) -> Layer:
    return Layer.at_points(
        kind,
        [r["id"] for r in rows],
        [{} for _ in rows],
        [r["lon"] for r in rows],
        [r["lat"] for r in rows],
    )


def nearest_resources(
    rows: list[RowMapping], lon: float, lat: float, n: int, kind: str | None = None
) -> list[NearResource]:
    """The ``n`` nearest resources of each kind (or of ``kind``), nearest first per kind."""
    by_kind: dict[str, list[RowMapping]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    found: list[NearResource] = []
    for k in [kind] if kind else KINDS:
        items = by_kind.get(k, [])
        layer = resource_layer(k, items)
        small = len(items) < SCAN_BELOW
        hits = layer.nearest(lon, lat, n, brute_force=small)
        found += [near_resource(items[i], d) for d, i in hits]
    return found


class _Source:
    """The incident's source, its zones and the wind."""

    def __init__(self, row: RowMapping, zones: list[ZoneShape], wind: Wind | None) -> None:
        self.incident_id, self.type = str(row["id"]), str(row["type"])
        self.lon, self.lat = float(row["lon"]), float(row["lat"])
        self.zones = zones
        self.wind = wind

    def measure(self, lons: Any, lats: Any) -> tuple[Any, Any]:
        """Geodesic azimuths and distances of points from the source."""
        lons, lats = np.asarray(lons, np.float64), np.asarray(lats, np.float64)
        if len(lons) == 0:
            return np.zeros(0), np.zeros(0)
        n = len(lons)
        az, _back, dist = GEOD.inv(np.full(n, self.lon), np.full(n, self.lat), lons, lats)
        return np.asarray(az, np.float64), np.asarray(dist, np.float64)

    def reaches(self, zones: list[ZoneShape], lons: Any, lats: Any) -> tuple[list[Any], Any]:
        """Which points each zone holds, and the points' distances."""
        az, dist = self.measure(lons, lats)
        return [z.contains(az, dist) for z in zones], dist

    def polygon(self, zone: ZoneShape) -> Polygon:
        return zone.polygon(self.lon, self.lat)

    def outer_reach(self) -> float:
        return max(z.outer_m for z in self.zones)

    def arrival_s(self, az: float, dist: float, zone: ZoneShape) -> float | None:
        """Plume travel time to a point in a toxic corridor, at the wind speed."""
        if zone.corridor is None or zone.downwind is None or self.wind is None:
            return None
        along = dist * math.cos(math.radians(az - zone.downwind))
        return toxic.arrival_s(along, self.wind.speed_m_s)


async def _wind(session: AsyncSession, park_id: str, rule: RowMapping) -> Wind | None:
    since = datetime.now(UTC) - timedelta(seconds=rule["wind_max_age_s"])
    found = await config.winds(
        session, park_id, [rule["wind_metric"], rule["wind_speed_metric"]], since
    )
    row, speed = found.get(rule["wind_metric"]), found.get(rule["wind_speed_metric"])
    if row is None:
        return None
    speed_m_s = None if speed is None else max(0.0, float(speed["value"]))
    from_deg = float(row["value"]) % 360.0
    downwind = calc.downwind_of(from_deg)
    assert downwind is not None
    return Wind(
        from_deg=from_deg,
        downwind_deg=downwind,
        device_id=row["device_id"],
        ts=row["time"],
        speed_m_s=speed_m_s,
        band=toxic.wind_band(speed_m_s),
    )


@dataclass
class _Piece:
    enterprise_id: str
    name: str
    people: float
    building_id: str | None
    parcel_id: str | None


def pieces_with_people(rows: list[RowMapping]) -> list[_Piece]:
    """Each lease in force with its share of its enterprise's head count."""
    by_enterprise: dict[str, list[RowMapping]] = defaultdict(list)
    for row in rows:
        by_enterprise[row["id"]].append(row)
    pieces = []
    for enterprise_id, own in by_enterprise.items():
        shares = calc.people_shares(
            float(own[0]["employees"] or 0), [float(p["area_m2"]) for p in own]
        )
        pieces += [
            _Piece(enterprise_id, p["name"], share, p["building_id"], p["parcel_id"])
            for p, share in zip(own, shares, strict=True)
        ]
    return pieces


def _people(
    pieces: list[_Piece], buildings: set[str], parcels: set[str]
) -> tuple[list[ZoneEnterprise], float]:
    people: dict[str, float] = {}
    names: dict[str, str] = {}
    for piece in pieces:
        if piece.building_id in buildings or piece.parcel_id in parcels:
            people[piece.enterprise_id] = people.get(piece.enterprise_id, 0.0) + piece.people
            names[piece.enterprise_id] = piece.name
    found = [ZoneEnterprise(id=e, name=names[e], people=p) for e, p in people.items()]
    return found, sum(people.values())


@dataclass
class _Scene:
    """What one analysis measures: the park's index, the located devices near the source
    (distance, position in the device layer) with their latest readings, and the people."""

    index: ParkIndex
    source: _Source
    hits: list[tuple[float, int]]
    latest: dict[str, dict[str, Any]]
    pieces: list[_Piece]
    brute_force: bool

    hazards: list[tuple[RowMapping, Any]]
    hazard_az: Any
    hazard_dist: Any

    def zone(self, shape: ZoneShape, mask: Any) -> Zone:
        buildings, parcels = self.index.layer("building"), self.index.layer("parcel")
        devices = self.index.layer("device")
        polygon = self.source.polygon(shape)
        in_buildings = _meeting(buildings, polygon, self.brute_force)
        in_parcels = {parcels.ids[i] for i in _meeting(parcels, polygon, self.brute_force)}
        enterprises, people = _people(
            self.pieces, {buildings.ids[i] for i in in_buildings}, in_parcels
        )
        return Zone(
            radius_m=shape.radius_m,
            downwind_reach_m=shape.reach_m,
            shape=shape.shape,
            source=shape.source,
            geometry=geo.to_geojson(polygon),
            buildings=[
                ZoneBuilding(id=buildings.ids[i], name=buildings.props[i]["name"])
                for i in in_buildings
            ],
            enterprises=enterprises,
            people=round(people, 2),
            devices=[
                ZoneDevice(
                    id=devices.ids[i],
                    type=devices.props[i]["type"],
                    distance_m=round(d, 2),
                    latest=self.latest.get(devices.ids[i], {}),
                )
                for (d, i), keep in zip(self.hits, mask, strict=True)
                if keep
            ],
            hazard_sources=self.hazards_in(shape),
        )

    def hazards_in(self, shape: ZoneShape) -> list[ZoneHazard]:
        """The hazard sources the zone reaches, nearest first."""
        (inside,), dist = [shape.contains(self.hazard_az, self.hazard_dist)], self.hazard_dist
        found = [
            ZoneHazard(
                id=row["id"],
                name=row["name"],
                is_major=a.is_major,
                level=a.level,
                level_zh=a.level_zh,
                r=a.r,
                distance_m=round(float(d), 2),
                arrival_s=self.source.arrival_s(float(az), float(d), shape),
            )
            for (row, a), az, d, hit in zip(self.hazards, self.hazard_az, dist, inside, strict=True)
            if hit
        ]
        return sorted(found, key=lambda h: (h.distance_m, h.id))


def _local_hour(at: datetime, tz: str) -> int:
    return at.astimezone(ZoneInfo(tz)).hour


async def _zones(
    session: AsyncSession, ctx: ParkContext, row: RowMapping, rule: RowMapping, wind: Wind | None
) -> list[ZoneShape]:
    """A toxic release of a known chemical: ERG zones for its spill size, the time of day and
    the wind band; else the type's radii."""
    downwind = wind.downwind_deg if wind else None
    if rule["zone_model"] == "toxic_corridor" and row["chemical"]:
        speed = wind.speed_m_s if wind else None
        calm = speed is not None and speed < float(rule["calm_wind_m_s"])
        hour = _local_hour(row["occurred_at"], ctx.timezone)
        period = toxic.period(hour, rule["day_from_h"], rule["day_until_h"])
        band = toxic.wind_band(wind.speed_m_s if wind else None)
        spill = row["spill_size"] or "large"
        found = await config.toxic_zone(session, ctx.park_id, row["chemical"], spill, period, band)
        if found is not None:
            return toxic_zones(found, None if calm else downwind)
    return radial_zones(rule, downwind)


async def _source(session: AsyncSession, ctx: ParkContext, incident_id: uuid.UUID) -> _Source:
    """The incident's source, with the settings in force and the wind now."""
    row = await repository.get(session, ctx.park_id, incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} not found in park {ctx.park_id!r}")
    rule = await config.rule(session, ctx.park_id, row["type"])
    if rule is None:
        raise Unprocessable(f"no zone settings for incident type {row['type']!r}")
    wind = await _wind(session, ctx.park_id, rule)
    return _Source(row, await _zones(session, ctx, row, rule, wind), wind)


async def _hazards(session: AsyncSession, park_id: str) -> list[tuple[RowMapping, Any]]:
    """The park's hazard sources with their GB 18218 assessment."""
    return [(r, hazards.assessment(r)) for r in await hazard_repository.sources(session, park_id)]


async def impact(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    cache: IndexCache,
    incident_id: uuid.UUID,
    n: int,
    brute_force: bool = False,
) -> Impact:
    source = await _source(session, ctx, incident_id)
    index = await spatial.index_for(session, ctx, cache)
    devices = index.layer("device")
    hits = devices.within(source.lon, source.lat, source.outer_reach(), brute_force=brute_force)
    locs = [devices.props[i]["location"] for _d, i in hits]
    lons, lats = [p["lon"] for p in locs], [p["lat"] for p in locs]
    masks, _dist = source.reaches(source.zones, lons, lats)
    ids = [devices.ids[i] for (_d, i), keep in zip(hits, masks[-1], strict=True) if keep]
    latest: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in await twin_repository.latest_values(session, ctx.park_id, ids):
        latest[r["device_id"]][r["metric"]] = {"ts": r["time"], "value": r["value"]}
    rows = await config.people_pieces(session, ctx.park_id, spatial.today(ctx))
    found = await _hazards(session, ctx.park_id)
    az, dist = source.measure([r["lon"] for r, _a in found], [r["lat"] for r, _a in found])
    people = pieces_with_people(list(rows))
    scene = _Scene(index, source, hits, latest, people, brute_force, found, az, dist)
    zones = [scene.zone(z, mask) for z, mask in zip(source.zones, masks, strict=True)]
    resources = list(await config.resources(session, ctx.park_id, attributes=False))
    return Impact(
        incident_id=source.incident_id,
        type=source.type,
        location={"lon": source.lon, "lat": source.lat},
        wind=source.wind,
        zones=zones,
        nearest_resources=nearest_resources(resources, source.lon, source.lat, n),
        shelter_capacity=_shelters(source, resources, zones[-1].people),
    )


def _shelters(source: _Source, resources: list[RowMapping], people: float) -> ShelterCapacity:
    """Shelters outside every zone, nearest first, with their places against the people."""
    shelters = [r for r in resources if r["kind"] == "shelter"]
    lons = np.array([r["lon"] for r in shelters], np.float64)
    lats = np.array([r["lat"] for r in shelters], np.float64)
    (inside,), distances = source.reaches(source.zones[-1:], lons, lats)
    safe = sorted(
        (
            (float(d), r)
            for r, d, hit in zip(shelters, distances.tolist(), inside.tolist(), strict=True)
            if not hit
        ),
        key=lambda pair: (pair[0], pair[1]["id"]),
    )
    capacity = sum(int(r["capacity"] or 0) for _d, r in safe)
    return ShelterCapacity(
        people=round(people, 2),
        capacity=capacity,
        shortfall=round(max(0.0, people - capacity), 2),
        shelters=[near_resource(r, d) for d, r in safe],
    )
