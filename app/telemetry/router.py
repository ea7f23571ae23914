"""Telemetry reads: latest values (one device, many devices), series history, the park's
load curve, rejections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.core.appstate import app_state
from app.core.auth import ViewerKey
from app.core.db import ReadSessionDep
from app.core.http import PROBLEMS, cached_json, cached_response
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageDep, PageParams
from app.core.types import IDENT_PATTERN, UtcDateTime
from app.devices.schemas import DeviceFilters
from app.parks.deps import ParkViewer
from app.telemetry import service
from app.telemetry.schemas import (
    BulkLatest,
    BulkLatestQuery,
    DeviceLatest,
    ParkLoad,
    ParkPower,
    RejectionRead,
    SeriesRead,
)
from app.telemetry.series_query import SeriesQueryDep, series_response
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
    request: Request, device_id: DeviceIdPath, session: ReadSessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await service.latest(session, ctx=ctx, device_id=device_id))


@router.get(
    PARK + "/latest",
    response_model=BulkLatest,
    summary="Newest values of many devices in one call (a wall of tiles)",
    description="Repeat `device_id` and `metric` to choose (default: every device of the park, "
    "every metric), or filter by `type`, `domain`, `building_id`, `enterprise_id`, `status`. "
    "One item per matching device, in id order. With `limit` (1..1000) or `cursor`, one "
    "page of devices in id order with `next_cursor` (null on the last page): what a park of "
    "100,000 devices needs (without them the answer holds every matching device). "
    "For lists too long for a URL, "
    "`POST .../latest/query` takes the same choice as a JSON body. Identical requests within "
    "`PARKTWIN_LATEST_CACHE_TTL` (default 1 s) share one answer, so a value may be up to that "
    "much older than the newest reading.",
)
async def bulk_latest(
    request: Request,
    session: ReadSessionDep,
    ctx: ParkViewer,
    filters: Annotated[DeviceFilters, Query()],
    device_id: Annotated[list[str] | None, Query(max_length=1000)] = None,
    metric: Annotated[list[str] | None, Query(max_length=100)] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_LIMIT, description="devices per page (paged when set)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> Response:
    cache = app_state(request).latest_cache
    if limit is None and cursor is None:
        result = await service.bulk_latest(
            session, ctx=ctx, device_ids=device_id, metrics=metric, filters=filters, cache=cache
        )
    else:
        result = await service.bulk_latest_page(
            session,
            ctx=ctx,
            device_ids=device_id,
            metrics=metric,
            filters=filters,
            page=PageParams(limit=limit or DEFAULT_LIMIT, cursor=cursor),
            cache=cache,
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
    request: Request, query: BulkLatestQuery, session: ReadSessionDep, ctx: ParkViewer
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
    session: ReadSessionDep,
    ctx: ParkViewer,
    query: SeriesQueryDep,
    source: Annotated[SourceChoice, Query(description="auto, raw, or rollup")] = "auto",
) -> Response:
    result = await service.series(
        session, ctx=ctx, device_id=device_id, metric=metric, source=source, **query.args()
    )
    return series_response(request, result)


@router.get(
    PARK + "/energy/load",
    response_model=ParkLoad,
    summary="The park's electricity load and PV output per hour (能源: 负荷曲线)",
    description=(
        "Per bucket (`1h`, the default, or `1d`: park-local days) of `[from, to)` that holds "
        "readings: `load_kwh`, the consumption of the park's root electricity meters (those "
        "without a parent meter, so each kWh counts once; kWh in an hour is the hour's mean "
        "load in kW), and `pv_kwh`, the PV inverters' generation; and `meters`, each root "
        "meter's kWh per park-local day of the range. Consumption is the series read's "
        "`delta` (resets count in full, the reading before each bucket as its baseline). "
        "The range is widened to whole buckets. Without `from` and `to`: yesterday and "
        "today, park-local. Identical reads within `PARKTWIN_LATEST_CACHE_TTL` share one "
        "answer; ETag and `If-None-Match` as every dashboard read."
    ),
)
async def park_load(
    request: Request,
    session: ReadSessionDep,
    ctx: ParkViewer,
    from_: Annotated[
        UtcDateTime | None, Query(alias="from", description="default: yesterday's start")
    ] = None,
    to: Annotated[UtcDateTime | None, Query(description="default: today's end")] = None,
    bucket: Annotated[str, Query(pattern="^(1h|1d)$", description="1h or 1d")] = "1h",
    top: Annotated[
        int | None,
        Query(
            ge=1,
            le=1000,
            description="`meters`: only the `top` root meters of each day by kWh (the top "
            "consumers); default: every root meter (40,000 a day at 100,000 devices)",
        ),
    ] = None,
) -> Response:
    body = await service.park_load(
        session,
        ctx=ctx,
        start=from_,
        end=to,
        bucket=bucket,
        top=top,
        cache=app_state(request).latest_cache,
    )
    return cached_response(request, body)


@router.get(
    PARK + "/energy/now",
    response_model=ParkPower,
    summary="The park's electricity load and PV output now (能源: 实时负荷)",
    description=(
        "`load`: the newest `power_kw` of the park's root electricity meters (those without a "
        "parent meter, as in `energy/load`), summed; `pv`: the same of its PV inverters. A "
        "device offline (no reading within its offline threshold) is counted in `offline` "
        "and its last value left out. One small answer at any park size (the cockpit summed "
        "every meter's newest value in the browser before: 40,000 meters at 100,000 "
        "devices). Identical reads within `PARKTWIN_LATEST_CACHE_TTL` share one answer; ETag "
        "and `If-None-Match` as every dashboard read."
    ),
)
async def park_power(request: Request, session: ReadSessionDep, ctx: ParkViewer) -> Response:
    body = await service.park_power(session, ctx=ctx, cache=app_state(request).latest_cache)
    return cached_response(request, body)


@router.get(
    "/api/v1/ingest/rejections",
    response_model=Page[RejectionRead],
    summary="Messages the ingestor rejected, newest first",
    description="Filter by `park_id`, `reason` (e.g. `unknown_metric`) and `since`. A key bound "
    "to a park sees only that park's rejections.",
)
async def list_rejections(
    request: Request,
    session: ReadSessionDep,
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
