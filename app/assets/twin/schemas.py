"""Twin schemas: status roll-ups, the building view, spatial answers, the map."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.assets.twin.status import STATUSES, Status
from app.core.types import UtcDateTime

Kind = Literal["device", "building", "parcel", "space", "enterprise"]
MapDevices = Literal["all", "alarmed"]
"""The devices a map holds: every located one, or those with an open alarm."""

# One device with a major alarm, two offline, one never heard from, 36 normal.
COUNTS_EXAMPLE: dict[str, Any] = dict(zip(STATUSES, (0, 1, 0, 0, 2, 0, 1, 36), strict=True))
EXAMPLE_STATUS = STATUSES[1]


class Rolled(BaseModel):
    status: Status = Field(
        description="worst of what it contains: open alarm by severity > offline > "
        "maintenance > unknown (a device never heard from) > normal"
    )
    counts: dict[str, int] = Field(
        description="how many devices, equipment and spaces under maintenance it contains, "
        "per status"
    )


class AssetStatus(Rolled):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "B3", "name": "3号楼", "status": EXAMPLE_STATUS, "counts": COUNTS_EXAMPLE}
            ]
        }
    )

    id: str
    name: str
    parcel_id: str | None = None


class ParkTwin(Rolled):
    park_id: str
    parcels: list[AssetStatus]
    buildings: list[AssetStatus]


class LatestValue(BaseModel):
    ts: UtcDateTime
    value: float


class TwinLeaf(BaseModel):
    kind: Literal["device", "equipment"]
    id: str
    name: str
    type: str | None = Field(description="device type, or equipment category")
    status: Status
    connectivity: str | None = Field(description="a device's online, offline or unknown")
    last_seen_at: UtcDateTime | None
    space_id: str | None
    latest: dict[str, LatestValue] = Field(default_factory=dict)


class TwinSpace(Rolled):
    id: str
    name: str
    floor: int | None
    area_m2: float
    space_status: str = Field(description="available, leased, reserved, maintenance, not_leasable")
    devices: list[TwinLeaf]


class TwinFloor(Rolled):
    number: int | None = Field(description="null for spaces with no floor")
    name: str | None
    area_m2: float | None
    spaces: list[TwinSpace]


class BuildingTwin(Rolled):
    """A building with its floors, spaces, devices and their newest values, in one answer."""

    id: str
    name: str
    parcel_id: str | None
    floors_above_ground: int
    use: str | None
    area_m2: float
    footprint: dict[str, Any]
    floors: list[TwinFloor]
    devices: list[TwinLeaf] = Field(description="devices and equipment in no space")


class Found(BaseModel):
    """An asset found by a spatial query; more fields by kind (``land_use``, ``type``...)."""

    model_config = ConfigDict(extra="allow")

    kind: Kind
    id: str
    name: str
    distance_m: float | None = None


class Containing(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "parcel": {"kind": "parcel", "id": "A-01", "name": "A-01 地块"},
                    "building": {"kind": "building", "id": "B3", "name": "3号楼"},
                }
            ]
        }
    )

    parcel: Found | None
    building: Found | None


class Nearby(BaseModel):
    items: list[Found]
    next_cursor: str | None = None
