"""``/api/v1/parks/{park_id}/enterprises``, ``.../leases`` (with ``.../payments``),
``.../occupancy``, ``.../rent/collection``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.assets.tenancy import enterprises, leases, occupancy, rent
from app.assets.tenancy.rent_schemas import (
    MONTH,
    RentCollection,
    RentPaymentCreate,
    RentPaymentRead,
)
from app.assets.tenancy.schemas import (
    EnterpriseCreate,
    EnterpriseFilters,
    EnterpriseRead,
    EnterpriseUpdate,
    ExpiringLease,
    LeaseCreate,
    LeaseFilters,
    LeaseRead,
    LeaseUpdate,
    Occupancy,
)
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.idempotency.route import IDEMPOTENT, IdempotentRoute
from app.parks.deps import EnterpriseIdPath, EnterpriseViewer, ParkAdmin, ParkViewer

router = APIRouter(
    prefix="/api/v1/parks/{park_id}",
    tags=["tenancy"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
)

LeaseIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the lease's id")]
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.post(
    "/enterprises",
    status_code=status.HTTP_201_CREATED,
    summary="Register an enterprise (admin)",
    description="422 when the 统一社会信用代码 fails its GB 32100-2015 check character; 409 when "
    "the id or the credit code is already taken in the park.",
)
async def create_enterprise(
    data: EnterpriseCreate, session: SessionDep, ctx: ParkAdmin
) -> EnterpriseRead:
    return await enterprises.create(session, ctx=ctx, data=data)


@router.get("/enterprises", response_model=Page[EnterpriseRead], summary="List enterprises")
async def list_enterprises(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[EnterpriseFilters, Query()],
) -> Response:
    result = await enterprises.list_(session, ctx=ctx, filters=filters, page=page)
    return cached_json(request, result)


@router.get(
    "/enterprises/{enterprise_id}",
    response_model=EnterpriseRead,
    summary="An enterprise",
    description="Park staff (viewer), and the enterprise's own key (企业自助服务).",
)
async def get_enterprise(request: Request, session: SessionDep, ctx: EnterpriseViewer) -> Response:
    result = await enterprises.get(session, ctx=ctx, enterprise_id=ctx.enterprise_id)
    return cached_json(request, result)


@router.patch("/enterprises/{enterprise_id}", summary="Change an enterprise (admin)")
async def update_enterprise(
    enterprise_id: EnterpriseIdPath, data: EnterpriseUpdate, session: SessionDep, ctx: ParkAdmin
) -> EnterpriseRead:
    return await enterprises.update(session, ctx=ctx, enterprise_id=enterprise_id, data=data)


@router.delete(
    "/enterprises/{enterprise_id}",
    status_code=NO_CONTENT,
    summary="Delete an enterprise (admin)",
    description="409 while it holds leases.",
)
async def delete_enterprise(
    enterprise_id: EnterpriseIdPath, session: SessionDep, ctx: ParkAdmin
) -> Response:
    await enterprises.delete(session, ctx=ctx, enterprise_id=enterprise_id)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/leases",
    status_code=status.HTTP_201_CREATED,
    summary="Create a lease (admin)",
    dependencies=[IDEMPOTENT],
    description="Exactly one of `space_id`, `building_id`, `parcel_id`; dates inclusive. 409 "
    "when it shares a day with a lease of the same space, building or parcel (a building "
    "lease also with leases of its spaces).",
)
async def create_lease(data: LeaseCreate, session: SessionDep, ctx: ParkAdmin) -> LeaseRead:
    return await leases.create(session, ctx=ctx, data=data)


@router.get("/leases", response_model=Page[LeaseRead], summary="List leases")
async def list_leases(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[LeaseFilters, Query()],
) -> Response:
    return cached_json(request, await leases.list_(session, ctx=ctx, filters=filters, page=page))


@router.get(
    "/leases/expiring",
    response_model=Page[ExpiringLease],
    summary="Leases expiring in the next N days",
    description="Leases whose last day is between `date` (default: today in the park's "
    "timezone) and `date` + `days`, soonest first, with the tenant's name and `days_left`.",
)
async def expiring_leases(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    days: Annotated[int, Query(ge=0, le=3660, description="the window, in days")] = 30,
    on: Annotated[date | None, Query(alias="date", description="default: today")] = None,
) -> Response:
    result = await occupancy.expiring(session, ctx=ctx, days=days, on=on, page=page)
    return cached_json(request, result)


@router.get("/leases/{lease_id}", response_model=LeaseRead, summary="A lease")
async def get_lease(
    request: Request, lease_id: LeaseIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await leases.get(session, ctx=ctx, lease_id=lease_id))


@router.patch("/leases/{lease_id}", summary="Change a lease (admin)")
async def update_lease(
    lease_id: LeaseIdPath, data: LeaseUpdate, session: SessionDep, ctx: ParkAdmin
) -> LeaseRead:
    return await leases.update(session, ctx=ctx, lease_id=lease_id, data=data)


@router.delete("/leases/{lease_id}", status_code=NO_CONTENT, summary="Delete a lease (admin)")
async def delete_lease(lease_id: LeaseIdPath, session: SessionDep, ctx: ParkAdmin) -> Response:
    await leases.delete(session, ctx=ctx, lease_id=lease_id)
    return Response(status_code=NO_CONTENT)


@router.get(
    "/occupancy",
    response_model=Occupancy,
    summary="Occupancy (出租率, 空置率) per building and park at a date",
    description="Leased and leasable area on `date` (default: today in the park's timezone): "
    "a space is leased on a day when a lease of it or of its whole building runs that day; "
    "`not_leasable` spaces count in neither area; a building without spaces counts its floor "
    "area. Parcel (land) leases are not in the rate.",
)
async def get_occupancy(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    on: Annotated[date | None, Query(alias="date", description="default: today")] = None,
) -> Response:
    return cached_json(request, await occupancy.occupancy(session, ctx=ctx, on=on))


PaymentIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the payment's id")]


@router.post(
    "/leases/{lease_id}/payments",
    status_code=status.HTTP_201_CREATED,
    summary="Record a rent payment for one month of a lease (admin)",
    description="`period` is the month paid for (YYYY-MM), within the lease's term; 409 when "
    "the id is taken.",
    dependencies=[IDEMPOTENT],
)
async def record_payment(
    lease_id: LeaseIdPath, data: RentPaymentCreate, session: SessionDep, ctx: ParkAdmin
) -> RentPaymentRead:
    return await rent.record(session, ctx=ctx, lease_id=lease_id, data=data)


@router.get(
    "/leases/{lease_id}/payments",
    response_model=Page[RentPaymentRead],
    summary="A lease's rent payments",
)
async def list_payments(
    request: Request, lease_id: LeaseIdPath, session: SessionDep, ctx: ParkViewer, page: PageDep
) -> Response:
    return cached_json(request, await rent.list_(session, ctx=ctx, lease_id=lease_id, page=page))


@router.delete(
    "/leases/{lease_id}/payments/{payment_id}",
    status_code=NO_CONTENT,
    summary="Delete a rent payment recorded by mistake (admin)",
)
async def delete_payment(
    lease_id: LeaseIdPath, payment_id: PaymentIdPath, session: SessionDep, ctx: ParkAdmin
) -> Response:
    await rent.delete(session, ctx=ctx, lease_id=lease_id, payment_id=payment_id)
    return Response(status_code=NO_CONTENT)


@router.get(
    "/rent/collection",
    response_model=RentCollection,
    response_model_by_alias=True,
    summary="Rent collection (收缴率) per lease, building, parcel and park",
    description=rent.RULE + ". At most 120 months.",
)
async def rent_collection(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    first: Annotated[str, Query(alias="from", pattern=MONTH, description="YYYY-MM")],
    last: Annotated[str, Query(alias="to", pattern=MONTH, description="YYYY-MM")],
) -> Response:
    result = await rent.collection(session, ctx=ctx, first=first, last=last)
    return cached_json(request, result)
