"""Enterprise, lease and occupancy schemas."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from app.assets import credit_code
from app.core.types import Ident, UtcDateTime

INDUSTRY_CODE_PATTERN = r"^([A-T]|[A-T]?[0-9]{2,4})$"


def _credit_code(value: str) -> str:
    try:
        return credit_code.validate(value)
    except credit_code.CreditCodeError as exc:
        raise ValueError(f"not a valid 统一社会信用代码: {exc}") from exc


CreditCode = Annotated[
    str,
    Field(
        description="统一社会信用代码 (GB 32100-2015), 18 characters; checked with its check "
        "character (lower case is taken as upper case)",
        examples=["91350100M000100Y43"],
    ),
    AfterValidator(_credit_code),
]
IndustryCode = Annotated[
    str,
    Field(
        pattern=INDUSTRY_CODE_PATTERN,
        description="GB/T 4754 国民经济行业分类: a section letter A-T and/or a 2-4 digit "
        "division, group or class (C, C26, 2611, C2611)",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Contact(BaseModel):
    name: Name
    role: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=200)


ENTERPRISE_EXAMPLE: dict[str, Any] = {
    "id": "acme",
    "name": "苏州艾克美精密制造有限公司",
    "credit_code": "91350100M000100Y43",
    "industry_code": "C3484",
    "above_scale": True,
    "founded_on": "2015-06-01",
    "contacts": [{"name": "王工", "role": "EHS", "phone": "+86 512 0000 0000"}],
}


class EnterpriseCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ENTERPRISE_EXAMPLE]})

    id: Ident
    name: Name
    credit_code: CreditCode
    industry_code: IndustryCode | None = None
    above_scale: bool = Field(default=False, description="规上: above designated size")
    founded_on: date | None = None
    contacts: list[Contact] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)


class EnterpriseUpdate(BaseModel):
    """Fields to change; a field left out stays, ``null`` clears it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"above_scale": True}]})

    name: Name | None = None
    credit_code: CreditCode | None = None
    industry_code: IndustryCode | None = None
    above_scale: bool | None = None
    founded_on: date | None = None
    contacts: list[Contact] | None = None
    attributes: dict[str, Any] | None = None


class EnterpriseRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **ENTERPRISE_EXAMPLE,
                    "park_id": "suzhou-sip",
                    "attributes": {},
                    "created_at": "2026-11-20T02:00:00Z",
                    "updated_at": "2026-11-20T02:00:00Z",
                }
            ]
        }
    )

    id: str
    park_id: str
    name: str
    credit_code: str
    industry_code: str | None
    above_scale: bool
    founded_on: date | None
    contacts: list[Contact]
    attributes: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class EnterpriseFilters(BaseModel):
    above_scale: bool | None = None
    industry_code: str | None = Field(
        default=None, max_length=5, description="codes starting with this (C, C26, ...)"
    )


TARGETS = ("space_id", "building_id", "parcel_id")

LEASE_EXAMPLE: dict[str, Any] = {
    "id": "L-2026-001",
    "enterprise_id": "acme",
    "space_id": "b3-501",
    "area_m2": 420.0,
    "start_date": "2026-01-01",
    "end_date": "2028-12-31",
    "rent_yuan": "25200.00",
}

Rent = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
RentOut = Annotated[
    Decimal, PlainSerializer(str, return_type=str), Field(description="rent per month, yuan")
]
"""Money as a decimal string ("25200.00"), exact, in every answer (cached ones too)."""


RESERVED_LEASE_IDS = frozenset({"expiring"})  # GET .../leases/expiring is the expiring list


def _not_reserved(value: str) -> str:
    if value in RESERVED_LEASE_IDS:
        raise ValueError(f"{value!r} is reserved (GET .../leases/{value} lists expiring leases)")
    return value


