"""Schemas of the economy module: reports, overview, 电力看经济, 亩均效益评价."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import UtcDateTime

MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
Month = Annotated[
    str, Field(pattern=MONTH_PATTERN, description="YYYY-MM (1900-2999)", examples=["2026-10"])
]
Amount = Annotated[float, Field(allow_inf_nan=False, ge=0, le=1e12)]
Signed = Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]
ExportFormat = Literal["json", "csv", "xlsx"]
OverviewFormat = Literal["json", "csv", "xlsx", "pdf"]

REPORT_EXAMPLE: dict[str, Any] = {
    "output_value": 3120.5,
    "value_added": 812.0,
    "revenue": 2980.0,
    "tax": 96.4,
    "employees": 312,
    "rd_spend": 95.0,
    "emissions": 0.42,
}


class ReportWrite(BaseModel):
    """One enterprise's month, in 10⁴ yuan (people for ``employees``). PUT replaces the
    whole report: an optional field left out is stored as unknown (null)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": REPORT_EXAMPLE})

    output_value: Amount = Field(description="工业总产值, 10⁴ yuan")
    value_added: Signed = Field(description="工业增加值, 10⁴ yuan (may be negative)")
    revenue: Amount = Field(description="营业收入 (main business), 10⁴ yuan")
    tax: Signed = Field(description="税收 (taxes paid, net of refunds), 10⁴ yuan")
    employees: Amount = Field(description="average employees in the month, people")
    rd_spend: Amount = Field(description="R&D spend, 10⁴ yuan")
    emissions: Amount | None = Field(
        default=None, description="main pollutant emissions, t (null: no data)"
    )
    energy_tce: Amount | None = Field(
        default=None,
        description="energy use, tce 等价值 (null: the 亩均 evaluation takes the firm's total "
        "tce 等价值 of the month from the carbon module's ledger)",
    )
    digital_transformed: bool | None = Field(
        default=None, description="数字化转型 done (the guide's coverage indicator)"
    )
    digital_services: bool | None = Field(
        default=None, description="uses digital producer services (the guide's indicator)"
    )


class ReportRead(ReportWrite):
    model_config = ConfigDict(extra="ignore")

    enterprise_id: str
    month: Month
    created_at: UtcDateTime
    created_by: str | None
    updated_at: UtcDateTime
    updated_by: str | None


class ReportFilters(BaseModel):
    month: Month | None = Field(default=None, description="one month")
    year: int | None = Field(default=None, ge=1900, le=2999, description="one year")
    enterprise_id: str | None = Field(default=None, max_length=64)


class Revision(BaseModel):
    id: int
    field: str
    old_value: Any
    new_value: Any
    source: Literal["api", "import", "submission"]
    changed_at: UtcDateTime
    changed_by: str | None


class ScaleChange(BaseModel):
    month: Month
    above_scale: bool
    previous: bool | None = Field(description="the status the month before (null: first known)")
    trailing_revenue: float = Field(
        description="the main revenue the status rests on (10⁴ yuan): the previous year's "
        "complete result (basis annual or carried) or the year's 累计 (basis cumulative)"
    )
    months_reported: int = Field(description="months summed in that revenue")
    basis: str | None = Field(
        default=None,
        description="annual: the previous year's complete result; carried: that year "
        "incomplete (a missing month is not a zero), the last status kept; cumulative: a new "
        "firm by its 累计 revenue of the year",
    )
    threshold: float | None = Field(default=None, description="the sector's threshold, 10⁴ yuan")
    sector: str | None = Field(default=None, description="the threshold's sector")
    source: str | None = Field(default=None, description="the threshold's NBS document")


class ImportError_(BaseModel):
    row: int | None
    field: str | None
    reason: str


class ImportResult(BaseModel):
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int


class Totals(BaseModel):
    model_config = ConfigDict(extra="allow")


Notes: Any = Field(
    default={},
    description="per indicator, instead of a rate on a negative base or a profit turned to "
    "loss: 扭亏, 减亏, 增亏, 亏损持平 or 转亏 (NBS practice); null where the rate stands",
)


class IndustryRow(BaseModel):
    section: str | None = Field(description="GB/T 4754 门类 (null: no or unknown code)")
    name: str | None
    enterprises: int
    totals: dict[str, float | None]
    yoy: dict[str, float | None]
    mom: dict[str, float | None]
    yoy_note: dict[str, str | None] = Notes
    mom_note: dict[str, str | None] = Notes
    ytd: dict[str, float | None] = Field(default={}, description="累计: January to the month")
    ytd_yoy: dict[str, float | None] = Field(
        default={}, description="累计同比 over the (firm, month) pairs reported in both years"
    )
    ytd_yoy_note: dict[str, str | None] = Notes
    ytd_comparable: int = Field(default=0, description="firms with a pair in both years")


