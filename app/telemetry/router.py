"""Telemetry reads: latest values (one device, many devices), series history, rejections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.core.appstate import app_state
from app.core.auth import ViewerKey
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json, cached_response
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN, UtcDateTime
from app.devices.schemas import DeviceFilters
from app.parks.deps import ParkViewer
from app.telemetry import service
from app.telemetry.intervals import Fill, IntervalName
from app.telemetry.repository import Agg
from app.telemetry.schemas import (
    BulkLatest,
    BulkLatestQuery,
    DeviceLatest,
    RejectionRead,
    SeriesRead,
)
from app.telemetry.service import SourceChoice

router = APIRouter(tags=["telemetry"], responses=PROBLEMS)

DeviceIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the device's id")]
MetricPath = Annotated[
    str, Path(pattern=IDENT_PATTERN, description="a metric of the device's type")
]
PARK = "/api/v1/parks/{park_id}"


@router.get(
    PARK + "/devices/{device_id}/latest",
    response_model=DeviceLatest,
    summary="Newest value of each metric of a device",
)
async def device_latest(
    request: Request, device_id: DeviceIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await service.latest(session, ctx=ctx, device_id=device_id))


@router.get(
    PARK + "/latest",
    response_model=BulkLatest,
    summary="Newest values of many devices in one call (a wall of tiles)",
    description="Repeat `device_id` and `metric` to choose (default: every device of the park, "
    "every metric), or filter by `type`, `domain`, `building_id`, `enterprise_id`, `status`. "
    "One item per matching device, in id order. For lists too long for a URL, "
    "`POST .../latest/query` takes the same choice as a JSON body. Identical requests within "
    "`PARKTWIN_LATEST_CACHE_TTL` (default 1 s) share one answer, so a value may be up to that "
    "much older than the newest reading.",
)
async def bulk_latest(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    filters: Annotated[DeviceFilters, Query()],
    device_id: Annotated[list[str] | None, Query(max_length=1000)] = None,
    metric: Annotated[list[str] | None, Query(max_length=100)] = None,
) -> Response:
    result = await service.bulk_latest(
        session,
        ctx=ctx,
        device_ids=device_id,
        metrics=metric,
        filters=filters,
        cache=app_state(request).latest_cache,
    )
    return cached_response(request, result, max_age=1)


@router.post(
    PARK + "/latest/query",
    response_model=BulkLatest,
    summary="Newest values of many devices, chosen in the body",
    description="As `GET .../latest`, for long lists of devices (up to 5,000). A read: viewers may "
    "call it. It sends an ETag but, being a POST, never answers 304.",
)
async def bulk_latest_query(
    request: Request, query: BulkLatestQuery, session: SessionDep, ctx: ParkViewer
) -> Response:
    result = await service.bulk_latest(
        session,
        ctx=ctx,
        device_ids=query.device_ids,
        metrics=query.metrics,
        filters=DeviceFilters(),
        cache=app_state(request).latest_cache,
    )
    return cached_response(request, result, max_age=1)


CSV_EXAMPLE = "ts,value\r\n2026-11-28T00:00:00Z,41.5\r\n2026-11-28T01:00:00Z,39.25\r\n"


@router.get(
    PARK + "/devices/{device_id}/series/{metric}",
    response_model=SeriesRead,
    summary="History of one metric: raw readings or buckets",
    description=(
        "Without `interval`: the raw readings in `[from, to)`. With `interval`: one point per "
        "non-empty bucket (every bucket with `fill`), each bucket whole: the range is widened "
        "to the start of the bucket holding `from` and the end of the one holding `to`; the "
        "answer's `from`/`to` say so. Intervals below a day are aligned to UTC midnight; `1d`, "
        "`1w` (from Monday) and `1mo` are calendar buckets in the park's timezone.\n\n"
        "`delta` (the default for counters; `avg` for the rest) is a counter's consumption per "
        "bucket: each reading minus the one before it, the bucket's first reading against the "
        "last one before the bucket; a reading below the one before it means the meter "
        "restarted from zero and counts in full.\n\n"
        "More than 10,000 points is refused (422, `too-many-points`) with a way to narrow the "
        "request. Intervals of whole hours or days over more than a day are served from the "
        "hourly or daily rollups (same answers as raw; `source` says which), `source=raw` or "
        "`source=rollup` forces one. `Accept: text/csv` answers `ts,value` lines."
    ),
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}}}
    },
)
async def series(
    request: Request,
    device_id: DeviceIdPath,
    metric: MetricPath,
    session: SessionDep,
    ctx: ParkViewer,
    from_: Annotated[
        UtcDateTime | None, Query(alias="from", description="default: `to` minus 24 hours")
    ] = None,
    to: Annotated[UtcDateTime | None, Query(description="default: now")] = None,
    interval: Annotated[IntervalName | None, Query(description="bucket size; none: raw")] = None,
    agg: Annotated[Agg | None, Query(description="default: delta for counters, else avg")] = None,
    fill: Annotated[Fill, Query(description="empty buckets: left out, null, 0, previous")] = "none",
    source: Annotated[SourceChoice, Query(description="auto, raw, or rollup")] = "auto",
) -> Response:
    result = await service.series(
        session,
        ctx=ctx,
        device_id=device_id,
        metric=metric,
        start=from_,
        end=to,
        interval_name=interval.value if interval else None,
        agg=agg,
        fill=fill,
        source=source,
    )
    if "text/csv" in request.headers.get("accept", ""):
        return cached_response(
            request, service.to_csv(result), media_type="text/csv; charset=utf-8"
        )
    return cached_json(request, result)


@router.get(
    "/api/v1/ingest/rejections",
    response_model=Page[RejectionRead],
    summary="Messages the ingestor rejected, newest first",
    description="Filter by `park_id`, `reason` (e.g. `unknown_metric`) and `since`. A key bound "
    "to a park sees only that park's rejections.",
)
async def list_rejections(
    request: Request,
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    park_id: Annotated[str | None, Query(pattern=IDENT_PATTERN)] = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[UtcDateTime | None, Query()] = None,
) -> Response:
    result = await service.rejections(
        session, key=key, park_id=park_id, reason=reason, since=since, page=page
    )
    return cached_json(request, result)
