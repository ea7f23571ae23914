"""Bulk import answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KindName = Literal[
    "parcels", "buildings", "floors", "spaces", "enterprises", "leases", "equipment", "devices"
]


class RowProblem(BaseModel):
    row: int | None = Field(
        description="1-based position of the feature, or of the CSV data row (the header is "
        "not a row); null for the body as a whole"
    )
    field: str | None = Field(description="the field at fault, when one is")
    reason: str


class DeviceCredentials(BaseModel):
    device_id: str
    mqtt_username: str | None
    mqtt_password: str | None = Field(description="shown once")


class ImportWarning(BaseModel):
    code: Literal["coordinates_look_shifted"] = Field(
        description="`coordinates_look_shifted`: the rows fit the park only once taken back from "
        "GCJ-02 or BD-09 to WGS-84 (app/assets/imports/shift.py)"
    )
    crs: Literal["gcj02", "bd09"] = Field(description="the system the coordinates look to be in")
    rows: list[int] = Field(description="the suspect rows, 1-based")
    detail: str = Field(description="what to do, in Chinese")


class ImportResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "buildings",
                    "created": 12,
                    "updated": 3,
                    "dry_run": False,
                    "ignored_fields": ["OBJECTID"],
                    "credentials": None,
                }
            ]
        }
    )

    kind: KindName
    created: int
    updated: int
    dry_run: bool
    ignored_fields: list[str] = Field(
        default_factory=list, description="properties or columns that are no field of the kind"
    )
    credentials: list[DeviceCredentials] | None = Field(
        default=None,
        description="devices only: the MQTT accounts of the devices created, passwords shown "
        "once (empty in a dry run)",
    )
    warnings: list[ImportWarning] = Field(
        default_factory=list,
        description="nothing refused, but worth a look: coordinates that look already shifted "
        "to GCJ-02 or BD-09 (also in a 422's body)",
    )
