"""Schemas of major hazard sources (重大危险源, GB 18218-2018) and drills (应急演练)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.core.types import Ident, UtcDateTime
from app.emergency.schemas import Location


class InventoryItem(BaseModel):
    chemical: Ident = Field(examples=["chlorine"])
    quantity_t: float = Field(ge=0, le=10_000_000, description="q: the most present at once, t")
    critical_t: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Q (t); default: GB 18218-2018 Table 1 for a named chemical; required, with "
        "beta and basis, for one the catalogue lacks (Table 2 by hazard category)",
    )
    beta: float | None = Field(default=None, gt=0, le=100, description="β (Table 3 or 4)")
    basis: str | None = Field(
        default=None, max_length=300, examples=["GB 18218-2018 Table 2 W5.3; Table 4"]
    )


class HazardSourceCreate(BaseModel):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    unit_kind: Literal["production", "storage"] = Field(description="生产单元 or 储存单元")
    enterprise_id: Ident | None = None
    location: Location
    exposed_population: int = Field(
        ge=0,
        le=10_000_000,
        description="people exposed: 常住人口 within 500 m outside the unit (Table 5, for α)",
    )
    inventory: list[InventoryItem] = Field(min_length=1, max_length=200)

    @field_validator("inventory")
    @classmethod
    def _unique(cls, value: list[InventoryItem]) -> list[InventoryItem]:
        names = [i.chemical for i in value]
        if len(set(names)) != len(names):
            raise ValueError("each chemical at most once")
        return value


class InventoryRead(InventoryItem):
    name_zh: str | None
    critical_t: float
    beta: float
    ratio: float = Field(description="q/Q")
    beta_ratio: float = Field(description="β·q/Q")
    source: str


class HazardAssessment(BaseModel):
    sum_ratio: float = Field(description="Σ q/Q; a major hazard source when ≥ 1 (§4.2.2)")
    is_major: bool
    alpha: float = Field(description="α by exposed population (Table 5)")
    r: float | None = Field(description="R = α·Σ β·q/Q (§4.3); null when not a major source")
    level: int | None = Field(description="1 (一级) .. 4 (四级), Table 6")
    level_zh: str | None
    source: str


class HazardSourceRead(BaseModel):
    id: str
    park_id: str
    name: str
    unit_kind: str
    enterprise_id: str | None
    location: Location
    exposed_population: int
    inventory: list[InventoryRead]
    assessment: HazardAssessment
    updated_at: UtcDateTime


class ChemicalRead(BaseModel):
    chemical: str
    name_zh: str
    cas: str | None
    critical_t: float
    beta: float
    source: str
    park_id: str | None


class Finding(BaseModel):
    finding: str = Field(min_length=1, max_length=2000)
    severity: Literal["minor", "major"] = "minor"
    action: str | None = Field(default=None, max_length=2000, description="整改措施")
    owner: str | None = Field(default=None, max_length=200)


class DrillCreate(BaseModel):
    plan_id: int = Field(ge=1, description="the response plan (version) exercised")
    held_at: UtcDateTime
    scenario: str = Field(min_length=1, max_length=2000)
    participants: int | None = Field(default=None, ge=0, le=1_000_000)
    incident_id: str | None = Field(
        default=None, description="the drill incident run in the system, if any"
    )
    findings: list[Finding] = Field(default_factory=list, max_length=200)


class DrillRead(BaseModel):
    id: int
    park_id: str
    plan_id: int
    plan: dict[str, Any] = Field(description="name, type, approver and review date of the plan")
    held_at: UtcDateTime
    scenario: str
    participants: int | None
    incident_id: str | None
    findings: list[Finding]
    recorded_by: str | None
    created_at: UtcDateTime
