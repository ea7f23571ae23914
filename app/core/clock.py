"""Times as integer microseconds since the Unix epoch (UTC): the ingestor's and the alarm
engine's representation, cheap to compare, bucket and encode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the Unix epoch."""
    return (moment - EPOCH) // MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)
