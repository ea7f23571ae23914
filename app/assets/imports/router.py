"""``POST /api/v1/parks/{park_id}/import/{kind}``: bulk import (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from app.assets.imports import parse, service
from app.assets.imports.schemas import ImportResult, KindName
from app.core.db import SessionDep
from app.core.errors import AppError, Unprocessable
from app.core.http import PROBLEMS
from app.devices.router import BrokerDep
from app.parks.deps import ParkAdmin

router = APIRouter(prefix="/api/v1/parks/{park_id}", tags=["import"], responses=PROBLEMS)

GEOJSON_TYPES = ("application/geo+json", "application/json", "")
MAX_BODY = 64 * 1024 * 1024  # bytes: a park's worth of features, with room to spare
EXAMPLE_CSV = (
    "id,name,building_id,floor,area_m2,status\nB3-201,201,B3,2,320,available\n"
    "B3-202,202,B3,2,280,leased\n"
)
EXAMPLE_FEATURE = {
    "type": "Feature",
    "properties": {"id": "m-1", "type": "electricity_meter", "name": "总表"},
    "geometry": {"type": "Point", "coordinates": [120.7123, 31.3051]},
}
BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/geo+json": {
                "schema": {"type": "object", "description": "a GeoJSON FeatureCollection"},
                "example": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {
                                "id": "m-1",
                                "type": "electricity_meter",
                                "name": "总表",
                            },
                            "geometry": {"type": "Point", "coordinates": [120.7123, 31.3051]},
                        }
                    ],
                },
            },
            "text/csv": {"schema": {"type": "string"}, "example": EXAMPLE_CSV},
        },
    }
}


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ContentTooLarge(AppError):
    status, slug, title = 413, "content-too-large", "Content too large"


async def _body(request: Request) -> bytes:
    """The body, refused (413) as soon as it passes MAX_BODY."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ContentTooLarge(f"an import may hold at most {MAX_BODY // 2**20} MiB: split it")
        chunks.append(chunk)
    return b"".join(chunks)


def _rows(content_type: str, body: bytes) -> list[Any]:
    media = content_type.split(";")[0].strip().lower()
    try:
        if media == "text/csv":
            return parse.csv_rows(body)
        if media in GEOJSON_TYPES:
            return parse.feature_collection(body)
    except parse.BodyError as exc:
        raise Unprocessable(
            f"body: {exc}", errors=[{"row": None, "field": None, "reason": str(exc)}]
        ) from exc
    raise UnsupportedMediaType(
        f"send application/geo+json (or application/json) or text/csv, not {media!r}"
    )


@router.post(
    "/import/{kind}",
    summary="Bulk import of one kind of asset (admin)",
    description="A GeoJSON FeatureCollection (`properties`: the kind's create fields; "
    "`geometry`: parcels' `geometry`, buildings' `footprint`, a Point for the `location` of "
    "devices and equipment) or CSV (header: field names; geometry as a GeoJSON column, or "
    "`lon`/`lat` columns for a location; JSON in cells starting with `{` or `[`). Every row "
    "goes through the kind's own checks; an existing id is updated (the fields given), a new "
    "one created, so running an import twice changes nothing more. All or nothing: any bad "
    "row answers 422 with `errors` (`row`, `field`, `reason` for every bad row) and imports "
    "nothing. `dry_run=true` checks everything and keeps nothing. Devices answer with their "
    "new MQTT credentials (shown once).",
    openapi_extra=BODY,
)
async def import_assets(
    request: Request,
    kind: Annotated[KindName, Path(description="what the rows are")],
    session: SessionDep,
    ctx: ParkAdmin,
    broker: BrokerDep,
    dry_run: Annotated[bool, Query(description="validate only; change nothing")] = False,
) -> ImportResult:
    rows = _rows(request.headers.get("content-type", ""), await _body(request))
    return await service.import_features(
        session, ctx=ctx, kind=kind, features=rows, dry_run=dry_run, broker=broker
    )
