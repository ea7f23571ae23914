"""Schemas of the enterprise view: its premises, its 亩均 result and the overview page."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.assets.tenancy.rent_schemas import Collection
from app.assets.tenancy.schemas import EnterpriseRead
from app.devices.schemas import DeviceStatus
from app.economy.schemas import PerMuItem

PremiseKind = Literal["space", "building", "parcel"]


class DeviceFilters(BaseModel):
    """The filters an enterprise may use on its own devices (the enterprise is the path's)."""

    type: str | None = Field(default=None, max_length=64)
    domain: str | None = Field(default=None, max_length=64)
    status: DeviceStatus | None = None


class PremiseRead(BaseModel):
    """What one lease holds: a space (房间/单元), a whole building, or a parcel (土地)."""

    lease_id: str
    start_date: date
    end_date: date
    area_m2: float = Field(description="the leased area")
    kind: PremiseKind
    id: str = Field(description="the space's, building's or parcel's id")
    name: str | None
    floor: int | None = Field(description="a space's floor")
    building_id: str | None
    building_name: str | None
    parcel_id: str | None


class EnterprisePerMu(BaseModel):
    """The enterprise's own 亩均效益评价: each indicator's value, benchmark, weight and points,
    its score, grade, rank and class size; no other firm's figures."""

    year: int
    benchmark_year: int | None
    region: str | None
    cutoffs: dict[str, float] = Field(description="grade cut-offs (share of the class ahead)")
    grade_rule: str
    energy_source: str
    scheme: dict[str, Any] | None
    sources: dict[str, list[str]] = {}
    result: PerMuItem


class DeviceCounts(BaseModel):
    total: int = 0
    online: int = 0
    offline: int = 0
    unknown: int = 0


class AlarmCounts(BaseModel):
    active: int = 0
    critical: int = 0
    major: int = 0
    minor: int = 0
    warning: int = 0


class EnergyMonth(BaseModel):
    """This month so far (the park's calendar): totals and one row per carrier."""

    from_: date = Field(serialization_alias="from")
    to: date
    tce_equivalent: float | None = Field(description="当量值")
    tce_equal_value: float | None = Field(description="等价值")
    total_location_t: float | None = Field(description="tCO₂, Scope 1 + 2 location-based")
    carriers: list[dict[str, Any]]


class RentYear(Collection):
    """Rent of the year to this month: due (应收), paid (实收), outstanding, 收缴率."""

    from_month: str = Field(serialization_alias="from")
    to_month: str = Field(serialization_alias="to")


class PerMuSummary(BaseModel):
    year: int
    grade: str
    score: float | None
    rank: int | None
    class_size: int | None
    firm_class: str


class Overview(BaseModel):
    """What a small enterprise page shows, in one request."""

    enterprise: EnterpriseRead
    on: date = Field(description="today in the park's timezone")
    premises: list[PremiseRead] = Field(description="leases running today (at most 100)")
    leased_m2: float
    devices: DeviceCounts
    alarms: AlarmCounts
    energy_month: EnergyMonth
    rent_year: RentYear
    per_mu: PerMuSummary | None = Field(
        description="last year's 亩均 grade; null when the park has no evaluation for it"
    )
