"""Park schemas."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.limits import check_polygon_size
from app.core.types import Ident, UtcDateTime

Position = list[float]


class Polygon(BaseModel):
    """A GeoJSON Polygon (RFC 7946): closed rings of [lon, lat] positions."""

    type: Literal["Polygon"]
    coordinates: list[list[Position]] = Field(min_length=1)

    @field_validator("coordinates")
    @classmethod
    def _rings(cls, rings: list[list[Position]]) -> list[list[Position]]:
        check_polygon_size(rings)
        for ring in rings:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise ValueError(
                    "each ring needs at least 4 positions, the last equal to the first"
                )
            for position in ring:
                if len(position) not in (2, 3):
                    raise ValueError("a position is [lon, lat] or [lon, lat, alt]")
                if not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90):
                    raise ValueError("lon must be within ±180 and lat within ±90")
        return rings


def check_timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"{name!r} is not an IANA timezone (e.g. Asia/Shanghai)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA timezone") from exc
    return name


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


class ParkCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "suzhou-sip",
                    "name": "苏州工业园区 示范园",
                    "timezone": "Asia/Shanghai",
                    "boundary": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [120.70, 31.30],
                                [120.72, 31.30],
                                [120.72, 31.32],
                                [120.70, 31.32],
                                [120.70, 31.30],
                            ]
                        ],
                    },
                }
            ]
        }
    )

    id: Ident
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="Asia/Shanghai", description="IANA timezone of the park")
    boundary: Polygon | None = None

    _tz = field_validator("timezone")(check_timezone)


class ParkUpdate(BaseModel):
    """Fields to change; a field left out stays, a ``null`` boundary removes it. The timezone
    cannot change: daily rollups are cut in it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "苏州工业园区 示范园 二期"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    boundary: Polygon | None = None


class ParkRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "suzhou-sip",
                    "name": "苏州工业园区 示范园",
                    "timezone": "Asia/Shanghai",
                    "boundary": None,
                    "created_at": "2026-11-28T08:00:00Z",
                    "updated_at": "2026-11-28T08:00:00Z",
                }
            ]
        }
    )

    id: str
    name: str
    timezone: str
    boundary: dict[str, Any] | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
