"""``/api/v1/parks/{park_id}/twin``, ``.../map``, ``.../buildings/{building_id}/twin``,
``.../spatial/containing`` and ``.../spatial/nearby``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from app.assets.crs import Crs, from_wgs84, to_wgs84
from app.assets.twin import service, spatial
from app.assets.twin.index import IndexCache
from app.assets.twin.schemas import BuildingTwin, Containing, Kind, Nearby, ParkTwin
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.types import IDENT_PATTERN
from app.parks.deps import ParkViewer

router = APIRouter(prefix="/api/v1/parks/{park_id}", tags=["assets: twin"], responses=PROBLEMS)

BuildingIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the building's id")]
Lon = Annotated[float, Query(ge=-180, le=180, description="longitude, in `crs` (WGS-84 default)")]
Lat = Annotated[float, Query(ge=-90, le=90, description="latitude, in `crs` (WGS-84 default)")]
CrsQuery = Annotated[
    Crs,
    Query(
        description="coordinates of the answer (and of `lon`/`lat`): `wgs84` (stored, GPS), "
        "`gcj02` (国测局, for AMap/高德 and Tencent maps) or `bd09` (Baidu/百度 maps)"
    ),
]


def index_cache(request: Request) -> IndexCache:
    """The process's spatial indexes, one per park (made on first use)."""
    cache = getattr(request.app.state, "spatial_indexes", None)
    if not isinstance(cache, IndexCache):
        cache = IndexCache()
        request.app.state.spatial_indexes = cache
    return cache


CacheDep = Annotated[IndexCache, Depends(index_cache)]


def dumped(result: BaseModel, crs: Crs) -> Any:
    """The answer as plain data where its coordinates are to be converted, else as it is."""
    return result if crs == "wgs84" else result.model_dump(mode="python", by_alias=True)


def brute_force(request: Request) -> bool:
    """True only when bench/spatial.py measures its baseline (linear scan, no STRtree)."""
    return bool(getattr(request.app.state, "spatial_brute_force", False))


@router.get(
    "/twin",
    response_model=ParkTwin,
    summary="Status roll-up of the park, its parcels and buildings",
    description="Each asset's `status` is the worst of what it contains (open alarm by "
    "severity > offline > maintenance > unknown > normal), with `counts` per status.",
)
async def park_twin(
    request: Request, session: SessionDep, ctx: ParkViewer, cache: CacheDep
) -> Response:
    return cached_json(request, await service.park_twin(session, ctx=ctx, cache=cache))


@router.get(
    "/map",
    summary="The dashboard map (GeoJSON FeatureCollection)",
    description="The park's boundary, parcels, buildings and located devices; each feature "
    "has `properties.kind` and `properties.status`.",
)
async def park_map(
    request: Request, session: SessionDep, ctx: ParkViewer, cache: CacheDep, crs: CrsQuery = "wgs84"
) -> Response:
    result = await service.map_(session, ctx=ctx, cache=cache)
    return cached_json(request, from_wgs84(result, crs))


@router.get(
    "/buildings/{building_id}/twin",
    response_model=BuildingTwin,
    summary="A building with its floors, spaces, devices and their newest values",
)
async def building_twin(
    request: Request,
    building_id: BuildingIdPath,
    session: SessionDep,
    ctx: ParkViewer,
    crs: CrsQuery = "wgs84",
) -> Response:
    result = await service.building_twin(session, ctx=ctx, building_id=building_id)
    return cached_json(request, from_wgs84(dumped(result, crs), crs))


@router.get(
    "/spatial/containing",
    response_model=Containing,
    summary="The parcel and the building holding a point",
)
async def containing(
    request: Request,
    lon: Lon,
    lat: Lat,
    session: SessionDep,
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
    return cached_json(request, from_wgs84(dumped(result, crs), crs))


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
    session: SessionDep,
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
    return cached_json(request, from_wgs84(dumped(result, crs), crs))
