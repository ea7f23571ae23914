"""Dependencies of the spatial answers, shared by the twin and map routes and by emergency's:
the process's spatial indexes, the benchmark's brute-force switch, and ``?crs=``, the
coordinate system an answer is given in (storage stays WGS-84)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from app.assets.crs import Crs, from_wgs84
from app.assets.twin.index import IndexCache
from app.core.appstate import app_state

CrsQuery = Annotated[
    Crs,
    Query(
        description="coordinates of the answer (and of `lon`/`lat`): `wgs84` (stored, GPS), "
        "`gcj02` (国测局, for AMap/高德 and Tencent maps) or `bd09` (Baidu/百度 maps)"
    ),
]


def index_cache(request: Request) -> IndexCache:
    """The process's spatial indexes, one per park (made on first use)."""
    return app_state(request).cache(IndexCache)


CacheDep = Annotated[IndexCache, Depends(index_cache)]


def brute_force(request: Request) -> bool:
    """True only when bench/spatial.py measures its baseline (linear scan, no STRtree)."""
    return app_state(request).spatial_brute_force


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", by_alias=True)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def in_crs(answer: Any, crs: Crs) -> Any:
    """``answer`` (models, lists of them, or plain data, in WGS-84) in ``crs``: as it is for
    WGS-84, else as plain data with every GeoJSON geometry and ``{lon, lat}`` moved."""
    return answer if crs == "wgs84" else from_wgs84(_plain(answer), crs)
