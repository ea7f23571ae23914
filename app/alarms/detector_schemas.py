"""Detector service-state schemas."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from app.core.types import UtcDateTime

DetectorStateName = Literal["in_service", "maintenance", "calibration", "fault"]
DetectorFilter = Literal["not_in_service", "out_of_service", "fault", "calibration_due", "all"]

STATE_DESCRIPTION = (
    "`in_service` (在用); out of service: `maintenance` (维护) or `calibration` (标定); "
    "`fault` (故障, set by an operator: raises a `detector_fault` alarm until back in service). "
    "While not in service, readings are stored and evaluated and the alarms they raise are "
    "recorded with `suppressed = out_of_service` but not announced"
)


class DetectorStateSet(BaseModel):
    state: DetectorStateName = Field(description=STATE_DESCRIPTION)
    comment: str = Field(min_length=1, max_length=2000, description="why (kept in the audit trail)")


class CalibrationSet(BaseModel):
    due_on: date | None = Field(
        description="the date the next calibration is due (park-local); null: none planned. "
        "From PARKTWIN_CALIBRATION_REMINDER_DAYS before it a `calibration_due` alarm "
        "(`warning`, blue) reminds; after it, the alarm is `minor` (yellow)"
    )
    comment: str = Field(min_length=1, max_length=2000, description="e.g. the certificate number")


class DetectorStateRead(BaseModel):
    device_id: str
    type: str
    name: str
    state: DetectorStateName = Field(description=STATE_DESCRIPTION)
    since: UtcDateTime | None = Field(description="when the state was set (null: never set)")
    comment: str | None
    set_by: str | None = Field(description="the API key id that set the state")
    calibration_due_on: date | None
    days_to_calibration: int | None = Field(
        description="park-local days until the calibration is due (negative: overdue)"
    )
    suppressed_alarms: int = Field(
        description="open alarms of this detector raised but not announced (out of service "
        "or suppressed by design)"
    )


class DetectorStateEvent(BaseModel):
    at: UtcDateTime
    state: DetectorStateName
    calibration_due_on: date | None
    actor: str | None
    comment: str | None


class DetectorStateDetail(DetectorStateRead):
    events: list[DetectorStateEvent] = Field(description="every change, oldest first")
