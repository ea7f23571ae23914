"""``/api/v1/parks/{park_id}/alarms``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from app.alarms import service
from app.alarms.schemas import (
    AlarmAck,
    AlarmComment,
    AlarmDetail,
    AlarmRead,
    AlarmRuleCreate,
    AlarmRuleRead,
    AlarmShelve,
    AlarmSummary,
    ToxicGasRead,
)
from app.core.db import SessionDep
from app.core.http import PROBLEMS, SettingsDep, cached_json
from app.core.pagination import Page, PageDep
from app.core.severity import Severity
from app.core.types import IDENT_PATTERN
from app.idempotency.route import IDEMPOTENT, IdempotentRoute
from app.parks.deps import ParkAdmin, ParkOperator, ParkViewer

router = APIRouter(
    prefix="/api/v1/parks/{park_id}/alarms",
    tags=["alarms"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
)


@router.get("", response_model=Page[AlarmRead], summary="List alarms, newest first")
async def list_alarms(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    status: Annotated[
        Literal["active", "cleared", "all"], Query(description="default: active")
    ] = "active",
    shelved: Annotated[
        Literal["include", "exclude", "only"],
        Query(description="shelved alarms: listed (default), left out, or the only ones"),
    ] = "include",
    severity: Severity | None = None,
    device_id: Annotated[str | None, Query(pattern=IDENT_PATTERN)] = None,
) -> Response:
    result = await service.list_(
        session,
        ctx=ctx,
        status=status,
        shelved=shelved,
        severity=severity,
        device_id=device_id,
        page=page,
    )
    return cached_json(request, result)


@router.get(
    "/summary",
    response_model=AlarmSummary,
    summary="Active alarms by severity, for the park and per building",
)
async def alarm_summary(request: Request, session: SessionDep, ctx: ParkViewer) -> Response:
    return cached_json(request, await service.summary(session, ctx=ctx))


@router.get("/{alarm_id}", response_model=AlarmDetail, summary="One alarm with its audit trail")
async def get_alarm(
    request: Request, alarm_id: uuid.UUID, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await service.get(session, ctx=ctx, alarm_id=alarm_id))


@router.post(
    "/{alarm_id}/ack",
    summary="Acknowledge (operator)",
    description="A latched alarm whose value is back to normal clears with its acknowledgement. "
    "Acknowledging twice changes nothing.",
)
async def acknowledge_alarm(
    alarm_id: uuid.UUID, session: SessionDep, ctx: ParkOperator, body: AlarmAck | None = None
) -> AlarmRead:
    comment = body.comment if body else None
    return await service.acknowledge(session, ctx=ctx, alarm_id=alarm_id, comment=comment)


@router.post(
    "/{alarm_id}/shelve",
    summary="Shelve for a while (operator)",
    description="A shelved alarm is still evaluated and recorded; its webhook notifications "
    "(raised, escalated, cleared) are held back until the shelving runs out (the worker then "
    "sends `alarm.unshelved`) or `/unshelve` ends it. At most PARKTWIN_ALARM_SHELVE_MAX "
    "(default 8 h). Gas and fire alarms latch and cannot be shelved (409).",
)
async def shelve_alarm(
    alarm_id: uuid.UUID,
    body: AlarmShelve,
    session: SessionDep,
    ctx: ParkOperator,
    settings: SettingsDep,
) -> AlarmRead:
    return await service.shelve(
        session,
        ctx=ctx,
        alarm_id=alarm_id,
        duration=timedelta(seconds=body.duration_s),
        longest=settings.alarm_shelve_max,
        comment=body.comment,
    )


@router.post("/{alarm_id}/unshelve", summary="End a shelving now (operator)")
async def unshelve_alarm(alarm_id: uuid.UUID, session: SessionDep, ctx: ParkOperator) -> AlarmRead:
    return await service.unshelve(session, ctx=ctx, alarm_id=alarm_id)


@router.post(
    "/{alarm_id}/comments",
    summary="Add a comment to the audit trail (operator)",
    dependencies=[IDEMPOTENT],
)
async def comment_alarm(
    alarm_id: uuid.UUID, body: AlarmComment, session: SessionDep, ctx: ParkOperator
) -> AlarmDetail:
    return await service.comment(session, ctx=ctx, alarm_id=alarm_id, text=body.comment)


rules_router = APIRouter(
    prefix="/api/v1/parks/{park_id}/alarm-rules", tags=["alarms"], responses=PROBLEMS
)


@rules_router.get(
    "",
    response_model=list[AlarmRuleRead],
    summary="The alarm rules in force: built-in defaults and the park's own",
    description="For a device, its own rule wins over its park's rule for the same device type, "
    "metric and type, which wins over the built-in default.",
)
async def list_rules(request: Request, session: SessionDep, ctx: ParkViewer) -> Response:
    rules = await service.list_rules(session, ctx=ctx)
    return cached_json(request, [rule.model_dump() for rule in rules])


@rules_router.get(
    "/toxic-gases",
    response_model=list[ToxicGasRead],
    summary="Toxic gases with their default alarm limits in mg/m³ and ppm",
    description="GB/T 50493-2019 §5.5.2 example settings (level 1 / level 2, from the GBZ "
    "2.1-2019 exposure limits) and the same limits in ppm: mg/m³ × 24.45 / molar mass (25 °C, "
    "101.325 kPa). A toxic-gas detector's default rules follow its `attributes.gas`.",
)
async def list_toxic_gases(request: Request, session: SessionDep, _ctx: ParkViewer) -> Response:
    gases = await service.toxic_gases(session)
    return cached_json(request, [gas.model_dump() for gas in gases])


@rules_router.post("", status_code=201, summary="Add a park or device rule (admin)")
async def create_rule(data: AlarmRuleCreate, session: SessionDep, ctx: ParkAdmin) -> AlarmRuleRead:
    return await service.create_rule(session, ctx=ctx, data=data)


@rules_router.delete("/{rule_id}", status_code=204, summary="Delete a park or device rule (admin)")
async def delete_rule(rule_id: int, session: SessionDep, ctx: ParkAdmin) -> Response:
    await service.delete_rule(session, ctx=ctx, rule_id=rule_id)
    return Response(status_code=204)
