"""Alarm schemas (../shared/CONTRACT.md section 3: the alarm record)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from app.core.severity import Color, Severity
from app.core.types import UtcDateTime


class AlarmRead(BaseModel):
    id: str
    park_id: str
    device_id: str
    metric: str | None
    type: str = Field(
        description="`threshold`, `state`, `rate_of_change` (value: the speed per minute), "
        "`threshold_low` / `threshold_high` (the two sides of a two-sided rule, e.g. oxygen), "
        "`detector_fault` (reported by the detector, or set by an operator), `calibration_due`, "
        "or `device_offline` (value: seconds silent while the platform was listening)"
    )
    severity: Severity
    color: Color
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
    shelved_until: UtcDateTime | None = Field(
        default=None,
        description="shelved by an operator until then: still evaluated and recorded, its "
        "webhook notifications held back",
    )
    suppressed: Literal["out_of_service", "by_design"] | None = Field(
        default=None,
        description="raised while its detector was out of service (maintenance, calibration, "
        "fault: 停用/维护/标定) or while its rule's suppression condition held (by design, "
        "e.g. the machine not running): recorded and listed, not announced; it does not "
        "latch. Back in service, an alarm still active is announced",
    )


class AlarmEventRead(BaseModel):
    at: UtcDateTime
    action: str = Field(
        description="raised, escalated, returned_to_normal, cleared, acknowledged, comment, "
        "shelved, unshelved, unsuppressed"
    )
    severity: str | None
    value: float | None
    actor: str | None = Field(description="the API key id, for operator actions")
    comment: str | None


class AlarmDetail(AlarmRead):
    events: list[AlarmEventRead] = Field(description="the audit trail, oldest first")


class AlarmAck(BaseModel):
    comment: str | None = Field(default=None, max_length=2000)


class AlarmShelve(BaseModel):
    duration_s: float = Field(
        gt=0,
        le=31 * 86400,
        description="how long, in seconds; at most PARKTWIN_ALARM_SHELVE_MAX (default 8 h)",
        examples=[3600],
    )
    comment: str = Field(min_length=1, max_length=2000, description="why (kept in the audit)")


class AlarmComment(BaseModel):
    comment: str = Field(min_length=1, max_length=2000)


class SeverityCounts(BaseModel):
    critical: int = 0
    major: int = 0
    minor: int = 0
    warning: int = 0


class BuildingSummary(SeverityCounts):
    building_id: str | None


class FloodState(BaseModel):
    active: bool = Field(
        description="a device of the park is chattering: it raised more alarms in the flood "
        "window than the flood threshold, and its repeat raises are held back"
    )
    started_at: UtcDateTime | None = Field(
        default=None, description="when the longest-chattering device started"
    )
    held_back: int = Field(
        default=0, description="repeat raises held back, over the park's chattering devices"
    )


class AlarmSummary(BaseModel):
    park: SeverityCounts = Field(
        description="active alarms by severity, neither shelved nor suppressed"
    )
    unacknowledged: int
    shelved: int = Field(default=0, description="active alarms an operator has shelved")
    suppressed: int = Field(
        default=0,
        description="active alarms raised while their detector was out of service or "
        "suppressed by design: recorded, not announced, not in the counts above",
    )
    flood: FloodState = Field(default_factory=lambda: FloodState(active=False))
    buildings: list[BuildingSummary]


class RuleLevel(BaseModel):
    severity: Severity
    threshold: float = Field(allow_inf_nan=False)


class SuppressCondition(BaseModel):
    """Suppressed by design while the device's newest reading of ``metric`` is below ``below``
    (or above ``above``): e.g. ``{"metric": "running", "below": 0.5}``, the machine stopped."""

    metric: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    below: float | None = Field(default=None, allow_inf_nan=False)
    above: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_bound(self) -> SuppressCondition:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below and above")
        return self


class AlarmRuleCreate(BaseModel):
    device_type: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    device_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="set: this device only; unset: every device of the type in the park",
    )
    metric: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    type: Literal["threshold", "state", "rate_of_change", "detector_fault"] = Field(
        default="threshold",
        description="`rate_of_change`: thresholds are speeds in the metric's unit per minute "
        "between consecutive readings (`above`: rising that fast, `below`: falling that fast); "
        "`detector_fault`: a state metric by which the detector reports its own fault",
    )
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
    low_levels: list[RuleLevel] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="a two-sided rule (type `threshold`, direction `above`): the low limits, "
        "level 1 first, level 2 further below and more severe, all below the high `levels`. "
        "Each side is an alarm of its own: types `threshold_low` and `threshold_high` "
        "(oxygen: low 19.5, high 23.5 %VOL, GB/T 50493-2019 §5.5.2)",
    )
    gas: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="only detectors measuring this gas (their `attributes.gas`, any case, "
        "e.g. `H2S`); not with `device_id`. A park's or the default rule for the detector's "
        "gas comes before one for any gas",
    )
    suppress_when: SuppressCondition | None = Field(
        default=None,
        description="suppressed by design while this holds on the same device: raised alarms "
        "are recorded (`suppressed = by_design`) but not announced until it stops holding",
    )

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


class ToxicGasRead(BaseModel):
    gas: str
    name_zh: str
    molar_mass: float = Field(description="g/mol")
    level1_mg_m3: float
    level2_mg_m3: float
    level1_ppm: float = Field(description="level 1 converted: mg/m³ × 24.45 / molar mass")
    level2_ppm: float
    conversion: str
    valid_from: date
    source: str


class AlarmRuleRead(AlarmRuleCreate):
    id: int
    park_id: str | None = Field(description="null: a built-in default for every park")
    source: str | None
