"""``/api/v1/parks/{park_id}/economy/...``: 经济运行监测.

Report writes need the admin role: they are the park's official statistics, entered by the
administration (as assets are), not by the operators on shift. Every table a park official
hands on answers ``format=csv`` or ``format=xlsx`` as a download (default JSON), with Chinese
headers and park-local times (``headers=en``: the machine names and UTC times); the month's
overview also as the PDF 经济运行月报.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

import orjson
from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from app.core.db import ReadSessionDep, SessionDep
from app.core.http import PROBLEMS, SettingsDep, cached_json
from app.core.limits import TableLimits, large_body, spool_body
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.economy import labels, monthly, overview, permu, power, reports, settings
from app.economy import rules_router as rules
from app.economy.schemas import (
    MONTH_PATTERN,
    Anomaly,
    BenchmarkSet,
    ExportFormat,
    ImportResult,
    Overview,
    OverviewFormat,
    ParameterCreate,
    ParameterRead,
    PerMu,
    PowerIndex,
    ReportFilters,
    ReportRead,
    ReportWrite,
    Revision,
    ScaleChange,
    Settings,
)
from app.parks.deps import ParkAdmin, ParkContext, ParkViewer
from app.reports import files

router = APIRouter(prefix="/api/v1/parks/{park_id}/economy", tags=["economy"], responses=PROBLEMS)

SCHEME_PATTERN = rules.SCHEME_PATTERN
EnterpriseIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the enterprise's id")]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")]
Format = Annotated[ExportFormat, Query(description="json, or a csv/xlsx download")]
Lang = Annotated[
    files.Lang,
    Query(alias="headers", description="zh: Chinese headers with units, park-local times "
          "(default); en: machine names and UTC times"),
]  # fmt: skip
EXPORTS = (
    "`format=csv` or `format=xlsx` answers the table as a download (Chinese headers with "
    "units, park-local times; `headers=en` for the machine names and UTC times)."
)
IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "enterprise_id,month,output_value,value_added,revenue,tax,employees,"
                "rd_spend,emissions\nacme,2026-10,3120.5,812,2980,96.4,312,95,0.42\n",
            },
            files.XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _dump(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def _file(
    fmt: str, name: str, table: tuple[Sequence[str], Sequence[Sequence[Any]]],
    lang: files.Lang, ctx: ParkContext,
) -> Response:  # fmt: skip
    """A table as a CSV/XLSX download in the asked header language and the park's zone."""
    columns, rows = table
    return files.export(fmt, name, columns, rows, lang=lang, label=labels.label, tz=ctx.timezone)


def _rows(items: Sequence[BaseModel], model: type[BaseModel]) -> tuple[list[str], list[Any]]:
    columns = list(model.model_fields)
    return columns, [[_cell(getattr(item, c)) for c in columns] for item in items]


def _answer(
    request: Request, items: Sequence[BaseModel], fmt: str, name: str, model: type[BaseModel],
    lang: files.Lang, ctx: ParkContext,
) -> Response:  # fmt: skip
    """A list as JSON, or as a CSV/XLSX download (JSON cells as JSON text)."""
    if fmt == "json":
        return cached_json(request, _dump(items))
    return _file(fmt, name, _rows(items, model), lang, ctx)


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


@router.put(
    "/reports/{enterprise_id}/{month}",
    summary="Enter or correct an enterprise's monthly report (admin)",
    description="Creates or replaces the report; every changed field of an existing one is "
    "kept as a revision (old and new value, who, when). The enterprise's 规上 status is "
    "derived again by the statistics register's rule (the previous year's complete result "
    "against its sector's NBS threshold; a new firm by its 累计 revenue).",
)
async def put_report(
    enterprise_id: EnterpriseIdPath,
    month: MonthPath,
    data: ReportWrite,
    session: SessionDep,
    ctx: ParkAdmin,
) -> ReportRead:
    return await reports.put(session, ctx=ctx, enterprise_id=enterprise_id, month=month, data=data)


