"""Emergency schemas: incidents and their timeline and tasks, impact analysis, resources,
response plans, the duty roster and the per-type settings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.core.types import Ident, UtcDateTime

Level = Literal["red", "orange", "yellow", "blue"]
Status = Literal["reported", "responding", "contained", "closed"]
ResourceKind = Literal["shelter", "hydrant", "aed", "team", "supplies"]
Category = Literal["hazard", "accident"]
GradeId = Literal["especially_major", "major", "larger", "general"]
SpillSize = Literal["small", "large"]


class Location(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class CasualtiesIn(BaseModel):
    """The figures as now known (absolute, not increments); each change is on the timeline."""

    deaths: int = Field(default=0, ge=0, le=100_000)
    serious_injuries: int = Field(
        default=0, ge=0, le=100_000, description="重伤, including acute industrial poisoning"
    )
    minor_injuries: int = Field(default=0, ge=0, le=100_000, description="轻伤")
    missing: int = Field(default=0, ge=0, le=100_000, description="下落不明")
    direct_loss_yuan: Decimal = Field(
        default=Decimal(0), ge=0, le=Decimal("1e15"), decimal_places=2, description="直接经济损失"
    )
    known_at: UtcDateTime | None = Field(
        default=None, description="when the unit learned these figures (default: now)"
    )
    comment: str | None = Field(default=None, max_length=2000)


class IncidentCreate(BaseModel):
    type: Ident = Field(examples=["gas_leak"])
    location: Location
    level: Level | None = Field(default=None, description="default: the type's default level")
    description: str | None = Field(default=None, max_length=4000)
    drill: bool = Field(default=False, description="a drill: the same flow, kept apart")
    occurred_at: UtcDateTime | None = Field(
        default=None, description="when it happened (default: learned_at)"
    )
    learned_at: UtcDateTime | None = Field(
        default=None, description="when the unit learned of it; clocks count from it (default: now)"
    )
    enterprise_id: Ident | None = Field(default=None, description="the unit (事故单位)")
    chemical: Ident | None = Field(
        default=None, examples=["chlorine"], description="for a toxic release: the chemical"
    )
    spill_size: SpillSize | None = Field(
        default=None, description="ERG: small up to 208 L, large above (default for zones: large)"
    )
    casualties: CasualtiesIn | None = Field(
        default=None, description="casualties or loss known at opening: then an accident"
    )


class IncidentUpdate(BaseModel):
    level: Level | None = None
    description: str | None = Field(default=None, max_length=4000)
    chemical: Ident | None = Field(default=None, description="once known (toxic release)")
    spill_size: SpillSize | None = None
    enterprise_id: Ident | None = Field(default=None, description="the unit (事故单位)")
    comment: str | None = Field(default=None, max_length=2000)


class StatusChange(BaseModel):
    status: Literal["responding", "contained", "closed"]
    comment: str | None = Field(default=None, max_length=2000)
    force: bool = Field(
        default=False,
        description="close with critical tasks still open (admin only; recorded)",
    )


class CommentIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000)


class ReportIn(BaseModel):
    """A report sent to the authorities (首报, 续报 or 补报) and what it said."""

    kind: Literal["first", "follow_up", "supplement"] = Field(
        default="first", description="first: 首报; follow_up: 续报; supplement: 补报"
    )
    recipient: str = Field(
        default="县级人民政府应急管理部门", min_length=1, max_length=200, examples=["区应急管理局"]
    )
    sent_at: UtcDateTime | None = Field(default=None, description="default: now")
    reporter: str | None = Field(
        default=None, max_length=200, description="报告人 (default: the API key id)"
    )
    reporter_phone: str | None = Field(default=None, max_length=50)
    unit: str | None = Field(
        default=None, max_length=200, description="单位 (default: the enterprise's name)"
    )
    place: str | None = Field(default=None, max_length=500, description="地点, in words")
    narrative: str | None = Field(
        default=None, max_length=8000, description="经过 (default: the description)"
    )
    measures: str | None = Field(default=None, max_length=8000, description="已采取的措施")
    comment: str | None = Field(default=None, max_length=2000)


class TaskCreate(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    critical: bool = False
    assignee: str | None = Field(default=None, max_length=200)


class TaskUpdate(BaseModel):
    status: Literal["open", "done"] | None = None
    assignee: str | None = Field(default=None, max_length=200)


class TaskRead(BaseModel):
    id: int
    position: int
    title: str
    critical: bool
    assignee: str | None
    status: str
    done_at: UtcDateTime | None
    done_by: str | None


class EventRead(BaseModel):
    at: UtcDateTime
    action: str
    actor: str | None = Field(description="API key id, or `worker` for automatic actions")
    detail: dict[str, Any]


class IncidentRead(BaseModel):
    id: str
    park_id: str
    type: str
    status: Status
    level: Level
    drill: bool
    source: Literal["alarm", "operator"]
    location: Location
    description: str | None
    opened_at: UtcDateTime
    opened_by: str | None
    responding_at: UtcDateTime | None
    contained_at: UtcDateTime | None
    closed_at: UtcDateTime | None
    forced_close: bool
    alarm_ids: list[str]
    report_due_at: UtcDateTime | None = Field(
        description="the 1-hour report to the regulator (条例 Art. 9); null for a 险情"
    )
    report_seconds_left: float | None = Field(
        description="seconds left to the report deadline (negative: overdue); null once "
        "reported and for a 险情"
    )
    reported_at: UtcDateTime | None
    occurred_at: UtcDateTime
    learned_at: UtcDateTime
    category: Category = Field(description="hazard: 险情; accident: 生产安全事故")
    category_zh: str
    deaths: int
    serious_injuries: int
    minor_injuries: int
    missing: int
    direct_loss_yuan: float
    grade: GradeId | None = Field(description="条例 Art. 3; null for a 险情")
    grade_zh: str | None
    accident_known_at: UtcDateTime | None
    report_overdue: bool = Field(description="an accident's first report is past due")
    supplement_due_at: UtcDateTime | None = Field(description="a 补报 owed (条例 Art. 13)")
    supplement_overdue: bool
    response_due_at: UtcDateTime | None = Field(description="the park's own response clock")
    response_overdue: bool = Field(description="not responding by response_due_at")
    enterprise_id: str | None
    chemical: str | None
    spill_size: SpillSize | None


class ReportRead(BaseModel):
    id: int
    kind: Literal["first", "follow_up", "supplement"]
    kind_zh: str
    recipient: str
    sent_at: UtcDateTime
    sent_by: str
    recorded_by: str | None
    due_at: UtcDateTime | None
    late: bool | None = Field(description="null when nothing was due (a 险情)")
    content: dict[str, Any] = Field(description="时间, 地点, 单位, 经过, 伤亡, 损失, 措施, 报告人")


class IncidentDetail(IncidentRead):
    reports: list[ReportRead]
    tasks: list[TaskRead]
    timeline: list[EventRead] = Field(description="every action, oldest first")


class ZoneDevice(BaseModel):
    id: str
    type: str
    distance_m: float
    latest: dict[str, dict[str, Any]]


class ZoneEnterprise(BaseModel):
    id: str
    name: str
    people: float


class ZoneBuilding(BaseModel):
    id: str
    name: str


class ZoneHazard(BaseModel):
    id: str
    name: str
    is_major: bool
    level: int | None
    level_zh: str | None
    r: float | None
    distance_m: float
    arrival_s: float | None = Field(description="plume travel time at the wind speed (toxic)")


class Zone(BaseModel):
    radius_m: float
    downwind_reach_m: float
    shape: Literal["circle", "stretched", "corridor"] = "circle"
    source: str | None = Field(default=None, description="where the distance comes from")
    geometry: dict[str, Any]
    buildings: list[ZoneBuilding]
    enterprises: list[ZoneEnterprise]
    people: float
    devices: list[ZoneDevice]
    hazard_sources: list[ZoneHazard] = Field(default_factory=list)


class NearResource(BaseModel):
    id: str
    kind: ResourceKind
    name: str
    capacity: int | None
    contact: str | None
    location: Location
    distance_m: float


class ShelterCapacity(BaseModel):
    people: float = Field(description="people in the outermost zone")
    capacity: int = Field(description="places in the shelters outside every zone")
    shortfall: float
    shelters: list[NearResource] = Field(description="outside every zone, nearest first")


class Wind(BaseModel):
    from_deg: float
    downwind_deg: float
    device_id: str
    ts: UtcDateTime
    speed_m_s: float | None = None
    band: str | None = Field(default=None, description="ERG 2024 Table 3: low, moderate, high")


class Impact(BaseModel):
    incident_id: str
    type: str
    location: Location
    wind: Wind | None
    zones: list[Zone]
    nearest_resources: list[NearResource]
    shelter_capacity: ShelterCapacity


class Stats(BaseModel):
    drill: bool
    total: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    by_level: dict[str, int]
    reported_late: int = Field(description="accidents reported after the deadline (险情 never)")
    accidents: int
    by_category: dict[str, int]
    by_grade: dict[str, int]
    response_late: int
    mean_seconds_to_responding: float | None
    mean_seconds_to_closed: float | None


class ResourceCreate(BaseModel):
    id: Ident
    kind: ResourceKind
    name: str = Field(min_length=1, max_length=200)
    location: Location
    capacity: int | None = Field(default=None, ge=0, description="people, for shelters")
    contact: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ResourceRead(ResourceCreate):
    park_id: str


class PlanTask(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    critical: bool = False


class PlanCreate(BaseModel):
    incident_type: Ident
    level: Level | None = Field(default=None, description="null: any level")
    name: str = Field(min_length=1, max_length=200)
    tasks: list[PlanTask] = Field(min_length=1, max_length=100)
    approved_by: str | None = Field(default=None, max_length=200, description="批准人")
    approved_at: date | None = Field(default=None, description="批准日期")
    review_due_on: date | None = Field(default=None, description="next review (评审) date")


class PlanRead(PlanCreate):
    id: int
    review_overdue: bool = False
    park_id: str | None = Field(description="null: the built-in default")
    valid_from: UtcDateTime


class RosterCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=200, examples=["值班长"])
    phone: str | None = Field(default=None, max_length=50)
    starts_at: UtcDateTime
    ends_at: UtcDateTime

    @field_validator("ends_at")
    @classmethod
    def _after(cls, value: Any, info: Any) -> Any:
        starts = info.data.get("starts_at")
        if starts is not None and value <= starts:
            raise ValueError("must be after starts_at")
        return value


class RosterRead(RosterCreate):
    id: int


class TypeRuleCreate(BaseModel):
    incident_type: Ident
    name_zh: str | None = Field(default=None, max_length=100)
    zone_model: Literal["radial", "toxic_corridor"] = "radial"
    response_deadline_s: float = Field(
        default=1800, gt=0, le=7 * 86400, description="the park's own response clock"
    )
    supplement_window_days: int = Field(
        default=30, ge=1, le=366, description="补报 window (条例 Art. 13: 30, or 7 for fire/road)"
    )
    wind_speed_metric: Ident = "wind_speed_m_s"
    calm_wind_m_s: float = Field(
        default=0.5, ge=0, le=20, description="below it a toxic plume's direction is not trusted"
    )
    day_from_h: int = Field(default=6, ge=0, le=23, description="ERG's day starts (park-local)")
    day_until_h: int = Field(default=18, ge=1, le=24, description="ERG's night starts")

    @field_validator("day_until_h")
    @classmethod
    def _day_after(cls, value: int, info: Any) -> int:
        starts = info.data.get("day_from_h")
        if starts is not None and value <= starts:
            raise ValueError("must be after day_from_h")
        return value

    trigger_device_type: Ident | None = None
    trigger_metric: Ident | None = None
    radii_m: list[float] = Field(min_length=1, max_length=5)
    downwind_stretch: float = Field(default=1.0, ge=1, le=10)
    group_window_s: float = Field(default=600, ge=0, le=86400)
    group_distance_m: float = Field(default=200, ge=0, le=100_000)
    default_level: Level = "orange"
    report_deadline_s: float = Field(default=3600, gt=0, le=7 * 86400)
    report_warn_s: float = Field(default=900, ge=0, le=7 * 86400)
    wind_metric: Ident = "wind_direction_deg"
    wind_max_age_s: float = Field(default=900, gt=0, le=86400)

    @field_validator("radii_m")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(not 0 < r <= 100_000 for r in value):
            raise ValueError("every radius must be in (0, 100000] metres")
        return sorted(value)


class TypeRuleRead(TypeRuleCreate):
    id: int
    park_id: str | None = Field(description="null: the built-in default")
    valid_from: UtcDateTime
    source: str | None