class LeaseCreate(BaseModel):
    """A lease of exactly one space, building or parcel; both dates are inclusive."""

    model_config = ConfigDict(json_schema_extra={"examples": [LEASE_EXAMPLE]})

    id: Annotated[Ident, AfterValidator(_not_reserved)]
    enterprise_id: Ident
    space_id: Ident | None = None
    building_id: Ident | None = None
    parcel_id: Ident | None = None
    area_m2: float | None = Field(
        default=None,
        gt=0,
        description="leased area; default: the space's area, the building's leasable area "
        "or the parcel's area",
    )
    start_date: date
    end_date: date = Field(description="the lease's last day (inclusive)")
    rent_yuan: Rent | None = Field(default=None, description="rent per month, yuan")
    attributes: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> LeaseCreate:
        check_lease_shape(self.model_dump())
        return self


def check_lease_shape(values: dict[str, Any]) -> None:
    """Exactly one target, and an end not before the start (ValueError otherwise)."""
    targets = [t for t in TARGETS if values.get(t) is not None]
    if len(targets) != 1:
        raise ValueError(
            f"give exactly one of space_id, building_id, parcel_id (got {len(targets)})"
        )
    if values["end_date"] < values["start_date"]:
        raise ValueError("end_date: before start_date")


class LeaseUpdate(BaseModel):
    """Fields to change; a field left out stays, ``null`` clears it. Setting one target
    (space_id, building_id, parcel_id) clears the other two."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"end_date": "2029-12-31"}]})

    enterprise_id: Ident | None = None
    space_id: Ident | None = None
    building_id: Ident | None = None
    parcel_id: Ident | None = None
    area_m2: float | None = Field(default=None, gt=0)
    start_date: date | None = None
    end_date: date | None = None
    rent_yuan: Rent | None = None
    attributes: dict[str, Any] | None = None


class LeaseRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **LEASE_EXAMPLE,
                    "park_id": "suzhou-sip",
                    "building_id": None,
                    "parcel_id": None,
                    "attributes": {},
                    "created_at": "2026-11-20T02:00:00Z",
                    "updated_at": "2026-11-20T02:00:00Z",
                }
            ]
        }
    )

    id: str
    park_id: str
    enterprise_id: str
    space_id: str | None
    building_id: str | None
    parcel_id: str | None
    area_m2: float
    start_date: date
    end_date: date
    rent_yuan: RentOut | None
    attributes: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class LeaseFilters(BaseModel):
    enterprise_id: Ident | None = None
    space_id: Ident | None = None
    building_id: Ident | None = Field(
        default=None, description="leases of the building itself or of its spaces"
    )
    parcel_id: Ident | None = None
    active_on: date | None = Field(default=None, description="leases running on this date")


class ExpiringLease(LeaseRead):
    enterprise_name: str
    days_left: int = Field(description="days from the reference date to end_date")


class BuildingOccupancy(BaseModel):
    building_id: str
    name: str
    basis: Literal["spaces", "floor_area"] = Field(
        description="spaces: leasable area is the sum of the building's leasable spaces; "
        "floor_area: the building has no spaces, so its floor area counts (Σ floor areas, "
        "else footprint × floors) and whole-building leases fill it"
    )
    leasable_m2: float
    leased_m2: float
    occupancy_rate: float | None = Field(description="出租率; null when nothing is leasable")
    vacancy_rate: float | None = Field(description="空置率 = 1 − 出租率")
    spaces: int
    spaces_leased: int


class Occupancy(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-11-29",
                    "leasable_m2": 1200.0,
                    "leased_m2": 900.0,
                    "occupancy_rate": 0.75,
                    "vacancy_rate": 0.25,
                    "buildings": [
                        {
                            "building_id": "b3",
                            "name": "3号楼",
                            "basis": "spaces",
                            "leasable_m2": 1200.0,
                            "leased_m2": 900.0,
                            "occupancy_rate": 0.75,
                            "vacancy_rate": 0.25,
                            "spaces": 4,
                            "spaces_leased": 3,
                        }
                    ],
                }
            ]
        }
    )

    date: dt.date
    leasable_m2: float
    leased_m2: float
    occupancy_rate: float | None = Field(description="出租率 = leased / leasable area")
    vacancy_rate: float | None = Field(description="空置率 = 1 − 出租率")
    buildings: list[BuildingOccupancy]
