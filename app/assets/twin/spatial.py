"""Spatial queries: which parcel and building hold a point; what lies near it (within a radius,
or the N nearest), for devices, buildings, parcels, spaces and enterprises.

A space is found where its building stands; an enterprise where it holds a lease in force
today (in the park's timezone): the space's building, the building or the parcel leased.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import shape
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.twin import repository
from app.assets.twin.index import IndexCache, Layer, ParkIndex, RowProps
from app.assets.twin.schemas import Containing, Found, Kind, Nearby
from app.core import geodesy as geo
from app.parks.deps import ParkContext


def today(ctx: ParkContext) -> date:
    return datetime.now(ZoneInfo(ctx.timezone)).date()


async def index_for(session: AsyncSession, ctx: ParkContext, cache: IndexCache) -> ParkIndex:
    """The park's index, rebuilt when its asset version (or the day, for leases) moved."""
    day = today(ctx)
    fingerprint = f"{await repository.asset_version(session, ctx.park_id)}|{day.isoformat()}"
    index = cache.get(ctx.park_id, fingerprint)
    if index is None:
        async with cache.building(ctx.park_id):
            index = cache.get(ctx.park_id, fingerprint)  # built while this one waited
            if index is None:
                index = await build(session, ctx.park_id, day)
                cache.put(ctx.park_id, fingerprint, index)
    return index


async def build(session: AsyncSession, park_id: str, day: date) -> ParkIndex:
    parcels = [
        (
            r["id"],
            {
                "name": r["name"],
                "land_use": r["land_use"],
                "area_m2": r["area_m2"],
                "area_mu": geo.m2_to_mu(r["area_m2"]),
                "geometry": r["geometry"],
            },
            shape(r["geometry"]),
        )
        for r in await repository.parcels(session, park_id)
    ]
    buildings = [
        (
            r["id"],
            {
                "name": r["name"],
                "parcel_id": r["parcel_id"],
                "floors": r["floors"],
                "use": r["use"],
                "area_m2": r["area_m2"],
                "geometry": r["footprint"],
            },
            shape(r["footprint"]),
        )
        for r in await repository.buildings(session, park_id)
    ]
    footprints = {i: g for i, _, g in buildings}
    spaces = [
        (
            r["id"],
            {k: r[k] for k in ("name", "building_id", "floor", "area_m2", "status")},
            footprints[r["building_id"]],
        )
        for r in await repository.spaces(session, park_id)
        if r["building_id"] in footprints
    ]
    rows = await repository.located_devices(session, park_id)
    devices = Layer.at_points(
        "device",
        [r.id for r in rows],
        RowProps(rows, _device_props),
        [r.lon for r in rows],
        [r.lat for r in rows],
    )
    enterprises = [
        (r["id"], {"name": r["name"], "credit_code": r["credit_code"]}, shape(r["geometry"]))
        for r in await repository.enterprise_pieces(session, park_id, day)
        if r["geometry"] is not None
    ]
    layers = {
        "parcel": Layer.build("parcel", parcels),
        "building": Layer.build("building", buildings),
        "space": Layer.build("space", spaces),
        "device": devices,
        "enterprise": Layer.build("enterprise", enterprises),
    }
    return ParkIndex(layers)


def _device_props(r: Row[Any]) -> dict[str, Any]:
    return {
        "name": r.name,
        "type": r.type,
        "building_id": r.building_id,
        "space_id": r.space_id,
        "enterprise_id": r.enterprise_id,
        "location": {"lon": r.lon, "lat": r.lat},
    }


def found(layer: Layer, i: int, distance_m: float | None = None) -> Found:
    props: dict[str, Any] = {k: v for k, v in layer.props[i].items() if k != "geometry"}
    return Found.model_validate(
        {"kind": layer.kind, "id": layer.ids[i], "distance_m": distance_m, **props}
    )


def _smallest(layer: Layer, hits: list[int]) -> Found | None:
    """Of the items holding the point, the smallest (a building inside another's yard)."""
    if not hits:
        return None
    areas = dict(zip(hits, shapely.area(layer.geometries[hits]).tolist(), strict=True))
    return found(layer, min(hits, key=lambda i: (areas[i], layer.ids[i])))


async def containing(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    cache: IndexCache,
    lon: float,
    lat: float,
    brute_force: bool = False,
) -> Containing:
    index = await index_for(session, ctx, cache)
    parcels, buildings = index.layer("parcel"), index.layer("building")
    return Containing(
        parcel=_smallest(parcels, parcels.containing(lon, lat, brute_force=brute_force)),
        building=_smallest(buildings, buildings.containing(lon, lat, brute_force=brute_force)),
    )


async def nearby(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    cache: IndexCache,
    lon: float,
    lat: float,
    kind: Kind,
    radius_m: float | None,
    limit: int,
    brute_force: bool = False,
) -> Nearby:
    """Items of ``kind`` within ``radius_m`` (nearest first, at most ``limit``), or without a
    radius the ``limit`` nearest; each with its geodesic ``distance_m`` (0 inside)."""
    layer = (await index_for(session, ctx, cache)).layer(kind)
    if radius_m is None:
        hits = layer.nearest(lon, lat, limit, brute_force=brute_force)
    else:
        hits = layer.within(lon, lat, radius_m, brute_force=brute_force)[:limit]
    return Nearby(items=[found(layer, i, round(d, 2)) for d, i in hits])
