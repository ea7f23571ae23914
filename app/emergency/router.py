"""``/api/v1/parks/{park_id}/incidents``, ``.../resources`` and ``.../emergency/...``.

Operators open and handle incidents; admins manage resources, plans, the roster and the
per-type settings, and only they may force a close with critical tasks open.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from app.assets.crs import to_wgs84
from app.assets.twin.deps import CacheDep, CrsQuery, brute_force, in_crs
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.emergency import admin, impact, reporting, service
from app.emergency.safety_router import router as safety_router
from app.emergency.schemas import (
    CommentIn,
    Impact,
    IncidentCreate,
    IncidentDetail,
    IncidentRead,
    IncidentUpdate,
    NearResource,
    PlanCreate,
    PlanRead,
    ReportIn,
    ResourceCreate,
    ResourceKind,
    ResourceRead,
    RosterCreate,
    RosterRead,
    Stats,
    StatusChange,
    TaskCreate,
    TaskRead,
    TaskUpdate,
    TypeRuleCreate,
    TypeRuleRead,
)
from app.idempotency.route import IDEMPOTENT, IdempotentRoute
from app.parks.deps import ParkAdmin, ParkOperator, ParkViewer


def _dump(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


router = APIRouter(
    prefix="/api/v1/parks/{park_id}",
    tags=["emergency"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
)

IncidentId = Annotated[uuid.UUID, Path(description="the incident's id")]
ResourceId = Annotated[str, Path(pattern=IDENT_PATTERN, description="the resource's id")]
Lon = Annotated[float, Query(ge=-180, le=180, description="longitude, in `crs` (WGS-84 default)")]
Lat = Annotated[float, Query(ge=-90, le=90, description="latitude, in `crs` (WGS-84 default)")]
Nearest = Annotated[int, Query(ge=1, le=50, description="how many of each kind")]
Drill = Annotated[bool, Query(description="drills instead of real incidents (never mixed)")]


@router.get("/incidents", response_model=Page[IncidentRead], summary="List incidents, newest first")
async def list_incidents(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    status: Annotated[
        Literal["reported", "responding", "contained", "closed", "open"] | None,
        Query(description="`open`: every status but closed; default: all"),
    ] = None,
    drill: Drill = False,
    crs: CrsQuery = "wgs84",
) -> Response:
    result = await service.list_(session, ctx=ctx, status=status, drill=drill, page=page)
    return cached_json(request, in_crs(result, crs))


@router.post(
    "/incidents",
    status_code=201,
    summary="Open an incident (operator); `drill: true` runs the same flow as a drill",
    dependencies=[IDEMPOTENT],
)
async def create_incident(
    data: IncidentCreate, session: SessionDep, ctx: ParkOperator
) -> IncidentRead:
    return await service.create(session, ctx=ctx, data=data)


@router.get(
    "/incidents/stats",
    response_model=Stats,
    summary="Counts and mean times of real incidents, or of drills (`drill=true`)",
)
async def incident_stats(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    drill: Drill = False,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
) -> Response:
    result = await service.stats(session, ctx=ctx, drill=drill, since=since, until=until)
    return cached_json(request, result)


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentDetail,
    summary="One incident with its tasks and timeline",
)
async def get_incident(
    request: Request,
    incident_id: IncidentId,
    session: SessionDep,
    ctx: ParkViewer,
    crs: CrsQuery = "wgs84",
) -> Response:
    result = await service.get(session, ctx=ctx, incident_id=incident_id)
    return cached_json(request, in_crs(result, crs))


@router.patch(
    "/incidents/{incident_id}",
    summary="Change the warning level, description, chemical, spill size or unit (operator)",
)
async def update_incident(
    incident_id: IncidentId, data: IncidentUpdate, session: SessionDep, ctx: ParkOperator
) -> IncidentDetail:
    return await service.update(session, ctx=ctx, incident_id=incident_id, data=data)


@router.post(
    "/incidents/{incident_id}/status",
    summary="Move the lifecycle forward: responding, contained, closed",
    description="Closing with critical tasks open answers 409 unless `force` is set by an "
    "admin key (403 for an operator); a forced close is recorded on the timeline.",
)
async def change_status(
    incident_id: IncidentId, data: StatusChange, session: SessionDep, ctx: ParkOperator
) -> IncidentDetail:
    return await service.change_status(session, ctx=ctx, incident_id=incident_id, data=data)


@router.post(
    "/incidents/{incident_id}/report",
    summary="Record a report sent to the authorities: 首报, 续报 or 补报 (operator)",
    description="`kind` first (default; once; late or not against the 1-hour deadline of an "
    "accident, 条例 Art. 9; a 险情 has no deadline), follow_up (续报) or supplement (补报, "
    "answering a casualty change, Art. 13), each with recipient, time, reporter and content.",
    dependencies=[IDEMPOTENT],
)
async def report_incident(
    incident_id: IncidentId, session: SessionDep, ctx: ParkOperator, data: ReportIn | None = None
) -> IncidentDetail:
    return await reporting.send_report(
        session, ctx=ctx, incident_id=incident_id, data=data or ReportIn()
    )


@router.post(
    "/incidents/{incident_id}/comments",
    summary="Add a comment to the timeline",
    dependencies=[IDEMPOTENT],
)
async def comment_incident(
    incident_id: IncidentId, data: CommentIn, session: SessionDep, ctx: ParkOperator
) -> IncidentDetail:
    return await service.comment(session, ctx=ctx, incident_id=incident_id, text=data.comment)


@router.post("/incidents/{incident_id}/tasks", status_code=201, summary="Add a task")
async def add_task(
    incident_id: IncidentId, data: TaskCreate, session: SessionDep, ctx: ParkOperator
) -> TaskRead:
    return await service.add_task(session, ctx=ctx, incident_id=incident_id, data=data)


@router.patch(
    "/incidents/{incident_id}/tasks/{task_id}", summary="Assign, tick off or reopen a task"
)
async def update_task(
    incident_id: IncidentId, task_id: int, data: TaskUpdate, session: SessionDep, ctx: ParkOperator
) -> TaskRead:
    return await service.update_task(
        session, ctx=ctx, incident_id=incident_id, task_id=task_id, data=data
    )


@router.get(
    "/incidents/{incident_id}/impact",
    response_model=Impact,
    summary="Impact zones, what is in them, and the nearest resources",
)
async def incident_impact(
    request: Request,
    incident_id: IncidentId,
    session: SessionDep,
    ctx: ParkViewer,
    cache: CacheDep,
    n: Nearest = 3,
    crs: CrsQuery = "wgs84",
) -> Response:
    result = await impact.impact(
        session,
        ctx=ctx,
        cache=cache,
        incident_id=incident_id,
        n=n,
        brute_force=brute_force(request),
    )
    return cached_json(request, in_crs(result, crs))


@router.post("/resources", status_code=201, summary="Place a resource on the map (admin)")
async def create_resource(
    data: ResourceCreate, session: SessionDep, ctx: ParkAdmin
) -> ResourceRead:
    return await admin.create_resource(session, ctx=ctx, data=data)


@router.get("/resources", response_model=list[ResourceRead], summary="List resources")
async def list_resources(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    kind: ResourceKind | None = None,
    crs: CrsQuery = "wgs84",
) -> Response:
    found = await admin.list_resources(session, ctx=ctx, kind=kind)
    return cached_json(request, in_crs(_dump(found), crs))


@router.get(
    "/resources/nearest",
    response_model=list[NearResource],
    summary="The nearest N resources of each kind (or of one) to a point",
)
async def nearest_resources(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    lon: Lon,
    lat: Lat,
    kind: ResourceKind | None = None,
    n: Nearest = 3,
    crs: CrsQuery = "wgs84",
) -> Response:
    point = to_wgs84({"lon": lon, "lat": lat}, crs)
    result = await admin.nearest(
        session, ctx=ctx, lon=point["lon"], lat=point["lat"], kind=kind, n=n
    )
    return cached_json(request, in_crs(_dump(result), crs))


@router.get("/resources/{resource_id}", response_model=ResourceRead, summary="One resource")
async def get_resource(
    request: Request,
    resource_id: ResourceId,
    session: SessionDep,
    ctx: ParkViewer,
    crs: CrsQuery = "wgs84",
) -> Response:
    found = await admin.get_resource(session, ctx=ctx, resource_id=resource_id)
    return cached_json(request, in_crs(found, crs))


@router.delete("/resources/{resource_id}", status_code=204, summary="Remove a resource (admin)")
async def delete_resource(resource_id: ResourceId, session: SessionDep, ctx: ParkAdmin) -> Response:
    await admin.delete_resource(session, ctx=ctx, resource_id=resource_id)
    return Response(status_code=204)


@router.get(
    "/emergency/plans",
    response_model=list[PlanRead],
    summary="Response plans (应急预案) in force, per type and level",
)
async def list_plans(request: Request, session: SessionDep, ctx: ParkViewer) -> Response:
    return cached_json(request, _dump(await admin.list_plans(session, ctx=ctx)))


@router.post(
    "/emergency/plans",
    status_code=201,
    summary="A new version of a plan (admin); its tasks become incident tasks at opening",
)
async def create_plan(data: PlanCreate, session: SessionDep, ctx: ParkAdmin) -> PlanRead:
    return await admin.create_plan(session, ctx=ctx, data=data)


@router.get("/emergency/roster", response_model=list[RosterRead], summary="The duty roster")
async def list_roster(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    current: Annotated[bool, Query(description="only shifts not yet over")] = False,
) -> Response:
    return cached_json(request, _dump(await admin.list_roster(session, ctx=ctx, current=current)))


@router.post(
    "/emergency/roster",
    status_code=201,
    summary="Add a shift (admin)",
    dependencies=[IDEMPOTENT],
)
async def create_roster(data: RosterCreate, session: SessionDep, ctx: ParkAdmin) -> RosterRead:
    return await admin.create_roster(session, ctx=ctx, data=data)


@router.delete("/emergency/roster/{entry_id}", status_code=204, summary="Remove a shift (admin)")
async def delete_roster(entry_id: int, session: SessionDep, ctx: ParkAdmin) -> Response:
    await admin.delete_roster(session, ctx=ctx, entry_id=entry_id)
    return Response(status_code=204)


@router.get(
    "/emergency/settings",
    response_model=list[TypeRuleRead],
    summary="Per incident type: alarm trigger, zone radii, grouping, report deadline",
)
async def list_settings(request: Request, session: SessionDep, ctx: ParkViewer) -> Response:
    return cached_json(request, _dump(await admin.list_rules(session, ctx=ctx)))


@router.post(
    "/emergency/settings",
    status_code=201,
    summary="A new version of a type's settings for this park (admin), in force from now",
)
async def create_setting(data: TypeRuleCreate, session: SessionDep, ctx: ParkAdmin) -> TypeRuleRead:
    return await admin.create_rule(session, ctx=ctx, data=data)


router.include_router(safety_router)
