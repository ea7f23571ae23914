"""``/api/v1/parks/{park_id}/parcels``, ``.../buildings`` (with ``.../floors``), ``.../spaces``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.assets.land import buildings, floors, parcels, spaces
from app.assets.land.schemas import (
    BuildingCreate,
    BuildingFilters,
    BuildingRead,
    BuildingUpdate,
    FloorBody,
    FloorCreate,
    FloorRead,
    FloorUpdate,
    ParcelCreate,
    ParcelFilters,
    ParcelRead,
    ParcelUpdate,
    SpaceCreate,
    SpaceFilters,
    SpaceRead,
    SpaceUpdate,
)
from app.core.db import SessionDep
from app.core.http import PROBLEMS, cached_json
from app.core.pagination import Page, PageDep
from app.core.types import IDENT_PATTERN
from app.parks.deps import ParkAdmin, ParkViewer

router = APIRouter(prefix="/api/v1/parks/{park_id}", tags=["assets: land"], responses=PROBLEMS)

ParcelIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the parcel's id")]
BuildingIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the building's id")]
SpaceIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the space's id")]
FloorPath = Annotated[int, Path(ge=-20, le=200, description="floor number (B1 = -1)")]


def _no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Parcels (地块)


@router.post(
    "/parcels",
    status_code=status.HTTP_201_CREATED,
    summary="Create a parcel (admin)",
    description="422 for an invalid polygon, one outside the park's boundary, or one "
    "overlapping another parcel; `area_m2` and `area_mu` (亩) are geodesic.",
)
async def create_parcel(data: ParcelCreate, session: SessionDep, ctx: ParkAdmin) -> ParcelRead:
    return await parcels.create(session, ctx=ctx, data=data)


@router.get("/parcels", response_model=Page[ParcelRead], summary="List parcels")
async def list_parcels(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[ParcelFilters, Query()],
) -> Response:
    result = await parcels.list_(session, ctx=ctx, filters=filters, page=page)
    return cached_json(request, result)


@router.get("/parcels/{parcel_id}", response_model=ParcelRead, summary="One parcel")
async def get_parcel(
    request: Request, parcel_id: ParcelIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await parcels.get(session, ctx=ctx, parcel_id=parcel_id))


@router.patch("/parcels/{parcel_id}", summary="Change a parcel (admin)")
async def update_parcel(
    parcel_id: ParcelIdPath, data: ParcelUpdate, session: SessionDep, ctx: ParkAdmin
) -> ParcelRead:
    return await parcels.update(session, ctx=ctx, parcel_id=parcel_id, data=data)


@router.delete(
    "/parcels/{parcel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a parcel (admin)",
    description="409 while buildings stand on it or a lease holds it.",
)
async def delete_parcel(parcel_id: ParcelIdPath, session: SessionDep, ctx: ParkAdmin) -> Response:
    await parcels.delete(session, ctx=ctx, parcel_id=parcel_id)
    return _no_content()


# Buildings


@router.post(
    "/buildings",
    status_code=status.HTTP_201_CREATED,
    summary="Create a building (admin)",
    description="422 for an invalid footprint, one outside the park, or outside its parcel.",
)
async def create_building(
    data: BuildingCreate, session: SessionDep, ctx: ParkAdmin
) -> BuildingRead:
    return await buildings.create(session, ctx=ctx, data=data)


@router.get("/buildings", response_model=Page[BuildingRead], summary="List buildings")
async def list_buildings(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[BuildingFilters, Query()],
) -> Response:
    result = await buildings.list_(session, ctx=ctx, filters=filters, page=page)
    return cached_json(request, result)


@router.get("/buildings/{building_id}", response_model=BuildingRead, summary="One building")
async def get_building(
    request: Request, building_id: BuildingIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await buildings.get(session, ctx=ctx, building_id=building_id))


@router.patch("/buildings/{building_id}", summary="Change a building (admin)")
async def update_building(
    building_id: BuildingIdPath, data: BuildingUpdate, session: SessionDep, ctx: ParkAdmin
) -> BuildingRead:
    return await buildings.update(session, ctx=ctx, building_id=building_id, data=data)


@router.delete(
    "/buildings/{building_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a building (admin)",
    description="Deletes its floors and spaces (409 while a lease holds one); its devices "
    "stay, in no building.",
)
async def delete_building(
    building_id: BuildingIdPath, session: SessionDep, ctx: ParkAdmin
) -> Response:
    await buildings.delete(session, ctx=ctx, building_id=building_id)
    return _no_content()


# Floors


@router.post(
    "/buildings/{building_id}/floors",
    status_code=status.HTTP_201_CREATED,
    summary="Add a floor to a building (admin)",
)
async def create_floor(
    building_id: BuildingIdPath, data: FloorBody, session: SessionDep, ctx: ParkAdmin
) -> FloorRead:
    await buildings.load(session, ctx, building_id)
    floor = FloorCreate(building_id=building_id, **data.model_dump())
    return await floors.create(session, ctx=ctx, data=floor)


@router.get(
    "/buildings/{building_id}/floors", response_model=Page[FloorRead], summary="A building's floors"
)
async def list_floors(
    request: Request,
    building_id: BuildingIdPath,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
) -> Response:
    result = await floors.list_(session, ctx=ctx, building_id=building_id, page=page)
    return cached_json(request, result)


@router.get(
    "/buildings/{building_id}/floors/{number}", response_model=FloorRead, summary="One floor"
)
async def get_floor(
    request: Request,
    building_id: BuildingIdPath,
    number: FloorPath,
    session: SessionDep,
    ctx: ParkViewer,
) -> Response:
    result = await floors.get(session, ctx=ctx, building_id=building_id, number=number)
    return cached_json(request, result)


@router.patch("/buildings/{building_id}/floors/{number}", summary="Change a floor (admin)")
async def update_floor(
    building_id: BuildingIdPath,
    number: FloorPath,
    data: FloorUpdate,
    session: SessionDep,
    ctx: ParkAdmin,
) -> FloorRead:
    return await floors.update(session, ctx=ctx, building_id=building_id, number=number, data=data)


@router.delete(
    "/buildings/{building_id}/floors/{number}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a floor (admin)",
)
async def delete_floor(
    building_id: BuildingIdPath, number: FloorPath, session: SessionDep, ctx: ParkAdmin
) -> Response:
    await floors.delete(session, ctx=ctx, building_id=building_id, number=number)
    return _no_content()


# Spaces


@router.post(
    "/spaces", status_code=status.HTTP_201_CREATED, summary="Create a space (room, unit) (admin)"
)
async def create_space(data: SpaceCreate, session: SessionDep, ctx: ParkAdmin) -> SpaceRead:
    return await spaces.create(session, ctx=ctx, data=data)


@router.get("/spaces", response_model=Page[SpaceRead], summary="List spaces")
async def list_spaces(
    request: Request,
    session: SessionDep,
    ctx: ParkViewer,
    page: PageDep,
    filters: Annotated[SpaceFilters, Query()],
) -> Response:
    result = await spaces.list_(session, ctx=ctx, filters=filters, page=page)
    return cached_json(request, result)


@router.get("/spaces/{space_id}", response_model=SpaceRead, summary="One space")
async def get_space(
    request: Request, space_id: SpaceIdPath, session: SessionDep, ctx: ParkViewer
) -> Response:
    return cached_json(request, await spaces.get(session, ctx=ctx, space_id=space_id))


@router.patch("/spaces/{space_id}", summary="Change a space (admin)")
async def update_space(
    space_id: SpaceIdPath, data: SpaceUpdate, session: SessionDep, ctx: ParkAdmin
) -> SpaceRead:
    return await spaces.update(session, ctx=ctx, space_id=space_id, data=data)


@router.delete(
    "/spaces/{space_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a space (admin)",
    description="409 while a lease holds it.",
)
async def delete_space(space_id: SpaceIdPath, session: SessionDep, ctx: ParkAdmin) -> Response:
    await spaces.delete(session, ctx=ctx, space_id=space_id)
    return _no_content()
