"""Field types shared by the API schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

IDENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

Ident = Annotated[str, Field(pattern=IDENT_PATTERN, min_length=1, max_length=64)]
"""An identifier: 1–64 characters of ``[A-Za-z0-9_.-]`` (parks, devices, metrics)."""


def to_utc(value: datetime) -> datetime:
    """Aware datetimes in UTC; a naive one is taken as UTC. A time that has no UTC
    equivalent (year 1 with a positive offset, year 9999 with a negative one) is refused."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time lies outside the years 1 to 9999 in UTC") from None


UtcDateTime = Annotated[datetime, AfterValidator(to_utc)]
"""A timestamp: any offset in, UTC (``...Z``) out."""