class ScaleRow(BaseModel):
    scale: Literal["above_scale", "below_scale", "unclassified"] = Field(
        description="the register status in the month (unclassified: a sector without a "
        "revenue threshold)"
    )
    enterprises: int = Field(description="firms reporting in the month")
    totals: dict[str, float | None]
    ytd: dict[str, float | None] = Field(description="累计 of the same firms")


class Coverage(BaseModel):
    numerator: int
    denominator: int
    rate: float | None


class Overview(BaseModel):
    month: Month
    enterprises: int = Field(description="enterprises that reported for the month")
    totals: dict[str, float | None]
    yoy: dict[str, float | None] = Field(
        description="同比 on a comparable basis (enterprises that reported in both months); "
        "null when none did or the base is 0"
    )
    mom: dict[str, float | None] = Field(description="环比, on the same basis")
    yoy_note: dict[str, str | None] = Notes
    mom_note: dict[str, str | None] = Notes
    yoy_comparable: int
    mom_comparable: int
    ytd: dict[str, float | None] = Field(default={}, description="累计: January to the month")
    ytd_yoy: dict[str, float | None] = Field(
        default={}, description="累计同比 over the (firm, month) pairs reported in both years"
    )
    ytd_yoy_note: dict[str, str | None] = Notes
    ytd_comparable: int = 0
    ytd_months: list[str] = Field(default=[], description="the months of the 累计")
    by_scale: list[ScaleRow] = Field(default=[], description="规上 / 规下 totals")
    growth_rule: str = ""
    sources: dict[str, str] = Field(default={}, description="where each rule comes from")
    by_industry: list[IndustryRow]
    above_scale_count: int
    coverage: dict[str, Coverage]


class PowerDay(BaseModel):
    date: date
    kwh: float
    monitored: int = Field(
        description="enterprises with a positive baseline and data that day (a firm whose "
        "meters sent nothing is not counted idle)"
    )
    operating: int
    no_data: int = Field(default=0, description="enterprises with a baseline but no data")
    operating_rate: float | None = Field(description="开工率 = operating / monitored")
    index: float | None = Field(description="park electricity index, base period = 100")
    comparable_index: float | None = Field(
        default=None,
        description="同口径 index: the kWh of the firms with a baseline and data that day "
        "over the same firms' base-month daily average, x 100 (the same firms both sides)",
    )
    by_industry: dict[str, float | None] = Field(description="index per GB/T 4754 section")
    by_industry_comparable: dict[str, float | None] = Field(
        default={}, description="同口径 index per section"
    )


class PowerEnterpriseDay(BaseModel):
    date: date
    kwh: float
    operating: bool | None = Field(description="null: no baseline, or no data that day")
    has_data: bool = Field(default=True, description="false: no reading that day (outage)")


class PowerEnterprise(BaseModel):
    enterprise_id: str
    section: str | None
    baseline_kwh: float = Field(description="baseline daily kWh (base month average)")
    kwh: float
    operating_days: int
    days: list[PowerEnterpriseDay]


class PowerIndex(BaseModel):
    base_month: Month
    operating_ratio: float
    sources: dict[str, str | None] = Field(
        default={}, description="where each rule of the answer comes from"
    )
    days: list[PowerDay]
    enterprises: list[PowerEnterprise]


class ElasticityRow(BaseModel):
    section: str | None = Field(description="GB/T 4754 门类 (null: the park)")
    name: str | None
    enterprises: int = Field(description="firms on the comparable basis (同口径)")
    kwh: float = Field(description="metered kWh, January to the month")
    kwh_base: float = Field(description="the same months a year before")
    value_added: float = Field(description="工业增加值 of the comparable months, 10⁴ yuan")
    value_added_base: float
    kwh_growth: float | None
    kwh_growth_note: str | None
    value_added_growth: float | None
    value_added_growth_note: str | None = Field(description="扭亏, 减亏, ... (no rate)")
    elasticity: float | None = Field(
        description="电力消费弹性系数 = kwh_growth / value_added_growth (null without both)"
    )


class Elasticity(BaseModel):
    month: Month
    months: list[str] = Field(description="the months compared with a year before")
    park: ElasticityRow
    by_industry: list[ElasticityRow]
    source: str


class Anomaly(BaseModel):
    id: int
    enterprise_id: str
    date: date
    kind: Literal["sudden_drop", "zero_load", "no_data"]
    detail: dict[str, Any]
    detected_at: UtcDateTime


class IndicatorScore(BaseModel):
    value: float | None
    unit: str | None
    benchmark: float
    weight: float
    points: float | None
    rule: str | None = Field(description="how a missing value was scored, if it was")
    months: list[str] = Field(
        default=[], description="the months summed on both sides of the ratio (YYYY-MM)"
    )
    source: str | None = Field(default=None, description="the benchmark's document and year")


