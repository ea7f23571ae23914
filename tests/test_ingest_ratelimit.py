"""The per-device rate of stored rejections (review H4): per UTC minute of receipt, bounded
in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest import ratelimit
from ingest.ratelimit import RejectionLimiter

MINUTE = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_each_device_gets_its_rate_per_minute() -> None:
    limiter = RejectionLimiter(3)
    at = MINUTE + timedelta(seconds=10)
    assert [limiter.admit("p/a", at) for _ in range(5)] == [True, True, True, False, False]
    assert limiter.admit("p/b", at)  # another device has its own budget
    later = MINUTE + timedelta(seconds=59, microseconds=999_999)
    assert not limiter.admit("p/a", later)
    assert limiter.admit("p/a", MINUTE + timedelta(minutes=1))  # a new minute, a new budget


def test_a_zero_rate_stores_nothing() -> None:
    assert not RejectionLimiter(0).admit("p/a", MINUTE)


def test_memory_is_bounded_by_the_devices_counted_per_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ratelimit, "MAX_DEVICES", 2)
    limiter = RejectionLimiter(5)
    assert limiter.admit("p/a", MINUTE) and limiter.admit("p/b", MINUTE)
    assert not limiter.admit("p/c", MINUTE)  # a third device in the same minute: counted only
    assert limiter.admit("p/a", MINUTE)  # the known ones keep their budget
    assert limiter.admit("p/c", MINUTE + timedelta(minutes=1))  # forgotten with the minute


def test_a_device_has_a_byte_budget_of_stored_payload_per_minute() -> None:
    limiter = RejectionLimiter(100, bytes_per_minute=100_000)
    big = 64 * 1024
    # 64 KiB fits, a second 64 KiB would pass 100,000 bytes: counted only
    assert limiter.admit("p/a", MINUTE, big)
    assert not limiter.admit("p/a", MINUTE, big)
    # small rejections still fit in what is left: 100,000 - 65,536 = 34,464 bytes
    assert limiter.admit("p/a", MINUTE, 34_464)
    assert not limiter.admit("p/a", MINUTE, 1)
    assert limiter.admit("p/b", MINUTE, big)  # another device, its own budget
    assert limiter.admit("p/a", MINUTE + timedelta(minutes=1), big)
