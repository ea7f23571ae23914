"""Schemas of the 亩均 schemes as data: indicators, scope, adjustments, a firm's scored items."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.economy.schemas import CutoffItem

SCHEME_INDICATORS = (
    "tax_per_mu",
    "value_added_per_mu",
    "revenue_per_mu",
    "value_added_per_energy",
    "value_added_per_emission",
    "tax_per_energy",
    "labour_productivity",
    "rd_ratio",
    "tax_per_kwh",
)
SchemeCode = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,40}$", description="scheme code")]


class SchemeIndicator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: Literal[SCHEME_INDICATORS]  # type: ignore[valid-type]
    weight: float = Field(ge=0, le=1000, allow_inf_nan=False)
    benchmark: float = Field(gt=0, le=1e9, allow_inf_nan=False)
    when_missing: Literal["average", "zero", "not_evaluated"] = "not_evaluated"
    cap: float | None = Field(
        default=None, gt=0, le=100, description="at most cap x weight points for the item"
    )
    unit: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=500)


class SchemeAdjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    label: str = Field(min_length=1, max_length=200)
    points: float = Field(default=0, ge=-1000, le=1000, allow_inf_nan=False)
    veto: bool = Field(default=False, description="一票否决: the item sets grade D")
    source: str | None = Field(default=None, max_length=500)


class SchemeScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sections: list[Annotated[str, Field(pattern="^[A-T]$")]] | None = Field(
        default=None, max_length=20, description="GB/T 4754 sections evaluated (null: all)"
    )
    small_min_land_mu: float | None = Field(
        default=None, ge=0, le=1e6, description="规下 firms only from this much land (亩)"
    )
    note: str | None = Field(default=None, max_length=500)


class SchemeDefinition(BaseModel):
    """A 亩均 scheme: indicators per firm class with weights, benchmarks and caps, the scope,
    the grade cut-offs and the 加分 / 减分 / 一票否决 items."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=200)
    sources: list[Annotated[str, Field(max_length=500)]] = Field(min_length=1, max_length=20)
    scope: SchemeScope = SchemeScope()
    min_age_years: int = Field(default=2, ge=0, le=20)
    classes: dict[
        Literal["above_scale", "small"],
        Annotated[list[SchemeIndicator], Field(max_length=len(SCHEME_INDICATORS))],
    ] = Field(description="indicators of 规上 and of 规下 firms")
    cutoffs: list[CutoffItem] = Field(min_length=4, max_length=4)
    adjustments: list[SchemeAdjustment] = Field(default=[], max_length=100)
    verify: list[Annotated[str, Field(max_length=500)]] = Field(
        default=[], max_length=50, description="figures still to be confirmed"
    )


class SchemePut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: SchemeCode
    year: int = Field(ge=2000, le=2999, description="the first year of this version")
    definition: SchemeDefinition


class SchemeRead(BaseModel):
    code: str
    year: int
    park_id: str | None = Field(description="null: a seeded default")
    definition: SchemeDefinition


class PermuEventItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    note: str | None = Field(default=None, max_length=500)


class PermuEvents(BaseModel):
    """A firm's scored items of a year (加分, 减分, 一票否决: e.g. a serious safety accident)."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2999)
    items: list[PermuEventItem] = Field(max_length=100)
