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

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
from app.emergency import calc, repository
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
)
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
    geometries = np.empty(len(rows), dtype=object)
    geometries[:] = list(shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]))
    return Layer(kind, [r["id"] for r in rows], [{} for _ in rows], geometries, bool(rows))


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
    """The incident's source and its zones' shape parameters."""

    def __init__(self, row: RowMapping, rule: RowMapping, wind: Wind | None) -> None:
        self.incident_id, self.type = str(row["id"]), str(row["type"])
        self.lon, self.lat = float(row["lon"]), float(row["lat"])
        self.radii = sorted(float(r) for r in rule["radii_m"])
        self.wind = wind
        self.downwind = wind.downwind_deg if wind else None
        self.stretch = float(rule["downwind_stretch"])

    def reaches(self, radii: list[float], lons: Any, lats: Any) -> tuple[list[Any], Any]:
        """Which points each zone (by radius) holds, and the points' distances."""
        return calc.reaches_all(
            self.lon,
            self.lat,
            radii,
            self.downwind,
            self.stretch,
            np.asarray(lons, np.float64),
            np.asarray(lats, np.float64),
        )

    def polygon(self, radius: float) -> Polygon:
        return calc.zone_polygon(self.lon, self.lat, radius, self.downwind, self.stretch)

    def outer_reach(self) -> float:
        return calc.max_reach_m(self.radii[-1], self.downwind, self.stretch)


async def _wind(session: AsyncSession, park_id: str, rule: RowMapping) -> Wind | None:
    since = datetime.now(UTC) - timedelta(seconds=rule["wind_max_age_s"])
    row = await config.wind(session, park_id, rule["wind_metric"], since)
    if row is None:
        return None
    from_deg = float(row["value"]) % 360.0
    downwind = calc.downwind_of(from_deg)
    assert downwind is not None
    return Wind(
        from_deg=from_deg, downwind_deg=downwind, device_id=row["device_id"], ts=row["time"]
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

    def zone(self, radius: float, mask: Any) -> Zone:
        buildings, parcels = self.index.layer("building"), self.index.layer("parcel")
        devices = self.index.layer("device")
        polygon = self.source.polygon(radius)
        in_buildings = _meeting(buildings, polygon, self.brute_force)
        in_parcels = {parcels.ids[i] for i in _meeting(parcels, polygon, self.brute_force)}
        enterprises, people = _people(
            self.pieces, {buildings.ids[i] for i in in_buildings}, in_parcels
        )
        return Zone(
            radius_m=radius,
            downwind_reach_m=calc.max_reach_m(radius, self.source.downwind, self.source.stretch),
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
        )


async def _source(session: AsyncSession, ctx: ParkContext, incident_id: uuid.UUID) -> _Source:
    """The incident's source, with the settings in force and the wind now."""
    row = await repository.get(session, ctx.park_id, incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} not found in park {ctx.park_id!r}")
    rule = await config.rule(session, ctx.park_id, row["type"])
    if rule is None:
        raise Unprocessable(f"no zone settings for incident type {row['type']!r}")
    return _Source(row, rule, await _wind(session, ctx.park_id, rule))


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
    masks, _dist = source.reaches(source.radii, lons, lats)
    ids = [devices.ids[i] for (_d, i), keep in zip(hits, masks[-1], strict=True) if keep]
    latest: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in await twin_repository.latest_values(session, ctx.park_id, ids):
        latest[r["device_id"]][r["metric"]] = {"ts": r["time"], "value": r["value"]}
    rows = await config.people_pieces(session, ctx.park_id, spatial.today(ctx))
    scene = _Scene(index, source, hits, latest, pieces_with_people(list(rows)), brute_force)
    zones = [scene.zone(r, mask) for r, mask in zip(source.radii, masks, strict=True)]
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
    (inside,), distances = source.reaches(source.radii[-1:], lons, lats)
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
