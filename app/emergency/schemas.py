"""Emergency schemas: incidents and their timeline and tasks, impact analysis, resources,
response plans, the duty roster and the per-type settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.core.types import Ident, UtcDateTime

Level = Literal["red", "orange", "yellow", "blue"]
Status = Literal["reported", "responding", "contained", "closed"]
ResourceKind = Literal["shelter", "hydrant", "aed", "team", "supplies"]


class Location(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class IncidentCreate(BaseModel):
    type: Ident = Field(examples=["gas_leak"])
    location: Location
    level: Level | None = Field(default=None, description="default: the type's default level")
    description: str | None = Field(default=None, max_length=4000)
    drill: bool = Field(default=False, description="a drill: the same flow, kept apart")


class IncidentUpdate(BaseModel):
    level: Level | None = None
    description: str | None = Field(default=None, max_length=4000)
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
    report_due_at: UtcDateTime = Field(description="the 1-hour report to the regulator")
    report_seconds_left: float | None = Field(
        description="seconds left to the report deadline (negative: overdue); null once reported"
    )
    reported_at: UtcDateTime | None


class IncidentDetail(IncidentRead):
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


class Zone(BaseModel):
    radius_m: float
    downwind_reach_m: float
    geometry: dict[str, Any]
    buildings: list[ZoneBuilding]
    enterprises: list[ZoneEnterprise]
    people: float
    devices: list[ZoneDevice]


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
    reported_late: int
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


class PlanRead(PlanCreate):
    id: int
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
