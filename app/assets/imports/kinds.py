"""The importable kinds: their create/update schemas, key, geometry field and services.

Every kind goes through its own service's ``create`` and ``update`` (the same checks as the
API: geometry, references, overlaps), so an import can do nothing the endpoints refuse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.equipment import service as equipment
from app.assets.equipment.schemas import EquipmentCreate, EquipmentUpdate
from app.assets.land import buildings, floors, parcels, spaces
from app.assets.land.schemas import (
    BuildingCreate,
    BuildingUpdate,
    FloorCreate,
    FloorUpdate,
    ParcelCreate,
    ParcelUpdate,
    SpaceCreate,
    SpaceUpdate,
)
from app.assets.tenancy import enterprises, leases
from app.assets.tenancy.schemas import (
    EnterpriseCreate,
    EnterpriseUpdate,
    LeaseCreate,
    LeaseUpdate,
)
from app.devices import service as devices
from app.devices.schemas import DeviceCreate, DeviceUpdate
from app.parks.deps import ParkContext

Key = tuple[Any, ...]
Create = Callable[[AsyncSession, ParkContext, Any, "devices.Accounts | None"], Awaitable[Any]]
Update = Callable[[AsyncSession, ParkContext, Key, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Kind:
    name: str
    table: str
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    key: tuple[str, ...]
    geometry: str | None  # the field a feature's geometry fills
    create: Create
    update: Update

    def key_of(self, values: dict[str, Any]) -> Key:
        return tuple(values[k] for k in self.key)


def _by_id(service: Any, id_name: str) -> dict[str, Any]:
    """create/update of a service whose rows are keyed by ``id``."""

    async def create(session: AsyncSession, ctx: ParkContext, data: Any, _: Any) -> Any:
        return await service.create(session, ctx=ctx, data=data)

    async def update(session: AsyncSession, ctx: ParkContext, key: Key, data: Any) -> Any:
        return await service.update(session, ctx=ctx, **{id_name: key[0]}, data=data)

    return {"create": create, "update": update}


async def _create_floor(session: AsyncSession, ctx: ParkContext, data: Any, _: Any) -> Any:
    return await floors.create(session, ctx=ctx, data=data)


async def _update_floor(session: AsyncSession, ctx: ParkContext, key: Key, data: Any) -> Any:
    return await floors.update(session, ctx=ctx, building_id=key[0], number=key[1], data=data)


async def _create_device(
    session: AsyncSession, ctx: ParkContext, data: Any, accounts: devices.Accounts | None
) -> Any:
    return await devices.create(session, ctx=ctx, data=data, broker=accounts)


def _kind(
    name: str, table: str, schemas: tuple[type[BaseModel], type[BaseModel]], **kw: Any
) -> Kind:
    return Kind(name, table, schemas[0], schemas[1], **{"key": ("id",), "geometry": None, **kw})


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        _kind("parcels", "parcel", (ParcelCreate, ParcelUpdate), geometry="geometry",
              **_by_id(parcels, "parcel_id")),
        _kind("buildings", "building", (BuildingCreate, BuildingUpdate), geometry="footprint",
              **_by_id(buildings, "building_id")),
        _kind("floors", "floor", (FloorCreate, FloorUpdate), key=("building_id", "number"),
              create=_create_floor, update=_update_floor),
        _kind("spaces", "space", (SpaceCreate, SpaceUpdate),
              **_by_id(spaces, "space_id")),
        _kind("enterprises", "enterprise", (EnterpriseCreate, EnterpriseUpdate),
              **_by_id(enterprises, "enterprise_id")),
        _kind("leases", "lease", (LeaseCreate, LeaseUpdate),
              **_by_id(leases, "lease_id")),
        _kind("equipment", "equipment", (EquipmentCreate, EquipmentUpdate), geometry="location",
              **_by_id(equipment, "equipment_id")),
        _kind("devices", "device", (DeviceCreate, DeviceUpdate), geometry="location",
              **{**_by_id(devices, "device_id"), "create": _create_device}),
    )
}  # fmt: skip
