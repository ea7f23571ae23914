"""``/api/v1/parks/{park_id}/enterprises/{enterprise_id}/...``: the enterprise's own view,
read-only. Each route takes ``EnterpriseViewer``: park staff with the viewer role, or the
enterprise's own key (any other enterprise: 404). The reads of measurements and what is computed
from them (latest values, series, energy, carbon, 亩均) go to the read pool, as the park-wide
routes do (docs/scale-out.md); its records (premises, leases, rent, alarms, the overview that
shows them) stay on the primary."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.alarms.schemas import AlarmRead
from app.assets.tenancy import rent
from app.assets.tenancy.rent_schemas import MONTH, RentCollection, RentPaymentRead
from app.assets.tenancy.schemas import LeaseRead
from app.carbon.schemas import Interval, LedgerAnswer
from app.core.appstate import app_state
from app.core.db import ReadSessionDep, SessionDep
from app.core.http import PROBLEMS, cached_json, cached_response
from app.core.pagination import Page, PageDep
from app.core.severity import Severity
from app.core.types import IDENT_PATTERN
from app.devices.schemas import DeviceRead, DeviceTwin
from app.enterprise_portal import service
from app.enterprise_portal.schemas import DeviceFilters, EnterprisePerMu, Overview, PremiseRead
from app.parks.deps import EnterpriseViewer
from app.telemetry.schemas import BulkLatest, DeviceLatest, SeriesRead
from app.telemetry.series_query import SeriesQueryDep, series_response

router = APIRouter(
    prefix="/api/v1/parks/{park_id}/enterprises/{enterprise_id}",
    tags=["enterprise view"],
    responses=PROBLEMS,
)

DeviceIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="one of its devices")]
LeaseIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="one of its leases")]
MetricPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="a metric of the device")]
ActiveOn = Annotated[date | None, Query(description="only leases running on this date")]
OWN = " Enterprise keys: their own enterprise only; staff: viewer."


@router.get(
    "/overview",
    response_model=Overview,
    summary="The enterprise page in one request",
    description="Its record, premises held today, devices per status, active alarms per "
    "severity, this month's energy and CO₂, this year's rent (应收/实收/收缴率) and last "
    "year's 亩均 grade." + OWN,
)
async def overview(request: Request, session: SessionDep, ctx: EnterpriseViewer) -> Response:
    return cached_json(request, await service.overview(session, ctx=ctx))


@router.get("/leases", response_model=Page[LeaseRead], summary="Its leases", description=OWN)
async def list_leases(
    request: Request,
    session: SessionDep,
    ctx: EnterpriseViewer,
    page: PageDep,
    active_on: ActiveOn = None,
) -> Response:
    result = await service.list_leases(session, ctx=ctx, active_on=active_on, page=page)
    return cached_json(request, result)


@router.get(
    "/leases/{lease_id}/payments",
    response_model=Page[RentPaymentRead],
    summary="Rent payments of one of its leases",
    description=OWN,
)
async def list_payments(
    request: Request,
    lease_id: LeaseIdPath,
    session: SessionDep,
    ctx: EnterpriseViewer,
    page: PageDep,
) -> Response:
    await service.own_lease(session, ctx, lease_id)
    return cached_json(request, await rent.list_(session, ctx=ctx, lease_id=lease_id, page=page))


@router.get(
    "/premises",
    response_model=Page[PremiseRead],
    summary="The spaces, buildings and parcels its leases hold",
    description="One item per lease, in lease id order." + OWN,
)
async def list_premises(
    request: Request,
    session: SessionDep,
    ctx: EnterpriseViewer,
    page: PageDep,
    active_on: ActiveOn = None,
) -> Response:
    result = await service.list_premises(session, ctx=ctx, active_on=active_on, page=page)
    return cached_json(request, result)


@router.get(
    "/devices",
    response_model=Page[DeviceRead],
    summary="Its meters and devices",
    description="Devices whose `enterprise_id` is the enterprise's." + OWN,
)
async def list_devices(
    request: Request,
    session: SessionDep,
    ctx: EnterpriseViewer,
    page: PageDep,
    filters: Annotated[DeviceFilters, Query()],
) -> Response:
    result = await service.list_devices(session, ctx=ctx, filters=filters, page=page)
    return cached_json(request, result)


@router.get(
    "/devices/{device_id}",
    response_model=DeviceTwin,
    summary="One of its devices, with its newest values",
    description="404 for a device that is not the enterprise's." + OWN,
)
async def get_device(
    request: Request, device_id: DeviceIdPath, session: SessionDep, ctx: EnterpriseViewer
) -> Response:
    return cached_json(request, await service.get_device(session, ctx=ctx, device_id=device_id))


@router.get(
    "/devices/{device_id}/latest",
    response_model=DeviceLatest,
    summary="Newest value of each metric of one of its devices",
    description=OWN,
)
async def device_latest(
    request: Request, device_id: DeviceIdPath, session: ReadSessionDep, ctx: EnterpriseViewer
) -> Response:
    return cached_json(request, await service.latest(session, ctx=ctx, device_id=device_id))


@router.get(
    "/latest",
    response_model=BulkLatest,
    summary="Newest values of all its devices in one call",
    description="As `GET /parks/{park_id}/latest`, over the enterprise's own devices only "
    "(repeat `metric` or `device_id` to choose; another enterprise's device matches nothing)."
    + OWN,
)
async def bulk_latest(
    request: Request,
    session: ReadSessionDep,
    ctx: EnterpriseViewer,
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


@router.get(
    "/devices/{device_id}/series/{metric}",
    response_model=SeriesRead,
    summary="History of one metric of one of its devices",
    description="As `GET /parks/{park_id}/devices/{device_id}/series/{metric}`, for the "
    "enterprise's own devices (404 for any other)." + OWN,
)
async def series(
    request: Request,
    device_id: DeviceIdPath,
    metric: MetricPath,
    session: ReadSessionDep,
    ctx: EnterpriseViewer,
    query: SeriesQueryDep,
) -> Response:
    result = await service.series(
        session, ctx=ctx, device_id=device_id, metric=metric, source="auto", **query.args()
    )
    return series_response(request, result)


@router.get(
    "/alarms",
    response_model=Page[AlarmRead],
    summary="Alarms on its devices",
    description="Newest first; `status` `active` (default), `cleared` or `all`." + OWN,
)
async def list_alarms(
    request: Request,
    session: SessionDep,
    ctx: EnterpriseViewer,
    page: PageDep,
    status: Annotated[str, Query(pattern="^(active|cleared|all)$")] = "active",
    severity: Severity | None = None,
    device_id: Annotated[str | None, Query(pattern=IDENT_PATTERN)] = None,
) -> Response:
    result = await service.list_alarms(
        session, ctx=ctx, status=status, severity=severity, device_id=device_id, page=page
    )
    return cached_json(request, result)


@router.get(
    "/energy",
    response_model=LedgerAnswer,
    summary="Its energy by carrier and month",
    description="The carbon ledger of the enterprise alone (its meters and manual "
    "entries): a row per month (`interval`) with the carriers, tce (当量值, 等价值) and "
    "tCO₂; from/to are local days (default: this month)." + OWN,
)
async def energy(
    request: Request,
    session: ReadSessionDep,
    ctx: EnterpriseViewer,
    from_: Annotated[date | None, Query(alias="from", description="first local day")] = None,
    to: Annotated[date | None, Query(description="last local day, inclusive")] = None,
    interval: Annotated[Interval, Query(description="day, month, year or all")] = "month",
) -> Response:
    answer = await service.energy(session, ctx=ctx, start=from_, end=to, interval=interval)
    return cached_json(request, answer)


@router.get(
    "/carbon",
    summary="Its annual carbon account",
    description="The annual carbon report of the enterprise (as `GET .../carbon/report"
    "?enterprise_id=`), JSON; `year` defaults to this year." + OWN,
)
async def carbon_account(
    request: Request,
    session: ReadSessionDep,
    ctx: EnterpriseViewer,
    year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
) -> Response:
    chosen = year or service.today(ctx).year
    return cached_json(request, await service.carbon_account(session, ctx=ctx, year=chosen))


@router.get(
    "/per-mu",
    response_model=EnterprisePerMu,
    summary="Its 亩均效益评价 result",
    description="Each indicator's value, unit, benchmark, weight and points, the score, "
    "rank and class size, the grade and its rule; no other firm's figures. `year` "
    "defaults to last year. 404 when the park's evaluation has no item for it." + OWN,
)
async def per_mu(
    request: Request,
    session: ReadSessionDep,
    ctx: EnterpriseViewer,
    year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
) -> Response:
    chosen = year or service.today(ctx).year - 1
    return cached_json(request, await service.per_mu(session, ctx=ctx, year=chosen))


@router.get(
    "/rent",
    response_model=RentCollection,
    response_model_by_alias=True,
    summary="Its rent due and paid (应收, 实收, 收缴率)",
    description=rent.RULE + "; its leases only. Default: January to this month." + OWN,
)
async def rent_collection(
    request: Request,
    session: SessionDep,
    ctx: EnterpriseViewer,
    first: Annotated[str | None, Query(alias="from", pattern=MONTH, description="YYYY-MM")] = None,
    last: Annotated[str | None, Query(alias="to", pattern=MONTH, description="YYYY-MM")] = None,
) -> Response:
    today = service.today(ctx)
    result = await service.rent_collection(
        session, ctx=ctx, first=first or f"{today.year}-01", last=last or today.strftime("%Y-%m")
    )
    return cached_json(request, result)