class PerMuItem(BaseModel):
    enterprise_id: str
    name: str
    firm_class: Literal["above_scale", "small"]
    land_mu: float
    indicators: dict[str, IndicatorScore]
    score: float | None
    rank: int | None
    grade: Literal["A", "B", "C", "D", "T"]
    reason: str | None = Field(description="why the firm is not evaluated (grade T)")
    share_ahead: float | None = Field(
        default=None, description="share of its class ranked ahead of it (the grade's basis)"
    )
    class_size: int | None = Field(default=None, description="firms graded in its class")
    months_reported: list[str] = Field(default=[], description="months with a report (YYYY-MM)")
    missing_months: list[str] = Field(
        default=[], description="months of the year (from founding) without a report"
    )
    complete_year: bool = Field(default=False, description="every month of the year reported")
    energy_from: dict[str, str] = Field(
        default={}, description="per month: energy from the `report` or the `carbon` ledger"
    )
    adjustments: list[dict[str, Any]] = Field(
        default=[], description="the scheme's items recorded for the firm, with their points"
    )
    veto: str | None = Field(default=None, description="一票否决 item that set grade D")


class PerMu(BaseModel):
    year: int
    benchmark_year: int | None
    region: str | None
    cutoffs: dict[str, float]
    grade_rule: str = ""
    energy_source: str = ""
    scheme: dict[str, Any] | None = Field(
        default=None, description="the scheme used (code, year, name, region, sources, verify)"
    )
    sources: dict[str, list[str]] = {}
    items: list[PerMuItem]


PARAMETER_NAMES = (
    "above_scale_revenue",
    "operating_ratio",
    "power_base_month",
    "anomaly_drop_ratio",
    "anomaly_drop_window_days",
    "anomaly_zero_days",
    "anomaly_zero_kwh",
    "min_age_years",
    "electricity_tce_per_kwh",
    "permu_scheme",
)
INDICATORS = {
    "above_scale": (
        "tax_per_mu",
        "value_added_per_mu",
        "value_added_per_energy",
        "value_added_per_emission",
        "labour_productivity",
        "rd_ratio",
    ),
    "small": ("tax_per_mu", "tax_per_kwh"),
}


class ParameterRead(BaseModel):
    name: str
    valid_from: date
    value: Any
    unit: str | None
    source: str | None
    verify: bool
    park_id: str | None = Field(description="null: the default of every park")


class ParameterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal[PARAMETER_NAMES]  # type: ignore[valid-type]
    valid_from: date
    value: float | str | None = Field(
        description="a number; `power_base_month` takes YYYY-MM or null; `permu_scheme` the "
        "code of the 亩均 scheme the park evaluates with (null: its benchmark set)"
    )
    unit: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=500)


class BenchmarkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    firm_class: Literal["above_scale", "small"]
    indicator: str = Field(max_length=64)
    benchmark: float = Field(gt=0, allow_inf_nan=False)
    weight: float = Field(ge=0, le=1000, allow_inf_nan=False)
    when_missing: Literal["average", "zero", "not_evaluated"] = "not_evaluated"
    unit: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=500)


class CutoffItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: Literal["A", "B", "C", "D"]
    upper_pct: float = Field(gt=0, le=1)
    source: str | None = Field(default=None, max_length=500)


class BenchmarkSet(BaseModel):
    """A park's 亩均 benchmarks, weights and grade cut-offs for a year (replacing its own set
    for that year; the defaults are left as they are)."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2999)
    region: str = Field(min_length=1, max_length=200)
    items: list[BenchmarkItem] = Field(min_length=1, max_length=50)
    cutoffs: list[CutoffItem] = Field(min_length=4, max_length=4)


class BenchmarkRead(BenchmarkItem):
    model_config = ConfigDict(extra="ignore")

    year: int
    region: str
    verify: bool
    park_id: str | None


class CutoffRead(CutoffItem):
    model_config = ConfigDict(extra="ignore")

    year: int
    park_id: str | None


class Settings(BaseModel):
    on: date
    year: int
    parameters: list[ParameterRead]
    benchmarks: list[BenchmarkRead]
    cutoffs: list[CutoffRead]


class CalendarDayWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    kind: Literal["holiday", "workday"] = Field(
        description="holiday: a rest day; workday: a make-up working day (调休)"
    )
    name: str = Field(min_length=1, max_length=100)
    source: str | None = Field(default=None, max_length=500)


class CalendarDay(CalendarDayWrite):
    model_config = ConfigDict(extra="ignore")

    park_id: str | None = Field(default=None, description="null: the national default")
