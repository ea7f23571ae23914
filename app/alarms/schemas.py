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


class RuleLevel(BaseModel):
    severity: Severity
    threshold: float = Field(allow_inf_nan=False)


class AlarmRuleCreate(BaseModel):
    device_type: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    device_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="set: this device only; unset: every device of the type in the park",
    )
    metric: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    type: Literal["threshold", "state"] = "threshold"
    direction: Literal["above", "below"] = "above"
    levels: list[RuleLevel] = Field(
        min_length=1,
        max_length=2,
        description="level 1 first; level 2 further past it and more severe",
    )
    deadband: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    on_delay_s: float = Field(default=0.0, ge=0, le=86400)
    off_delay_s: float = Field(default=0.0, ge=0, le=86400)
    latch: bool = False
    enabled: bool = True

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "device_type": "toxic_gas_detector",
                    "metric": "concentration_mg_m3",
                    "levels": [
                        {"severity": "major", "threshold": 10},
                        {"severity": "critical", "threshold": 20},
                    ],
                    "deadband": 1,
                    "latch": True,
                }
            ]
        }
    }


class AlarmRuleRead(AlarmRuleCreate):
    id: int
    park_id: str | None = Field(description="null: a built-in default for every park")
    source: str | None
