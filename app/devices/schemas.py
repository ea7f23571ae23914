"""Device schemas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import Ident, UtcDateTime

DeviceStatus = Literal["online", "offline", "unknown"]


class Location(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class LatestValue(BaseModel):
    ts: UtcDateTime
    value: float


CREATE_EXAMPLE: dict[str, Any] = {
    "id": "meter-b3-01",
    "type": "electricity_meter",
    "name": "3号楼 总表",
    "location": {"lon": 120.712, "lat": 31.305},
    "building_id": "b3",
    "enterprise_id": "acme",
    "space_id": "b3-101",
    "parent_meter_id": "meter-main",
}


class DeviceCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CREATE_EXAMPLE]})

    id: Ident
    type: Ident
    name: str = Field(min_length=1, max_length=200)
    location: Location | None = None
    building_id: Ident | None = None
    enterprise_id: Ident | None = None
    space_id: Ident | None = Field(
        default=None, description="the room or unit it is in; fills in its building"
    )
    parent_meter_id: Ident | None = Field(
        default=None, description="for a sub-meter: its main meter (meter tree)"
    )
    attributes: dict[str, Any] = Field(default_factory=dict)


class DeviceUpdate(BaseModel):
    """Fields to change; a field left out stays, ``null`` clears it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "3号楼 总表 (新)", "building_id": "b3"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    location: Location | None = None
    building_id: Ident | None = None
    enterprise_id: Ident | None = None
    space_id: Ident | None = None
    parent_meter_id: Ident | None = None
    attributes: dict[str, Any] | None = None


READ_EXAMPLE: dict[str, Any] = {
    **CREATE_EXAMPLE,
    "park_id": "suzhou-sip",
    "domain": "energy",
    "attributes": {},
    "mqtt_username": "suzhou-sip:meter-b3-01",
    "status": "online",
    "last_seen_at": "2026-11-28T08:00:00Z",
    "created_at": "2026-11-20T02:00:00Z",
    "updated_at": "2026-11-20T02:00:00Z",
}


class DeviceRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [READ_EXAMPLE]})

    id: str
    park_id: str
    type: str
    domain: str
    name: str
    location: Location | None
    building_id: str | None
    enterprise_id: str | None
    space_id: str | None
    parent_meter_id: str | None
    attributes: dict[str, Any]
    mqtt_username: str | None
    status: DeviceStatus
    last_seen_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class DeviceTwin(DeviceRead):
    """The device with its newest value per metric."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **READ_EXAMPLE,
                    "latest": {
                        "energy_kwh": {"ts": "2026-11-28T08:00:00Z", "value": 10234.25},
                        "power_kw": {"ts": "2026-11-28T08:00:00Z", "value": 12.5},
                    },
                }
            ]
        }
    )

    latest: dict[str, LatestValue]


class MqttCredentials(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"mqtt_username": "suzhou-sip:meter-b3-01", "mqtt_password": "s3cr3t…"}]
        }
    )

    mqtt_username: str | None
    mqtt_password: str | None = Field(
        description="shown once; null when credentials are not managed here"
    )


class DeviceCreated(DeviceRead):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**READ_EXAMPLE, "mqtt_password": "Jq2cX4pR8vLm0sTt-Ab3"}]}
    )

    mqtt_password: str | None = Field(
        description="shown once; null when PARKTWIN_MQTT_CREDENTIALS=none"
    )


class DeviceFilters(BaseModel):
    type: Ident | None = None
    domain: str | None = None
    building_id: Ident | None = None
    enterprise_id: Ident | None = None
    space_id: Ident | None = None
    parent_meter_id: Ident | None = Field(default=None, description="sub-meters of this meter")
    status: DeviceStatus | None = None
