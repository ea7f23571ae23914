"""``/api/v1/parks/{park_id}/carbon/...``: the green and low-carbon module (绿色低碳)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.carbon import budgets, exports, ledger, report, service
from app.carbon.schemas import (
    BudgetPut,
    BudgetRead,
    CoefficientCreate,
    FactorCreate,
    GreenPowerCreate,
    GreenPowerRead,
    GroupBy,
    Interval,
    LedgerAnswer,
    ManualEntryCreate,
    ManualEntryRead,
    NaturalGasPut,
    ProcessEmissionPut,
    ProcessEmissionRead,
    Settings,
    SteamPut,
)
from app.core.appstate import app_state
from app.core.db import ReadSessionDep, SessionDep
from app.core.http import PROBLEMS, SettingsDep, cached_json, cached_response
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.idempotency.route import IDEMPOTENT, IdempotentRoute
from app.parks.deps import ParkAdmin, ParkViewer
from app.reports import files

router = APIRouter(
    prefix="/api/v1/parks/{park_id}/carbon",
    tags=["carbon"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
)

From = Annotated[date | None, Query(alias="from", description="first local day (default: "
                                    "the 1st of this month)")]  # fmt: skip
To = Annotated[date | None, Query(description="last local day, inclusive (default: today)")]
GroupByQuery = Annotated[GroupBy, Query()]
IntervalQuery = Annotated[
    Interval, Query(description="periods in the park's calendar; all: one row per group")
]
TotalQuery = Annotated[
    bool,
    Query(
        description="also `total`: the rows of the whole range, as `interval=all` gives "
        "them, from the same ledger (one computation for a chart by period and its sum)"
    ),
]
LEDGER = (
    "Metered quantities (counter deltas from the daily rollups, resets counted) plus manual "
    "entries, per group and period; a sub-meter counts only when its parent meter is not in "
    "the same group. Every carrier row carries its tce (当量值 and 等价值) and tCO₂."
)


@router.get(
    "/energy",
    response_model=LedgerAnswer,
    summary="Energy per carrier in tce",
    description=LEDGER + " `meter_gaps`: main − Σ sub (损耗/未计量) per meter tree.",
)
async def energy(
    request: Request, session: ReadSessionDep, ctx: ParkViewer, from_: From = None, to: To = None,
    group_by: GroupByQuery = "park", interval: IntervalQuery = "all", total: TotalQuery = False,
) -> Response:  # fmt: skip
    answer = await service.ledger_answer(
        session, ctx=ctx, start=from_, end=to, group_by=group_by, interval=interval, gaps=True,
        total=total, flights=app_state(request).cache(ledger.Flights),
    )  # fmt: skip
    return cached_json(request, answer)


@router.get("/emissions", response_model=LedgerAnswer, summary="Scope 1 and 2 emissions",
            description=LEDGER + " Scope 2 both location-based and market-based.")  # fmt: skip
async def emissions(
    request: Request, session: ReadSessionDep, ctx: ParkViewer, from_: From = None, to: To = None,
    group_by: GroupByQuery = "park", interval: IntervalQuery = "all", total: TotalQuery = False,
) -> Response:  # fmt: skip
    answer = await service.ledger_answer(
        session, ctx=ctx, start=from_, end=to, group_by=group_by, interval=interval, total=total,
        flights=app_state(request).cache(ledger.Flights),
    )  # fmt: skip
    return cached_json(request, answer)


@router.get("/factors", summary="Carriers, coefficients and emission factors",
            description="Every version (defaults and the park's own), with sources, valid-from "
            "dates, `verify` (a default to be confirmed) and `in_force` today.")  # fmt: skip
async def factor_tables(request: Request, session: SessionDep, ctx: ParkViewer) -> Response:
    return cached_json(request, await service.factor_tables(session, ctx=ctx))


@router.post("/coefficients", status_code=status.HTTP_201_CREATED,
             summary="Add a standard-coal coefficient version for the park (admin)")  # fmt: skip
async def add_coefficient(
    data: CoefficientCreate, session: SessionDep, ctx: ParkAdmin
) -> dict[str, Any]:
    return await service.add_coefficient(session, ctx=ctx, data=data)


@router.post("/factors", status_code=status.HTTP_201_CREATED,
             summary="Add an emission factor version for the park (admin)",
             description="Applies from `valid_from` on; earlier days keep the versions in force "
             "then.")  # fmt: skip
async def add_factor(data: FactorCreate, session: SessionDep, ctx: ParkAdmin) -> dict[str, Any]:
    return await service.add_factor(session, ctx=ctx, data=data)


@router.put("/settings", summary="The park's grid region (admin)",
            description="422 for a region without a grid factor (GET .../carbon/factors lists "
            "them).")  # fmt: skip
async def put_settings(data: Settings, session: SessionDep, ctx: ParkAdmin) -> Settings:
    return await service.set_settings(session, ctx=ctx, data=data)


@router.get("/settings", summary="The park's grid region")
async def get_settings(session: SessionDep, ctx: ParkViewer) -> Settings:
    return await service.get_settings(session, ctx=ctx)


@router.put("/steam", summary="The park's purchased steam conditions (admin)",
            description="Pressure (MPa, absolute) and temperature (°C; null: saturated) of the "
            "steam bought; from `valid_from` on, steam counts by the accounting guide's method: "
            "kg x (enthalpy − 83.74 kJ/kg) x the purchased-heat factor (0.11 tCO₂/GJ). The "
            "answer is the park's new steam factor with its parameters.")  # fmt: skip
async def put_steam(data: SteamPut, session: SessionDep, ctx: ParkAdmin) -> dict[str, Any]:
    return await service.set_steam(session, ctx=ctx, data=data)


@router.put("/natural-gas", summary="The park's natural-gas calorific value (admin)",
            description="One net calorific value (MJ/m³) used from `valid_from` on for both the "
            "standard-coal coefficient (NCV / 29.307 MJ/kgce) and the CO₂ factor (NCV x carbon "
            "content x oxidation x 44/12); 409 when the park has versions from that "
            "date.")  # fmt: skip
async def put_natural_gas(
    data: NaturalGasPut, session: SessionDep, ctx: ParkAdmin
) -> dict[str, Any]:
    return await service.set_natural_gas(session, ctx=ctx, data=data)


@router.put("/process-emissions/{enterprise_id}/{year}",
            summary="Enter an enterprise's process emissions of a year (admin)",
            description="工业生产过程排放 in tCO₂, as computed by the enterprise or its verifier; "
            "counted in Scope 1 of the annual report.")  # fmt: skip
async def put_process(
    data: ProcessEmissionPut, session: SessionDep, ctx: ParkAdmin,
    enterprise_id: Annotated[str, Path(pattern=IDENT_PATTERN)],
    year: Annotated[int, Path(ge=2000, le=2100)],
) -> ProcessEmissionRead:  # fmt: skip
    return await service.put_process(
        session, ctx=ctx, enterprise_id=enterprise_id, year=year, data=data
    )


@router.get("/process-emissions", response_model=Page[ProcessEmissionRead],
            summary="Process emissions entered")  # fmt: skip
async def list_process(
    request: Request, session: SessionDep, ctx: ParkViewer, page: PageDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:  # fmt: skip
    return cached_json(request, await service.list_process(session, ctx=ctx, year=year, page=page))


@router.post("/manual-entries", status_code=status.HTTP_201_CREATED,
             dependencies=[IDEMPOTENT],
             summary="Enter a quantity by hand (admin)",
             description="Diesel, gasoline, LPG, coal, heat and other carriers without "
             "meters, per day, for an enterprise and/or building or the park.")  # fmt: skip
async def create_manual(
    data: ManualEntryCreate, session: SessionDep, ctx: ParkAdmin
) -> ManualEntryRead:
    return await service.create_manual(session, ctx=ctx, data=data)


@router.get("/manual-entries", response_model=Page[ManualEntryRead], summary="Manual entries")
async def list_manual(
    request: Request, session: SessionDep, ctx: ParkViewer, page: PageDep
) -> Response:
    return cached_json(request, await service.list_manual(session, ctx=ctx, page=page))


@router.post("/green-power", status_code=status.HTTP_201_CREATED,
             dependencies=[IDEMPOTENT],
             summary="Record a green-power contract or 绿证 (admin)",
             description="409 when a certificate id was used before (in any park).")  # fmt: skip
async def create_green(
    data: GreenPowerCreate, session: SessionDep, ctx: ParkAdmin
) -> list[GreenPowerRead]:
    return await service.create_green(session, ctx=ctx, data=data)


@router.get("/green-power/matching", summary="Green power matched over a year",
            description="The park's (every record) or one enterprise's green power of `year` "
            "against its grid kWh: contracts per month, 绿证 by vintage, consumed whole while "
            "they fit; `certificates` used, `certificates_excess` still available.")  # fmt: skip
async def green_matching(
    request: Request, session: ReadSessionDep, ctx: ParkViewer,
    year: Annotated[int, Query(ge=2000, le=2100)],
    enterprise_id: Annotated[str | None, Query(pattern=IDENT_PATTERN)] = None,
) -> Response:  # fmt: skip
    found = await service.green_matching(session, ctx=ctx, year=year, enterprise_id=enterprise_id)
    return cached_json(request, found)


@router.get("/green-power", response_model=Page[GreenPowerRead], summary="Green power")
async def list_green(
    request: Request, session: SessionDep, ctx: ParkViewer, page: PageDep
) -> Response:
    return cached_json(request, await service.list_green(session, ctx=ctx, page=page))


@router.put("/budgets", summary="Set an annual budget or intensity target (admin)")
async def put_budget(data: BudgetPut, session: SessionDep, ctx: ParkAdmin) -> BudgetRead:
    return await budgets.put(session, ctx=ctx, data=data)


@router.get("/budgets", response_model=list[BudgetRead],
            summary="Budgets with their year-to-date position and forecast")  # fmt: skip
async def list_budgets(
    request: Request, session: SessionDep, ctx: ParkViewer,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:  # fmt: skip
    found = await budgets.list_(
        session, ctx=ctx, year=year, flights=app_state(request).cache(ledger.Flights)
    )
    return cached_json(request, [b.model_dump() for b in found])


ReportFormat = Literal["json", "csv", "xlsx", "html", "pdf"]
ACCEPTED: tuple[tuple[str, ReportFormat], ...] = (
    ("application/pdf", "pdf"),
    ("text/csv", "csv"),
    ("text/html", "html"),
)
REPORT = (
    "JSON by default. `Accept: text/csv` answers the audit table with the machine column names "
    "(as always; UTF-8 with a BOM); `Accept: text/html` a printable page; `Accept: "
    "application/pdf` the 年度碳排放报告. `format=csv`/`xlsx`/`pdf`/`html` is the same as a "
    "download, the CSV and XLSX with Chinese headers and units unless `headers=en`."
)


def _negotiate(request: Request, fmt: ReportFormat | None) -> tuple[ReportFormat, bool]:
    """The format asked for, and whether ``Accept`` asked (machine clients: ``en`` headers)."""
    if fmt is not None:
        return fmt, False
    accept = request.headers.get("accept", "")
    found = next((f for media, f in ACCEPTED if media in accept), None)
    return (found, True) if found is not None else ("json", False)


@router.get("/report", summary="The annual carbon report", description=REPORT)
async def annual_report(
    request: Request, session: ReadSessionDep, ctx: ParkViewer, settings: SettingsDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    enterprise_id: Annotated[str | None, Query(pattern=IDENT_PATTERN)] = None,
    format: Annotated[ReportFormat | None, Query(description="default: by Accept")] = None,
    lang: Annotated[files.Lang | None, Query(alias="headers", description="zh or en")] = None,
) -> Response:  # fmt: skip
    content = await report.build(session, ctx=ctx, year=year, enterprise_id=enterprise_id)
    fmt, negotiated = _negotiate(request, format)
    headers = lang or ("en" if negotiated else "zh")
    name = f"carbon-report-{year}" + (f"-{enterprise_id}" if enterprise_id else "")
    if fmt == "csv":
        body = exports.csv_bytes(content, headers)
        if negotiated:
            return cached_response(request, body, media_type="text/csv; charset=utf-8")
        return files.download(body, "text/csv; charset=utf-8", f"{name}.csv")
    if fmt == "xlsx":
        return files.download(exports.xlsx_bytes(content, headers), files.XLSX, f"{name}.xlsx")
    if fmt == "pdf":
        body = await report.pdf_bytes(session, ctx=ctx, report=content, font=settings.pdf_font)
        return files.download(body, files.PDF, f"{name}.pdf")
    if fmt == "html":
        body = report.html_page(content).encode()
        return cached_response(request, body, media_type="text/html; charset=utf-8")
    return cached_json(request, content)
