"""``/api/v1/parks``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.core.auth import AdminKey, ViewerKey
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.pagination import Page, PageDep
from app.parks import service
from app.parks.deps import ParkAdmin, ParkIdPath
from app.parks.schemas import ParkCreate, ParkRead, ParkUpdate

router = APIRouter(prefix="/api/v1/parks", tags=["parks"], responses=PROBLEMS)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a park (admin)")
async def create_park(data: ParkCreate, session: SessionDep, key: AdminKey) -> ParkRead:
    return await service.create(session, key=key, data=data)


@router.get("", response_model=Page[ParkRead], summary="The parks the key may see")
async def list_parks(
    request: Request, session: SessionDep, key: ViewerKey, page: PageDep
) -> Response:
    return cached_json(request, await service.list_(session, key=key, page=page), max_age=60)


@router.get("/{park_id}", response_model=ParkRead, summary="One park")
async def get_park(
    request: Request, park_id: ParkIdPath, session: SessionDep, key: ViewerKey
) -> Response:
    return cached_json(request, await service.get(session, key=key, park_id=park_id), max_age=60)


@router.patch(
    "/{park_id}",
    summary="Rename a park or change its boundary (admin)",
    description="422 when the new boundary is not a valid polygon or would leave a parcel or "
    "building outside; `null` removes the boundary. The timezone cannot change.",
)
async def update_park(data: ParkUpdate, session: SessionDep, ctx: ParkAdmin) -> ParkRead:
    return await service.update(session, ctx=ctx, data=data)
