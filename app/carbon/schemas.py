"""Request and answer shapes of ``/api/v1/parks/{park_id}/carbon/...``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from app.core.types import IDENT_PATTERN

GroupBy = Literal["park", "enterprise", "building", "carrier"]
Interval = Literal["day", "month", "year", "all"]
Ident = Annotated[str, Field(pattern=IDENT_PATTERN)]
Carrier = Annotated[str, Field(min_length=1, max_length=64)]
Metric = Literal["energy_tce", "carbon_t", "tce_per_value_added", "co2_per_value_added"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Period(BaseModel):
    from_: date = Field(alias="from")
    to: date


class CarrierRow(BaseModel):
    carrier: str
    unit: str
    scope: int | None
    energy: bool
    clean: bool
    quantity: float | None
    tce_equivalent: float | None
    tce_equal_value: float | None
    location_t: float | None
    market_t: float | None
    green_kwh: float | None
    biogenic_t: float | None = Field(None, description="biomass CO₂, reported, in no scope")


class LedgerRow(BaseModel):
    period: date
    group: str
    tce_equivalent: float | None
    tce_equal_value: float | None
    tce_equivalent_excl_renewables: float | None = Field(
        None, description="当量值 without on-site renewables and green-power-covered grid kWh"
    )
    tce_equal_value_excl_renewables: float | None = Field(None, description="等价值, the same")
    scope1_t: float | None
    process_t: float | None = Field(
        None, description="process emissions entered (annual report only; 0 in period rows)"
    )
    scope2_location_t: float | None
    scope2_market_t: float | None
    total_location_t: float | None
    total_market_t: float | None
    biogenic_t: float | None = Field(None, description="biomass CO₂ (tCO₂), not in any scope")
    green_kwh: float | None
    value_added: float | None = Field(description="10⁴ yuan, from the economy module")
    tce_per_value_added: float | None = Field(description="tce (等价值) per 10⁴ yuan")
    co2_per_value_added: float | None = Field(description="tCO₂ (location) per 10⁴ yuan")
    co2_per_tce: float | None = Field(
        description="单位能耗碳排放, tCO₂ (Scope 1 + Scope 2 location-based) per tce (等价值)"
    )
    co2_per_tce_location: float | None = Field(None, description="the same, location-based")
    co2_per_tce_market: float | None = Field(
        None, description="tCO₂ (Scope 1 + Scope 2 market-based: green power at 0) per tce"
    )
    clean_energy_share: float | None = Field(description="market-based (as the _market field)")
    clean_energy_share_location: float | None = Field(
        None, description="on-site clean carriers (PV, biomass, hydrogen) / tce 当量值"
    )
    clean_energy_share_market: float | None = Field(
        None, description="on-site clean carriers + green-power-covered grid kWh / tce 当量值"
    )
    carriers: list[CarrierRow]


class MeterGap(BaseModel):
    meter_id: str
    carrier: str
    consumption: float | None
    children_sum: float | None
    unmetered: float | None = Field(description="损耗/未计量 = main − Σ sub")


class LedgerAnswer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    interval: Interval
    rows: list[LedgerRow]
    meter_gaps: list[MeterGap] = []
    total: list[LedgerRow] | None = Field(
        default=None, description="with `total=true`: the whole range's rows (as `interval=all`)"
    )


class CoefficientCreate(Strict):
    carrier: Carrier
    basis: Literal["equivalent", "equal_value"]
    valid_from: date
    value: float = Field(ge=0, le=1e6, description="kgce per unit of the carrier")
    source: str = Field(min_length=1, max_length=500)
    verify: bool = False
    document: str | None = Field(None, max_length=300, description="the document cited")
    issuer: str | None = Field(None, max_length=200)
    issued_on: date | None = None
    table_ref: str | None = Field(None, max_length=300, description="table or clause")


class FactorCreate(Strict):
    carrier: Carrier
    method: Literal["location", "market", "combustion", "heat", "biogenic"]
    region: str = Field("", max_length=64)
    valid_from: date
    value: float | None = Field(
        None, ge=0, le=1e6, description="kgCO₂ per unit; or give ncv, cc, ox"
    )
    ncv: float | None = Field(None, gt=0, le=1e3, description="GJ per unit")
    carbon_content: float | None = Field(None, gt=0, le=1e3, description="tC/TJ")
    oxidation: float | None = Field(None, gt=0, le=1)
    source: str = Field(min_length=1, max_length=500)
    verify: bool = False
    document: str | None = Field(None, max_length=300, description="the document cited")
    issuer: str | None = Field(None, max_length=200)
    issued_on: date | None = None
    table_ref: str | None = Field(None, max_length=300, description="table or clause")
    data_year: int | None = Field(None, ge=1990, le=2100, description="the year it describes")

    @model_validator(mode="after")
    def _value_or_parts(self) -> FactorCreate:
        parts = (self.ncv, self.carbon_content, self.oxidation)
        if self.value is None and None in parts:
            raise ValueError("give value, or all of ncv, carbon_content and oxidation")
        return self


class Settings(Strict):
    grid_region: str = Field(
        min_length=1, max_length=64, description="national, north, northeast, east, central, "
        "northwest, south, southwest (or a region of the park's own factors)"
    )  # fmt: skip


class SteamPut(Strict):
    valid_from: date
    pressure_mpa: float = Field(
        gt=0.001, le=22.0, description="absolute pressure of the purchased steam, MPa"
    )
    temperature_c: float | None = Field(
        None, gt=0, le=800, description="°C for superheated steam; null: saturated"
    )


class NaturalGasPut(Strict):
    valid_from: date
    ncv_mj_m3: float = Field(
        gt=20, le=60, description="net calorific value of the park's gas, MJ/m³ (standard state)"
    )
    source: str = Field(min_length=1, max_length=500, description="e.g. the supplier's 气质报告")


class ProcessEmissionPut(Strict):
    co2_t: float = Field(ge=0, le=1e9, description="tCO₂ of the year (工业生产过程排放)")
    description: str = Field(min_length=1, max_length=500, description="the process")
    method: str | None = Field(
        None, max_length=500, description="how it was computed (e.g. the guide's formula)"
    )


class ProcessEmissionRead(BaseModel):
    park_id: str
    enterprise_id: str
    year: int
    co2_t: float
    description: str
    method: str | None


class ManualEntryCreate(Strict):
    carrier: Carrier
    day: date
    quantity: float = Field(
        ge=0, le=1e12, description="in the carrier's unit (GET .../carbon/factors)"
    )
    enterprise_id: Ident | None = None
    building_id: Ident | None = None
    note: str | None = Field(None, max_length=500)


class ManualEntryRead(BaseModel):
    id: uuid.UUID
    park_id: str
    carrier: str
    day: date
    quantity: float
    enterprise_id: str | None
    building_id: str | None
    note: str | None


class GreenPowerCreate(Strict):
    kind: Literal["contract", "certificate"]
    month: date = Field(
        description="a contract: the month it delivers; a 绿证: its vintage, the month the "
        "power was generated (any day of it). 绿证 count in the calendar year of their vintage"
    )
    enterprise_id: Ident | None = None
    kwh: float | None = Field(None, gt=0, le=1e12, description="a contract's kWh")
    certificate_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=10000, description="绿证 ids, 1,000 kWh each"
    )
    reference: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _shape(self) -> GreenPowerCreate:
        if self.kind == "contract" and (self.kwh is None or self.certificate_ids):
            raise ValueError("a contract has kwh and no certificate_ids")
        if self.kind == "certificate" and (not self.certificate_ids or self.kwh is not None):
            raise ValueError("certificates have certificate_ids (1,000 kWh each) and no kwh")
        if len(set(self.certificate_ids)) != len(self.certificate_ids):
            raise ValueError("a certificate id appears twice")
        return self


class GreenPowerRead(BaseModel):
    id: uuid.UUID
    park_id: str
    enterprise_id: str | None
    kind: str
    certificate_id: str | None
    month: date
    kwh: float
    reference: str | None

    @computed_field(description="a 绿证's generation month (its `month`); null for a contract")  # type: ignore[prop-decorator]
    @property
    def vintage(self) -> date | None:
        return self.month if self.kind == "certificate" else None


class BudgetPut(Strict):
    year: int = Field(ge=2000, le=2100)
    metric: Metric
    cap: float = Field(
        gt=1e-9, le=1e12, description="tce (等价值), tCO₂ (location), or per 10⁴ yuan"
    )
    enterprise_id: Ident | None = None


class BudgetRead(BaseModel):
    id: uuid.UUID
    park_id: str
    enterprise_id: str | None
    year: int
    metric: str
    cap: float
    to_date: float | None
    share: float | None
    forecast: float | None
    as_of: date
    announced: list[int]


def dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="python", by_alias=True))
