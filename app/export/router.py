"""Bulk data out: ``GET .../export/readings``, ``GET .../export/rollups`` (CSV or Parquet,
streamed; planned and read on the read pool: a replica where there is one, so a year's export
does not load the primary) and ``GET .../catalogue`` (what the park's datasets hold and where to
get them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.core.appstate import app_state
from app.core.db import ReadSessionDep, SessionDep
from app.core.http import PROBLEMS, SettingsDep, cached_json
from app.core.types import UtcDateTime
from app.export import catalogue, service
from app.export.schemas import CatalogueRead
from app.parks.deps import ParkViewer
from app.reports.files import Lang
from app.telemetry.intervals import Level

router = APIRouter(tags=["export"], responses=PROBLEMS)
PARK = "/api/v1/parks/{park_id}"
MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        }
    }
}
RESUME = (
    "Rows come in the order of `(ts, device_id, metric)` (ids in byte order), so a download "
    "that stopped resumes with `after=<ts>,<device_id>,<metric>` of the last whole row "
    "received (its time with an offset: the `en` CSV's and Parquet's are UTC; the `zh` CSV's "
    "are in the park's zone, named in the header), with the same other parameters: the new "
    "file holds the rows after it. Memory stays the size of one chunk "
    "(`PARKTWIN_EXPORT_CHUNK_ROWS`) whatever the export's size. `format=csv` (default) with "
    "`lang=zh` (default) is for Excel: UTF-8 with a BOM, Chinese headers, park-local times "
    "`YYYY-MM-DD HH:MM:SS`; `lang=en`: column names and RFC 3339 UTC times. `format=parquet`: "
    "English column names, UTC timestamps (µs), a row group per chunk. A range is at most "
    "`PARKTWIN_EXPORT_MAX_RANGE` (default 366 days)."
)
DeviceIds = Annotated[
    list[str] | None,
    Query(alias="device_id", max_length=1000, description="repeat (up to 1,000); default all"),
]
Metrics = Annotated[
    list[str] | None, Query(alias="metric", max_length=100, description="repeat; default all")
]
From = Annotated[UtcDateTime | None, Query(alias="from", description="default: to - 24 h")]
To = Annotated[UtcDateTime | None, Query(description="default: now")]
FormatQ = Annotated[service.Format, Query(description="csv or parquet")]
LangQ = Annotated[Lang, Query(description="CSV headers and times: zh (Excel) or en")]
After = Annotated[
    str | None,
    Query(max_length=200, description="resume after this row: `time,device_id,metric`"),
]


def _stream(request: Request, plan: service.Plan, name: str) -> Response:
    filename = f"{plan.park_id}-{name}.{plan.fmt}"
    return StreamingResponse(
        service.stream(app_state(request).read_sessionmaker, plan),
        media_type=MEDIA[plan.fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Export-Order": "ts,device_id,metric",
        },
    )


@router.get(
    PARK + "/export/readings",
    summary="Raw readings of a range as a CSV or Parquet file (streamed, resumable)",
    description="Columns `ts, device_id, metric, value, unit`. " + RESUME,
    responses=FILES,
    response_class=Response,
)
async def export_readings(
    request: Request, session: ReadSessionDep, ctx: ParkViewer, settings: SettingsDep,
    from_: From = None, to: To = None, device_id: DeviceIds = None, metric: Metrics = None,
    format: FormatQ = "csv", lang: LangQ = "zh", after: After = None,
) -> Response:  # fmt: skip
    plan = await service.plan(
        session, ctx=ctx, dataset="readings", level="hour", fmt=format, lang=lang,
        start=from_, end=to, device_ids=device_id, metrics=metric, after=after,
        max_range=settings.export_max_range, chunk_rows=settings.export_chunk_rows,
    )  # fmt: skip
    return _stream(request, plan, "readings")


@router.get(
    PARK + "/export/rollups",
    summary="Hourly or daily rollups of a range as a CSV or Parquet file (streamed, resumable)",
    description="Columns `bucket, device_id, metric, count, avg, min, max, first, last, delta, "
    "unit`: one row per series and UTC hour (`level=hour`) or park-local day (`level=day`) "
    "holding readings, as the series API computes them; the range is widened to whole "
    "buckets. " + RESUME,
    responses=FILES,
    response_class=Response,
)
async def export_rollups(
    request: Request, session: ReadSessionDep, ctx: ParkViewer, settings: SettingsDep,
    level: Annotated[Level, Query(description="hour or day")] = "hour",
    from_: From = None, to: To = None, device_id: DeviceIds = None, metric: Metrics = None,
    format: FormatQ = "csv", lang: LangQ = "zh", after: After = None,
) -> Response:  # fmt: skip
    plan = await service.plan(
        session, ctx=ctx, dataset="rollups", level=level, fmt=format, lang=lang,
        start=from_, end=to, device_ids=device_id, metrics=metric, after=after,
        max_range=settings.export_max_range, chunk_rows=settings.export_chunk_rows,
    )  # fmt: skip
    return _stream(request, plan, f"rollup_{level}")


@router.get(
    PARK + "/catalogue",
    response_model=CatalogueRead,
    summary="The park's datasets: fields, units, update rhythm, retention, where to get them",
)
async def get_catalogue(
    request: Request, session: SessionDep, ctx: ParkViewer, settings: SettingsDep
) -> Response:
    return cached_json(request, await catalogue.build(session, ctx=ctx, settings=settings))
