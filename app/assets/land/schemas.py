"""Parcel (地块), building, floor and space schemas."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from app.core.types import Ident, UtcDateTime
from app.parks.schemas import Polygon

SpaceStatus = Literal["available", "leased", "reserved", "maintenance", "not_leasable"]

SQUARE = [[120.701, 31.301], [120.703, 31.301], [120.703, 31.303], [120.701, 31.303]]
PARCEL_GEOMETRY: dict[str, Any] = {"type": "Polygon", "coordinates": [[*SQUARE, SQUARE[0]]]}
FOOTPRINT = [[120.7015, 31.3015], [120.7025, 31.3015], [120.7025, 31.3022], [120.7015, 31.3022]]
BUILDING_FOOTPRINT: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[*FOOTPRINT, FOOTPRINT[0]]],
}
STAMPS = {"created_at": "2026-11-29T02:00:00Z", "updated_at": "2026-11-29T02:00:00Z"}


Tenure = Literal["transferred", "allocated", "leased"]
TENURE_FIELD = Field(
    default=None, description="land tenure: transferred 出让, allocated 划拨, leased 租赁"
)
CERTIFICATE_AREA_FIELD = Field(
    default=None,
    gt=0,
    le=1e9,
    description="证载面积: the area on the land-use certificate, m²; 亩均 uses it when present",
)
INVESTMENT_FIELD = Field(
    default=None,
    ge=0,
    le=Decimal("1e11"),
    max_digits=14,
    decimal_places=2,
    description="fixed-asset investment on the parcel, 10⁴ yuan (for 投资强度)",
)


class ParcelRegister(BaseModel):
    """What the land register says of a parcel, beside its surveyed polygon."""

    certificate_area_m2: float | None = CERTIFICATE_AREA_FIELD
    certificate_no: str | None = Field(default=None, max_length=100, description="证号")
    tenure: Tenure | None = TENURE_FIELD
    tenure_start: date | None = Field(default=None, description="first day of the term")
    tenure_end: date | None = Field(default=None, description="last day of the term")
    investment_10k_yuan: Decimal | None = INVESTMENT_FIELD

    @model_validator(mode="after")
    def _term(self) -> ParcelRegister:
        if self.tenure_start and self.tenure_end and self.tenure_end < self.tenure_start:
            raise ValueError("tenure_end is before tenure_start")
        return self


class ParcelCreate(ParcelRegister):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "A-01", "name": "A-01 地块", "land_use": "M1", "geometry": PARCEL_GEOMETRY}
            ]
        }
    )

    id: Ident
    name: str = Field(min_length=1, max_length=200)
    geometry: Polygon = Field(description="GeoJSON Polygon, WGS84 lon/lat")
    land_use: str | None = Field(
        default=None, max_length=100, description="e.g. GB 50137 class M1 (一类工业用地)"
    )
    attributes: dict[str, Any] = Field(default_factory=dict)


class ParcelUpdate(ParcelRegister):
    """Fields to change; a field left out stays, ``null`` clears it."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    geometry: Polygon | None = None
    land_use: str | None = Field(default=None, max_length=100)
    attributes: dict[str, Any] | None = None


class ParcelLand(BaseModel):
    """The parcel's land-use figures, on the area the register gives when it gives one."""

    area_m2: float = Field(description="证载面积 when recorded, else the geodesic area")
    area_mu: float
    area_basis: Literal["certificate", "geodesic"]
    buildings: int
    floor_area_m2: float = Field(description="Σ building floor area on the parcel")
    footprint_m2: float = Field(description="Σ building footprints (基底面积) on the parcel")
    floor_area_ratio: float | None = Field(
        description="容积率 = total floor area / land area (GB/T 50280-98)"
    )
    building_density: float | None = Field(
        description="建筑密度 = building footprints / land area (GB/T 50280-98)"
    )
    investment_intensity_10k_yuan_per_ha: float | None = Field(
        description="投资强度 = fixed-asset investment / land area, 10⁴ yuan per hectare "
        "(《工业项目建设用地控制指标》, 自然资发〔2023〕72号)"
    )
    investment_intensity_10k_yuan_per_mu: float | None
    sources: list[str]


class ParcelRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "A-01",
                    "park_id": "suzhou-sip",
                    "name": "A-01 地块",
                    "land_use": "M1",
                    "geometry": PARCEL_GEOMETRY,
                    "area_m2": 47_587.2,
                    "area_mu": 71.38,
                    "attributes": {},
                    **STAMPS,
                }
            ]
        }
    )

    id: str
    park_id: str
    name: str
    land_use: str | None
    geometry: dict[str, Any]
    area_m2: float = Field(description="geodesic area on the WGS84 ellipsoid")
    area_mu: float = Field(description="the same in 亩 (1 亩 = 666.67 m²)")
    certificate_area_m2: float | None
    certificate_no: str | None
    tenure: Tenure | None
    tenure_start: date | None
    tenure_end: date | None
    investment_10k_yuan: Annotated[Decimal, PlainSerializer(float, return_type=float)] | None
    land: ParcelLand
    attributes: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ParcelFilters(BaseModel):
    land_use: str | None = None


class BuildingCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "B3",
                    "name": "3号楼",
                    "parcel_id": "A-01",
                    "footprint": BUILDING_FOOTPRINT,
                    "floors": 5,
                    "use": "厂房",
                }
            ]
        }
    )

    id: Ident
    name: str = Field(min_length=1, max_length=200)
    parcel_id: Ident | None = None
    footprint: Polygon = Field(description="GeoJSON Polygon, WGS84 lon/lat")
    floors: int = Field(default=1, ge=0, le=200, description="floors above ground")
    use: str | None = Field(default=None, max_length=100, description="厂房, 办公, 仓库, ...")
    attributes: dict[str, Any] = Field(default_factory=dict)


class BuildingUpdate(BaseModel):
    """Fields to change; a field left out stays, ``null`` clears it."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    parcel_id: Ident | None = None
    footprint: Polygon | None = None
    floors: int | None = Field(default=None, ge=0, le=200)
    use: str | None = Field(default=None, max_length=100)
    attributes: dict[str, Any] | None = None


class BuildingRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "B3",
                    "park_id": "suzhou-sip",
                    "name": "3号楼",
                    "parcel_id": "A-01",
                    "footprint": BUILDING_FOOTPRINT,
                    "floors": 5,
                    "use": "厂房",
                    "area_m2": 7_400.5,
                    "attributes": {},
                    **STAMPS,
                }
            ]
        }
    )

    id: str
    park_id: str
    name: str
    parcel_id: str | None
    footprint: dict[str, Any]
    floors: int
    use: str | None
    area_m2: float = Field(description="geodesic footprint area")
    attributes: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class BuildingFilters(BaseModel):
    parcel_id: Ident | None = None
    use: str | None = None


class FloorBody(BaseModel):
    """A floor as posted under its building's path."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"number": 1, "name": "一层", "area_m2": 1480.0}]}
    )

    number: int = Field(ge=-20, le=200, description="1 is the ground floor; B1 is -1; no 0")
    name: str | None = Field(default=None, max_length=100)
    area_m2: float | None = Field(default=None, ge=0, description="gross floor area")


class FloorCreate(FloorBody):
    """A floor with its building (the service's input, and a row of a bulk import)."""

    building_id: Ident


class FloorUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    area_m2: float | None = Field(default=None, ge=0)


class FloorRead(BaseModel):
    park_id: str
    building_id: str
    number: int
    name: str | None
    area_m2: float | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class SpaceCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "B3-201", "building_id": "B3", "floor": 2, "name": "201", "area_m2": 320.0}
            ]
        }
    )

    id: Ident
    building_id: Ident
    floor: int | None = Field(default=None, ge=-20, le=200)
    name: str = Field(min_length=1, max_length=200)
    area_m2: float = Field(ge=0, description="leasable area")
    status: SpaceStatus = "available"
    attributes: dict[str, Any] = Field(default_factory=dict)


class SpaceUpdate(BaseModel):
    """Fields to change; a field left out stays, ``null`` clears it."""

    building_id: Ident | None = None
    floor: int | None = Field(default=None, ge=-20, le=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    area_m2: float | None = Field(default=None, ge=0)
    status: SpaceStatus | None = None
    attributes: dict[str, Any] | None = None


class SpaceRead(BaseModel):
    id: str
    park_id: str
    building_id: str
    floor: int | None
    name: str
    area_m2: float
    status: SpaceStatus
    attributes: dict[str, Any]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class SpaceFilters(BaseModel):
    building_id: Ident | None = None
    floor: int | None = None
    status: SpaceStatus | None = None
