"""``/api/v1/parks/{park_id}/detectors``: detectors' service states (in service, maintenance,
calibration, fault), their calibration-due dates and their audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.alarms import detectors as service
from app.alarms.detector_schemas import (
    CalibrationSet,
    DetectorFilter,
    DetectorStateDetail,
    DetectorStateRead,
    DetectorStateSet,
)
from app.core.db import SessionDep
from app.core.http import PROBLEMS, SettingsDep, cached_json
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.idempotency.route import IdempotentRoute
from app.parks.deps import ParkOperator, ParkViewer

router = APIRouter(
    prefix="/api/v1/parks/{park_id}/detectors",
    tags=["alarms"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
)

DeviceIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the detector's id")]


@router.get(
    "",
    response_model=Page[DetectorStateRead],
    summary="Detectors not in service, faulty, or due for calibration",
    description="`state`: `not_in_service` (default: out of service or faulty, 停用/故障), "
    "`out_of_service` (maintenance, calibration), `fault`, `calibration_due` (due within "
    "PARKTWIN_CALIBRATION_REMINDER_DAYS or overdue), `all` (every detector with a recorded "
    "state or calibration date).",
)
async def list_detectors(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    settings: SettingsDep,
    state: Annotated[DetectorFilter, Query()] = "not_in_service",
) -> Response:
    result = await service.list_(
        session, ctx=ctx, which=state, lead_days=settings.calibration_reminder_days, page=page
    )
    return cached_json(request, result)


@router.get(
    "/{device_id}",
    response_model=DetectorStateDetail,
    summary="A detector's service state with its audit trail",
)
async def get_detector(
    request: Request, device_id: DeviceIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await service.get(session, ctx=ctx, device_id=device_id))


@router.put(
    "/{device_id}/state",
    summary="Take a detector out of service, mark it faulty, or return it (operator)",
    description="Out of service (`maintenance`, `calibration`) or `fault`: its readings are "
    "still stored and evaluated, alarms they raise are recorded as suppressed and not "
    "announced. `fault` raises a `detector_fault` alarm (minor). Back `in_service`, its alarms "
    "still active are announced. Every change is audited and sent as "
    "`detector.state_changed`.",
)
async def set_detector_state(
    device_id: DeviceIdPath, data: DetectorStateSet, session: SessionDep, ctx: ParkOperator
) -> DetectorStateDetail:
    return await service.set_state(session, ctx=ctx, device_id=device_id, data=data)


@router.put(
    "/{device_id}/calibration",
    summary="Set the next calibration-due date (operator)",
)
async def set_detector_calibration(
    device_id: DeviceIdPath, data: CalibrationSet, session: SessionDep, ctx: ParkOperator
) -> DetectorStateDetail:
    return await service.set_calibration(session, ctx=ctx, device_id=device_id, data=data)
