"""``/api/v1/parks/{park_id}/twin``, ``.../map``, ``.../buildings/{building_id}/twin``,
``.../spatial/containing`` and ``.../spatial/nearby``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.assets.crs import Crs, to_wgs84
from app.assets.twin import mapview, service, spatial
from app.assets.twin.deps import CacheDep, CrsQuery, brute_force, in_crs
from app.assets.twin.repository import Box
from app.assets.twin.schemas import (
    BuildingTwin,
    Containing,
    Kind,
    MapDevices,
    Nearby,
    ParkTwin,
)
from app.core.appstate import app_state
from app.core.db import ReadSessionDep
from app.core.errors import Unprocessable
from app.core.http import PROBLEMS, cached_json, cached_response, dump_json
from app.core.types import IDENT_PATTERN
from app.parks.deps import ParkViewer

router = APIRouter(prefix="/api/v1/parks/{park_id}", tags=["assets: twin"], responses=PROBLEMS)

BuildingIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the building's id")]
Lon = Annotated[float, Query(ge=-180, le=180, description="longitude, in `crs` (WGS-84 default)")]
Lat = Annotated[float, Query(ge=-90, le=90, description="latitude, in `crs` (WGS-84 default)")]


@router.get(
    "/twin",
    response_model=ParkTwin,
    summary="Status roll-up of the park, its parcels and buildings",
    description="Each asset's `status` is the worst of what it contains (open alarm by "
    "severity > offline > maintenance > unknown > normal), with `counts` per status. "
    "Identical reads within `PARKTWIN_TWIN_CACHE_TTL` (5 s) share one answer; a new event "
    "(alarm, incident, device status) ends that at once.",
)
async def park_twin(
    request: Request, session: ReadSessionDep, ctx: ParkViewer, cache: CacheDep
) -> Response:
    async def compute() -> bytes:
        return dump_json(await service.park_twin(session, ctx=ctx, cache=cache))

    body = await app_state(request).twin_cache.get(("twin", ctx.park_id), compute)
    return cached_response(request, body)


@router.get(
    "/map",
    summary="The dashboard map (GeoJSON FeatureCollection)",
    description="The park's boundary, parcels, buildings, located devices and hazard sources "
    "(`kind` `hazard_source`, `status` `major` or `below_threshold`); each feature "
    "has `properties.kind` and `properties.status`. For a large park (100,000 devices) ask "
    "with `zoom` and/or `bbox`: simplified geometry, devices clustered at low zoom, only "
    "what meets the box; or with `devices=alarmed` (the cockpit's map): only the devices with "
    "an open alarm, while the parcels' and buildings' statuses still count every device. "
    "Identical reads within `PARKTWIN_TWIN_CACHE_TTL` (5 s) share one answer; a new event "
    "(alarm, incident, device status) ends that at once.",
)
async def park_map(
    request: Request,
    session: ReadSessionDep,
    ctx: ParkViewer,
    cache: CacheDep,
    crs: CrsQuery = "wgs84",
    zoom: Annotated[
        int | None,
        Query(
            ge=0,
            le=mapview.MAX_ZOOM,
            description="web-map zoom level: geometry simplified to a pixel, and below "
            f"{mapview.DEVICE_ZOOM} devices aggregated into `device_cluster` points "
            f"({mapview.CLUSTER_PX}-pixel grid cells, with `count`, `counts` and the worst "
            "`status`); default: the full map",
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="`west,south,east,north` in `crs`: only parcels and buildings meeting "
            "the box and devices inside it (the park's boundary always)",
        ),
    ] = None,
    devices: Annotated[
        MapDevices,
        Query(
            description="`all` (default): every located device (clustered below zoom "
            f"{mapview.DEVICE_ZOOM}); `alarmed`: only those with an open alarm, one by one"
        ),
    ] = "all",
) -> Response:
    state = app_state(request)
    box = parse_bbox(bbox, crs) if bbox is not None else None

    async def compute() -> bytes:
        if zoom is None and box is None and devices == "all":
            result = await service.map_(session, ctx=ctx, cache=cache, layers=state.map_layers)
        else:
            result = await service.map_view(
                session,
                ctx=ctx,
                cache=cache,
                layers=state.map_layers,
                zoom=zoom,
                box=box,
                devices=devices,
            )
        return dump_json(in_crs(result, crs))

    key = ("map", ctx.park_id, crs, zoom, box, devices)
    return cached_response(request, await state.twin_cache.get(key, compute))


def parse_bbox(text: str, crs: Crs) -> Box:
    """``west,south,east,north`` (in ``crs``) as WGS-84 degrees, or 422."""
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise Unprocessable("bbox: four numbers west,south,east,north") from exc
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise Unprocessable("bbox: needs -180 <= west < east <= 180 and -90 <= south < north <= 90")
    low = to_wgs84({"lon": west, "lat": south}, crs)
    high = to_wgs84({"lon": east, "lat": north}, crs)
    return (low["lon"], low["lat"], high["lon"], high["lat"])


@router.get(
    "/buildings/{building_id}/twin",
    response_model=BuildingTwin,
    summary="A building with its floors, spaces, devices and their newest values",
)
async def building_twin(
    request: Request,
    building_id: BuildingIdPath,
    session: ReadSessionDep,
    ctx: ParkViewer,
    crs: CrsQuery = "wgs84",
) -> Response:
    result = await service.building_twin(session, ctx=ctx, building_id=building_id)
    return cached_json(request, in_crs(result, crs))


@router.get(
    "/spatial/containing",
    response_model=Containing,
    summary="The parcel and the building holding a point",
)
async def containing(
    request: Request,
    lon: Lon,
    lat: Lat,
    session: ReadSessionDep,
    ctx: ParkViewer,
    cache: CacheDep,
    crs: CrsQuery = "wgs84",
) -> Response:
    point = to_wgs84({"lon": lon, "lat": lat}, crs)
    result = await spatial.containing(
        session,
        ctx=ctx,
        cache=cache,
        lon=point["lon"],
        lat=point["lat"],
        brute_force=brute_force(request),
    )
    return cached_json(request, in_crs(result, crs))


@router.get(
    "/spatial/nearby",
    response_model=Nearby,
    summary="Assets near a point, nearest first",
    description="Devices, buildings, parcels, spaces (where their building stands) or "
    "enterprises (where they hold a lease in force today) within `radius_m`, each with its "
    "geodesic `distance_m` (0 inside); without `radius_m`, the `limit` nearest.",
)
async def nearby(
    request: Request,
    lon: Lon,
    lat: Lat,
    session: ReadSessionDep,
    ctx: ParkViewer,
    cache: CacheDep,
    kind: Annotated[Kind, Query(description="what to look for")] = "device",
    radius_m: Annotated[float | None, Query(gt=0, le=100_000, description="metres")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
    crs: CrsQuery = "wgs84",
) -> Response:
    point = to_wgs84({"lon": lon, "lat": lat}, crs)
    result = await spatial.nearby(
        session,
        ctx=ctx,
        cache=cache,
        lon=point["lon"],
        lat=point["lat"],
        kind=kind,
        radius_m=radius_m,
        limit=limit,
        brute_force=brute_force(request),
    )
    return cached_json(request, in_crs(result, crs))
