"""Equipment and meter-tree schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import Ident, UtcDateTime
from app.devices.schemas import Location

MaintenanceStatus = Literal["normal", "due", "under_maintenance", "faulty", "retired"]
Text = Annotated[str, Field(min_length=1, max_length=200)]

EQUIPMENT_EXAMPLE: dict[str, Any] = {
    "id": "chiller-b3-1",
    "name": "3号楼 1号冷水机组",
    "category": "chiller",
    "model": "30XW-1002",
    "installed_on": "2021-05-20",
    "maintenance_status": "normal",
    "building_id": "b3",
    "space_id": "b3-b101",
    "location": {"lon": 120.7123, "lat": 31.3051},
    "device_id": "mon-chiller-b3-1",
}


class EquipmentCreate(BaseModel):
    """A piece of plant. Given a space and no building, the space's building is taken."""

    model_config = ConfigDict(json_schema_extra={"examples": [EQUIPMENT_EXAMPLE]})

    id: Ident
    name: Text
    category: Text = Field(description="chiller, boiler, transformer, pump, elevator, ...")
    model: Text | None = None
    installed_on: dt.date | None = None
    maintenance_status: MaintenanceStatus = "normal"
    building_id: Ident | None = None
    space_id: Ident | None = None
    location: Location | None = None
    device_id: Ident | None = Field(default=None, description="the device that watches it")
    attributes: dict[str, Any] = Field(default_factory=dict)


class EquipmentUpdate(BaseModel):
    """Fields to change; a field left out stays, ``null`` clears it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"maintenance_status": "under_maintenance"}]}
    )

    name: Text | None = None
    category: Text | None = None
    model: Text | None = None
    installed_on: dt.date | None = None
    maintenance_status: MaintenanceStatus | None = None
    building_id: Ident | None = None
    space_id: Ident | None = None
    location: Location | None = None
    device_id: Ident | None = None
    attributes: dict[str, Any] | None = None


class EquipmentRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **EQUIPMENT_EXAMPLE,
                    "park_id": "suzhou-sip",
                    "attributes": {},
                    "created_at": "2026-11-20T02:00:00Z",
                    "updated_at": "2026-11-20T02:00:00Z",
                }
            ]
        }
    )

    id: str
    park_id: str
    name: str
    category: str
    model: str | None
    installed_on: dt.date | None
    maintenance_status: MaintenanceStatus
    building_id: str | None
    space_id: str | None
    location: Location | None
    device_id: str | None
    attributes: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class EquipmentFilters(BaseModel):
    category: str | None = Field(default=None, max_length=200)
    maintenance_status: MaintenanceStatus | None = None
    building_id: Ident | None = None
    space_id: Ident | None = None


class MeterNode(BaseModel):
    device_id: str
    name: str
    type: str
    metric: str = Field(description="the counter the tree adds up (energy_kwh, volume_m3, ...)")
    unit: str
    building_id: str | None
    space_id: str | None
    consumption: float | None = Field(
        description="the counter's consumption over the period (null: no readings)"
    )
    children: list[MeterNode]
    children_sum: float | None = Field(description="Σ of the sub-meters (null without any)")
    unmetered: float | None = Field(
        description="损耗/未计量: this meter minus Σ its sub-meters (null without sub-meters); "
        "reported, never allocated. Negative means the sub-meters read more than the main one."
    )
    unmetered_share: float | None = Field(description="unmetered / consumption")
    complete: bool = Field(
        description="false when this meter or one of its sub-meters has no readings in the "
        "period (the gap is then not trustworthy)"
    )


class MeterTree(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-01",
                    "to": "2026-11-28",
                    "roots": [
                        {
                            "device_id": "main-1",
                            "name": "总表",
                            "type": "electricity_meter",
                            "metric": "energy_kwh",
                            "unit": "kWh",
                            "building_id": None,
                            "space_id": None,
                            "consumption": 1000.0,
                            "children": [],
                            "children_sum": 930.0,
                            "unmetered": 70.0,
                            "unmetered_share": 0.07,
                            "complete": True,
                        }
                    ],
                }
            ]
        },
        populate_by_name=True,
    )

    from_: dt.date = Field(alias="from", description="first day (park's timezone)")
    to: dt.date = Field(description="last day (inclusive)")
    roots: list[MeterNode]