@router.get(
    "/reports", response_model=Page[ReportRead], summary="List monthly reports", description=EXPORTS
)
async def list_reports(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[ReportFilters, Query()],
    format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    result = await reports.list_(session, ctx=ctx, filters=filters, page=page)
    if format != "json":
        return _file(format, "economy-reports", _rows(result.items, ReportRead), lang, ctx)
    return cached_json(request, result)


@router.post(
    "/reports/import",
    response_model=ImportResult,
    summary="Import monthly reports from CSV or XLSX (admin)",
    description="Header: `enterprise_id` (or `credit_code`, the 统一社会信用代码), `month` "
    "(YYYY-MM) and the report's fields (a `name` column is ignored). Every "
    "row is checked first; any bad row answers 422 with `errors` (`row`, `field`, `reason` "
    "for each) and nothing is stored. Existing reports are replaced, with revisions. "
    "`dry_run=true` checks and stores nothing.",
    openapi_extra=IMPORT_BODY,
)
@large_body
async def import_reports(
    request: Request,
    session: SessionDep,
    ctx: ParkAdmin,
    settings: SettingsDep,
    dry_run: Annotated[bool, Query(description="validate only")] = False,
) -> ImportResult:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limits = TableLimits.of(settings)
    with await spool_body(request, settings.api_import_body_max) as body:
        rows = await to_thread.run_sync(reports.rows_of_body, media, body, limits)
    return await reports.import_reports(session, ctx=ctx, rows=rows, dry_run=dry_run)


@router.get(
    "/reports/{enterprise_id}/{month}", response_model=ReportRead, summary="A monthly report"
)
async def get_report(
    request: Request,
    enterprise_id: EnterpriseIdPath,
    month: MonthPath,
    session: SessionDep,
    ctx: ParkViewer,
) -> Response:
    result = await reports.get(session, ctx=ctx, enterprise_id=enterprise_id, month=month)
    return cached_json(request, result)


@router.get(
    "/reports/{enterprise_id}/{month}/revisions",
    response_model=list[Revision],
    summary="The revisions of a monthly report, oldest first",
)
async def report_revisions(
    request: Request,
    enterprise_id: EnterpriseIdPath,
    month: MonthPath,
    session: SessionDep,
    ctx: ParkViewer,
    format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    result = await reports.revisions(session, ctx=ctx, enterprise_id=enterprise_id, month=month)
    name = f"economy-revisions-{enterprise_id}-{month}"
    return _answer(request, result, format, name, Revision, lang, ctx)


@router.get(
    "/scale/{enterprise_id}",
    response_model=list[ScaleChange],
    summary="An enterprise's 规上 status changes",
    description="The months where its derived 规上 status is first known or changes, with the "
    "basis (annual, carried, cumulative), the revenue it rests on, the sector's threshold and "
    "the threshold's NBS document.",
)
async def scale_history(
    request: Request,
    enterprise_id: EnterpriseIdPath,
    session: ReadSessionDep,
    ctx: ParkViewer,
    format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    result = await reports.scale_history(session, ctx=ctx, enterprise_id=enterprise_id)
    name = f"economy-scale-{enterprise_id}"
    return _answer(request, result, format, name, ScaleChange, lang, ctx)


@router.get(
    "/overview",
    response_model=Overview,
    summary="Park economy for a month: totals, 同比, 环比, by industry, 规上 counts",
    description="同比 and 环比 compare only the enterprises that reported in both months. "
    + EXPORTS,
)
async def get_overview(
    request: Request,
    session: ReadSessionDep,
    ctx: ParkViewer,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
    settings: SettingsDep,
    format: Annotated[
        OverviewFormat, Query(description="json, a csv/xlsx download, or pdf: 经济运行月报")
    ] = "json",
    lang: Lang = "zh",
) -> Response:
    result = await overview.get(session, ctx=ctx, month=month)
    if format == "pdf" or files.wants_pdf(request):
        body = await monthly.render(session, ctx=ctx, overview=result, font=settings.pdf_font)
        return files.download(body, files.PDF, f"economy-monthly-{month}.pdf")
    if format != "json":
        return _file(format, f"economy-overview-{month}", overview.table(result), lang, ctx)
    return cached_json(request, result)


@router.get(
    "/power-index",
    response_model=PowerIndex,
    summary="电力看经济: daily kWh, 开工率 and the electricity index",
    description="`from` and `to` are park-local dates, both included (at most 400 days). "
    "`format=csv`/`xlsx` answers the days table (`table=enterprises`: one row per "
    "enterprise and day).",
)
async def get_power_index(
    request: Request,
    session: ReadSessionDep,
    ctx: ParkViewer,
    first: Annotated[date, Query(alias="from", description="first day")],
    last: Annotated[date, Query(alias="to", description="last day (included)")],
    base_month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="default: the park's parameter")
    ] = None,
    format: Format = "json",
    table: Annotated[str, Query(pattern="^(days|enterprises)$")] = "days",
    lang: Lang = "zh",
) -> Response:
    result = await power.power_index(
        session, ctx=ctx, first=first, last=last, base_month=base_month
    )
    if format == "json":
        return cached_json(request, result)
    if table == "enterprises":
        columns = ["enterprise_id", "section", "baseline_kwh", "date", "kwh", "operating"]
        rows = [
            [e.enterprise_id, e.section, e.baseline_kwh, d.date, d.kwh, d.operating]
            for e in result.enterprises
            for d in e.days
        ]
        return _file(format, "economy-power-enterprises", (columns, rows), lang, ctx)
    columns = ["date", "kwh", "monitored", "operating", "operating_rate", "index"]
    rows = [[getattr(d, c) for c in columns] for d in result.days]
    return _file(format, "economy-power-index", (columns, rows), lang, ctx)


@router.get(
    "/anomalies",
    response_model=list[Anomaly],
    summary="电力看经济 anomaly flags (sudden drop, long zero load)",
)
async def get_anomalies(
    request: Request,
    session: ReadSessionDep,
    ctx: ParkViewer,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
    format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    result = await power.list_anomalies(session, ctx=ctx, first=first, last=last)
    name = f"economy-anomalies-{first}-{last}"
    return _answer(request, result, format, name, Anomaly, lang, ctx)


@router.get(
    "/per-mu",
    response_model=PerMu,
    summary="亩均效益评价 for a year",
    description="Every enterprise with its land (亩), each indicator with its benchmark, "
    "weight and points, its score, rank and grade (A-D, T: not evaluated, with the reason). "
    + EXPORTS,
)
async def get_per_mu(
    request: Request,
    session: ReadSessionDep,
    ctx: ParkViewer,
    year: Annotated[int, Query(ge=2000, le=2999)],
    scheme: Annotated[
        str | None,
        Query(
            pattern=SCHEME_PATTERN,
            description="a scheme code (default: the park's "
            "`permu_scheme` parameter, else its benchmark set)",
        ),
    ] = None,
    format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    result = await permu.evaluate_year(session, ctx=ctx, year=year, scheme=scheme)
    if format != "json":
        return _file(format, f"economy-per-mu-{year}", permu.table(result), lang, ctx)
    return cached_json(request, result)


@router.get(
    "/settings",
    response_model=Settings,
    summary="The figures in force: parameters, 亩均 benchmarks and grade cut-offs",
    description="Parameters in force on `on` (default today), benchmarks and cut-offs used for "
    "`year` (default this year): the park's own versions where it has them, else the "
    "defaults; `verify` marks defaults to be confirmed.",
)
async def get_settings(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    on: Annotated[date | None, Query(description="default: today")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
) -> Response:
    day = on or date.today()
    result = await settings.get(session, ctx=ctx, on=day, year=year or day.year)
    return cached_json(request, result)


@router.post(
    "/parameters",
    status_code=201,
    response_model=ParameterRead,
    summary="A park's own version of a parameter from a date (admin)",
    description="409 when the park already has a version of it from that date.",
)
async def add_parameter(
    data: ParameterCreate, session: SessionDep, ctx: ParkAdmin
) -> ParameterRead:
    return await settings.add_parameter(session, ctx=ctx, data=data)


@router.put(
    "/benchmarks",
    response_model=Settings,
    summary="The park's 亩均 benchmarks, weights and cut-offs for a year (admin)",
    description="Replaces the park's own set for `year`; years after it use it until a later "
    "set exists. Indicators: 规上 `tax_per_mu`, `value_added_per_mu`, "
    "`value_added_per_energy`, `value_added_per_emission`, `labour_productivity`, "
    "`rd_ratio`; small firms `tax_per_mu`, `tax_per_kwh`.",
)
async def put_benchmarks(data: BenchmarkSet, session: SessionDep, ctx: ParkAdmin) -> Settings:
    return await settings.put_benchmarks(session, ctx=ctx, data=data)


router.include_router(rules.router)  # schemes, scored items, calendar, elasticity
