"""``POST /api/v1/parks/{park_id}/import/{kind}``: bulk import (admin)."""

from __future__ import annotations

from typing import IO, Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request

from app.assets.imports import parse, service
from app.assets.imports.schemas import ImportResult, KindName
from app.core.db import SessionDep
from app.core.errors import AppError, Unprocessable
from app.core.http import PROBLEMS, SettingsDep
from app.core.limits import TableLimits, large_body, spool_body
from app.devices.router import BrokerDep
from app.parks.deps import ParkAdmin

router = APIRouter(prefix="/api/v1/parks/{park_id}", tags=["import"], responses=PROBLEMS)

GEOJSON_TYPES = ("application/geo+json", "application/json", "")
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


def _rows(content_type: str, body: IO[bytes], limits: TableLimits) -> list[Any]:
    """The body's rows (run in a thread: parsing a large import is seconds of CPU)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        if media == "text/csv":
            return parse.csv_rows(body, limits)
        if media in GEOJSON_TYPES:
            return parse.feature_collection(body.read(), limits)
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
@large_body
async def import_assets(
    request: Request,
    kind: Annotated[KindName, Path(description="what the rows are")],
    session: SessionDep,
    ctx: ParkAdmin,
    broker: BrokerDep,
    settings: SettingsDep,
    dry_run: Annotated[bool, Query(description="validate only; change nothing")] = False,
) -> ImportResult:
    content_type = request.headers.get("content-type", "")
    with await spool_body(request, settings.api_import_body_max) as body:
        rows = await to_thread.run_sync(_rows, content_type, body, TableLimits.of(settings))
    return await service.import_features(
        session, ctx=ctx, kind=kind, features=rows, dry_run=dry_run, broker=broker
    )
