"""Alarm schemas (../shared/CONTRACT.md section 3: the alarm record)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.core.types import UtcDateTime

Severity = Literal["critical", "major", "minor", "warning"]


class AlarmRead(BaseModel):
    id: str
    park_id: str
    device_id: str
    metric: str | None
    type: str = Field(description="`threshold`, `state` or `device_offline`")
    severity: Severity
    color: Literal["red", "orange", "yellow", "blue"]
    active: bool
    acknowledged: bool
    raised_at: UtcDateTime
    cleared_at: UtcDateTime | None
    acknowledged_at: UtcDateTime | None
    value: float | None
    peak_value: float | None
    threshold: float | None
    count: int = Field(description="how often the condition was raised while this alarm was open")
    latched: bool = Field(description="stays active until back to normal and acknowledged")
    shelved_until: UtcDateTime | None = None


class AlarmEventRead(BaseModel):
    at: UtcDateTime
    action: str = Field(
        description="raised, escalated, returned_to_normal, cleared, acknowledged, comment"
    )
    severity: str | None
    value: float | None
    actor: str | None = Field(description="the API key id, for operator actions")
    comment: str | None


class AlarmDetail(AlarmRead):
    events: list[AlarmEventRead] = Field(description="the audit trail, oldest first")


class AlarmAck(BaseModel):
    comment: str | None = Field(default=None, max_length=2000)


class AlarmComment(BaseModel):
    comment: str = Field(min_length=1, max_length=2000)


class SeverityCounts(BaseModel):
    critical: int = 0
    major: int = 0
    minor: int = 0
    warning: int = 0


class BuildingSummary(SeverityCounts):
    building_id: str | None


class AlarmSummary(BaseModel):
    park: SeverityCounts
    unacknowledged: int
    buildings: list[BuildingSummary]
