"""The shared timestamp type: any offset in, UTC out; a time with no UTC equivalent is a
validation error (422), not a server error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from app.core.types import UtcDateTime

adapter: TypeAdapter[datetime] = TypeAdapter(UtcDateTime)


def test_offsets_become_utc_and_naive_times_are_utc() -> None:
    assert adapter.validate_python("2026-11-29T08:00:00+08:00") == datetime(
        2026, 11, 29, tzinfo=UTC
    )
    assert adapter.validate_python("2026-11-29T00:00:00") == datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_utc_calendar_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="outside the years 1 to 9999"):
        adapter.validate_python(raw)
