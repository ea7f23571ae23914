"""``/api/v1/device-types``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.core.auth import ViewerKey
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.device_types import service
from app.device_types.schemas import DeviceTypeList

router = APIRouter(prefix="/api/v1/device-types", tags=["devices"], responses=PROBLEMS)


@router.get(
    "",
    response_model=DeviceTypeList,
    summary="The device type catalogue",
    description="Built-in types and the types the key's park added; the list is not paged.",
)
async def list_device_types(request: Request, session: SessionDep, key: ViewerKey) -> Response:
    return cached_json(request, await service.list_(session, key=key), max_age=300)
