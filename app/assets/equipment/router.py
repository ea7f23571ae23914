"""``/api/v1/parks/{park_id}/equipment`` and ``.../meters/tree``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.assets.equipment import meters, service
from app.assets.equipment.schemas import (
    EquipmentCreate,
    EquipmentFilters,
    EquipmentRead,
    EquipmentUpdate,
    MeterTree,
)
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.parks.deps import ParkAdmin, ParkViewer

router = APIRouter(prefix="/api/v1/parks/{park_id}", tags=["equipment"], responses=PROBLEMS)

EquipmentIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the equipment's id")]
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.post(
    "/equipment",
    status_code=status.HTTP_201_CREATED,
    summary="Register equipment (admin)",
    description="422 when its building, space or device is not in the park, or the space is "
    "in another building; a space alone fills in its building.",
)
async def create_equipment(
    data: EquipmentCreate, session: SessionDep, ctx: ParkAdmin
) -> EquipmentRead:
    return await service.create(session, ctx=ctx, data=data)


@router.get("/equipment", response_model=Page[EquipmentRead], summary="List equipment")
async def list_equipment(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[EquipmentFilters, Query()],
) -> Response:
    return cached_json(request, await service.list_(session, ctx=ctx, filters=filters, page=page))


@router.get("/equipment/{equipment_id}", response_model=EquipmentRead, summary="Equipment")
async def get_equipment(
    request: Request, equipment_id: EquipmentIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await service.get(session, ctx=ctx, equipment_id=equipment_id))


@router.patch("/equipment/{equipment_id}", summary="Change equipment (admin)")
async def update_equipment(
    equipment_id: EquipmentIdPath, data: EquipmentUpdate, session: SessionDep, ctx: ParkAdmin
) -> EquipmentRead:
    return await service.update(session, ctx=ctx, equipment_id=equipment_id, data=data)


@router.delete(
    "/equipment/{equipment_id}", status_code=NO_CONTENT, summary="Delete equipment (admin)"
)
async def delete_equipment(
    equipment_id: EquipmentIdPath, session: SessionDep, ctx: ParkAdmin
) -> Response:
    await service.delete(session, ctx=ctx, equipment_id=equipment_id)
    return Response(status_code=NO_CONTENT)


@router.get(
    "/meters/tree",
    response_model=MeterTree,
    response_model_by_alias=True,
    summary="The meter tree with its unmetered gap (损耗/未计量)",
    description="Every main meter with its sub-meters (devices linked by `parent_meter_id`), "
    "each with its consumption over the local days `from`..`to` (inclusive; default: this "
    "month to today) and, for a meter with sub-meters, `unmetered` = main − Σ sub: losses and "
    "unmetered use, reported and never allocated. `root` picks one meter's subtree.",
)
async def meter_tree(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    start: Annotated[date | None, Query(alias="from", description="first day")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (inclusive)")] = None,
    root: Annotated[str | None, Query(pattern=IDENT_PATTERN, description="a meter")] = None,
) -> Response:
    result = await meters.tree(session, ctx=ctx, start=start, end=end, root=root)
    return cached_json(request, result)
