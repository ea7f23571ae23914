"""``/api/v1/parks/{park_id}/economy/...``: the rules as data (亩均 schemes, a firm's scored
items, the working-day calendar) and 电力消费弹性系数. Included by app.economy.router."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.types import IDENT_PATTERN
from app.economy import elasticity, power, schemes
from app.economy.schemas import MONTH_PATTERN, CalendarDay, CalendarDayWrite, Elasticity
from app.economy.scheme_schemas import PermuEvents, SchemePut, SchemeRead
from app.parks.deps import ParkAdmin, ParkViewer

router = APIRouter(tags=["economy"], responses=PROBLEMS)

SCHEME_PATTERN = r"^[a-z0-9_-]{1,40}$"
EnterpriseIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the enterprise's id")]


@router.get(
    "/power-elasticity",
    response_model=Elasticity,
    summary="电力消费弹性系数 for January to the month, park and per industry",
    description="kWh growth over value-added growth against the same months a year before, "
    "on a comparable basis (同口径: the firms with kWh in both periods and value added for "
    "the same months of both years).",
)
async def get_power_elasticity(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
) -> Response:
    return cached_json(request, await elasticity.get(session, ctx=ctx, month=month))


@router.get(
    "/schemes",
    response_model=list[SchemeRead],
    summary="亩均 schemes: each code's version for `year`, with its sources",
    description="The version of each scheme code in force for `year` (the newest from that "
    "year back; the park's own before the seeded default); `code` for one of them.",
)
async def list_schemes(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    year: Annotated[int, Query(ge=2000, le=2999)],
    code: Annotated[str | None, Query(pattern=SCHEME_PATTERN)] = None,
) -> Response:
    found = await schemes.list_(session, ctx=ctx, year=year, code=code)
    return cached_json(request, schemes.dump(found))


@router.put(
    "/schemes",
    response_model=SchemeRead,
    summary="The park's own version of a 亩均 scheme from a year (admin)",
    description="`{code, year, definition}`: indicators per firm class (weights, benchmarks, "
    "caps, what a missing value scores), scope, grade cut-offs, 加分/减分/一票否决 items. "
    "Years after it use it until a later version exists; the seeded defaults stay as they "
    "are.",
)
async def put_scheme(data: SchemePut, session: SessionDep, ctx: ParkAdmin) -> SchemeRead:
    return await schemes.put(session, ctx=ctx, data=data)


@router.put(
    "/per-mu/events/{enterprise_id}",
    response_model=PermuEvents,
    summary="A firm's scored items of a year (admin): 加分, 减分, 一票否决",
    description="Replaces the firm's items of `year`; a scheme scores the items it names "
    "(e.g. `serious_safety_accident` sets D in the seeded schemes).",
)
async def put_permu_events(
    enterprise_id: EnterpriseIdPath, data: PermuEvents, session: SessionDep, ctx: ParkAdmin
) -> PermuEvents:
    return await schemes.put_events(session, ctx=ctx, enterprise_id=enterprise_id, data=data)


@router.get(
    "/calendar",
    response_model=list[CalendarDay],
    summary="Public holidays and make-up working days (调休) of a year, with their notice",
)
async def get_calendar(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    year: Annotated[int, Query(ge=2000, le=2999)],
) -> Response:
    return cached_json(
        request, schemes.dump(await power.calendar_days(session, ctx=ctx, year=year))
    )


@router.put(
    "/calendar",
    response_model=CalendarDay,
    summary="The park's own holiday or make-up working day (admin)",
)
async def put_calendar_day(
    data: CalendarDayWrite, session: SessionDep, ctx: ParkAdmin
) -> CalendarDay:
    return await power.put_calendar_day(session, ctx=ctx, data=data)
