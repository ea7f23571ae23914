"""``/api/v1/parks/{park_id}/devices``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.broker.accounts import AccountBroker
from app.core.appstate import app_state
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.devices import service
from app.devices.schemas import (
    DeviceCreate,
    DeviceCreated,
    DeviceFilters,
    DeviceRead,
    DeviceTwin,
    DeviceUpdate,
    MqttCredentials,
)
from app.idempotency.route import IDEMPOTENT_SECRET, IdempotentRoute
from app.parks.deps import ParkAdmin, ParkViewer

router = APIRouter(
    prefix="/api/v1/parks/{park_id}/devices",
    tags=["devices"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
)

DeviceIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the device's id")]


def get_broker(request: Request) -> AccountBroker | None:
    """The broker's account manager, or None when accounts are managed elsewhere."""
    state = app_state(request)
    if state.settings.mqtt_credentials == "none":
        return None
    broker = state.broker
    assert isinstance(broker, AccountBroker)  # the lifespan's (app/main.py)
    return broker


BrokerDep = Annotated[AccountBroker | None, Depends(get_broker)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a device (admin)",
    dependencies=[IDEMPOTENT_SECRET],
    description="Answers with the device's MQTT account; `mqtt_password` is shown only here.",
)
async def create_device(
    data: DeviceCreate, session: SessionDep, ctx: ParkAdmin, broker: BrokerDep
) -> DeviceCreated:
    return await service.create(session, ctx=ctx, data=data, broker=broker)


@router.post(
    "/{device_id}/credentials",
    summary="New MQTT password (admin)",
    description="The old password stops working and sessions opened with it are disconnected.",
)
async def rotate_credentials(
    device_id: DeviceIdPath, session: SessionDep, ctx: ParkAdmin, broker: BrokerDep
) -> MqttCredentials:
    return await service.rotate_credentials(session, ctx=ctx, device_id=device_id, broker=broker)


@router.patch("/{device_id}", summary="Change a device's attributes (admin)")
async def update_device(
    device_id: DeviceIdPath, data: DeviceUpdate, session: SessionDep, ctx: ParkAdmin
) -> DeviceRead:
    return await service.update(session, ctx=ctx, device_id=device_id, data=data)


@router.delete(
    "/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a device (admin)",
    description="Deletes its MQTT account, its series, readings and rollups.",
)
async def delete_device(
    device_id: DeviceIdPath, session: SessionDep, ctx: ParkAdmin, broker: BrokerDep
) -> Response:
    await service.delete(session, ctx=ctx, device_id=device_id, broker=broker)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=Page[DeviceRead], summary="List devices")
async def list_devices(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[DeviceFilters, Query()],
) -> Response:
    result = await service.list_(session, ctx=ctx, filters=filters, page=page)
    return cached_json(request, result)


@router.get(
    "/{device_id}",
    response_model=DeviceTwin,
    summary="The device twin",
    description="Attributes, `status` (online, offline, unknown), `last_seen_at` and the "
    "newest value of each metric.",
)
async def get_device(
    request: Request, device_id: DeviceIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await service.get(session, ctx=ctx, device_id=device_id))
