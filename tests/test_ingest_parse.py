"""The pure parser: contract rules, one reason per failure, and properties over generated input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.clock import to_us
from ingest.parse import (
    MAX_PAYLOAD_BYTES,
    Rejection,
    Status,
    Telemetry,
    parse_status,
    parse_telemetry,
    split_topic,
)

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
NOW_US = to_us(NOW)
SECOND_US = 1_000_000
WEEK = timedelta(days=7)
TOPIC = "parks/p1/devices/m1/telemetry"


def parse(payload: bytes | object, topic: str = TOPIC) -> Telemetry | Rejection:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return parse_telemetry(topic, data, NOW, WEEK)


def reason(payload: bytes | object, topic: str = TOPIC) -> str:
    result = parse(payload, topic)
    assert isinstance(result, Rejection), result
    assert result.detail
    return result.reason


def test_single_reading_with_epoch_ms() -> None:
    result = parse({"ts": NOW_MS, "values": {"power_kw": 12.5, "energy_kwh": 10234.25}})
    assert result == Telemetry(
        "p1", "m1", [(NOW_US, "power_kw", 12.5), (NOW_US, "energy_kwh", 10234.25)]
    )


def test_array_with_rfc3339_offsets_and_booleans() -> None:
    result = parse(
        [
            {"ts": "2026-11-28T16:00:00+08:00", "values": {"gas_lel_pct": 3.1}},
            {"ts": NOW_MS + 5000, "values": {"smoke": True, "alarm": False}},
        ]
    )
    assert isinstance(result, Telemetry)
    assert result.readings == [
        (NOW_US, "gas_lel_pct", 3.1),
        (NOW_US + 5 * SECOND_US, "smoke", 1.0),
        (NOW_US + 5 * SECOND_US, "alarm", 0.0),
    ]


def test_missing_ts_means_time_of_receipt() -> None:
    result = parse({"values": {"power_kw": 1}})
    assert isinstance(result, Telemetry) and result.readings == [(NOW_US, "power_kw", 1.0)]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"", "malformed_json"),
        (b'{"values": {"x": NaN}}', "non_finite_value"),
        (b'{"values": {"x": Infinity}}', "non_finite_value"),
        (b'{"values": {"x": -1e400}}', "non_finite_value"),
        (b"42", "invalid_schema"),
        (b"[]", "invalid_schema"),
        (b"[1]", "invalid_schema"),
        (b'{"values": []}', "invalid_schema"),
        (b'{"values": {}}', "invalid_schema"),
        (b"{}", "invalid_schema"),
        (b"[{}]", "invalid_schema"),
        (b'{"ts": 1, "x": 1}', "invalid_schema"),
        (b'{"values": {"x": null}}', "invalid_schema"),
        (b'{"values": {"bad name": 1}}', "invalid_schema"),
        (b'{"value": {"x": 1}}', "invalid_schema"),
        (b'{"ts": true, "values": {"x": 1}}', "invalid_schema"),
        (b'{"ts": 1.5, "values": {"x": 1}}', "invalid_schema"),
        (b'{"ts": "yesterday", "values": {"x": 1}}', "invalid_schema"),
        (b'{"ts": "2026-11-28T08:00:00", "values": {"x": 1}}', "invalid_schema"),
        (b'{"ts": 0, "values": {"x": 1}}', "timestamp_out_of_range"),
        (b'{"ts": 99999999999999999, "values": {"x": 1}}', "timestamp_out_of_range"),
    ],
)
def test_each_broken_rule_has_its_reason(payload: bytes, expected: str) -> None:
    assert reason(payload) == expected


def test_window_edges() -> None:
    assert isinstance(
        parse({"ts": NOW_MS - int(WEEK.total_seconds() * 1000), "values": {"x": 1}}), Telemetry
    )
    assert (
        reason({"ts": NOW_MS - int(WEEK.total_seconds() * 1000) - 1, "values": {"x": 1}})
        == "timestamp_out_of_range"
    )
    assert isinstance(parse({"ts": NOW_MS + 300_000, "values": {"x": 1}}), Telemetry)
    assert reason({"ts": NOW_MS + 300_001, "values": {"x": 1}}) == "timestamp_out_of_range"


def test_size_and_count_limits() -> None:
    assert reason(b" " * (MAX_PAYLOAD_BYTES + 1)) == "payload_too_large"
    assert isinstance(parse([{"values": {"x": i}} for i in range(1000)]), Telemetry)
    assert reason([{"values": {"x": i}} for i in range(1001)]) == "invalid_schema"


def test_a_rejection_keeps_park_and_device_from_the_topic() -> None:
    result = parse(b"{")
    assert isinstance(result, Rejection) and (result.park_id, result.device_id) == ("p1", "m1")


@pytest.mark.parametrize(
    "topic",
    [
        "parks/p1/devices/m1",
        "parks/p 1/devices/m1/telemetry",
        "x/p1/devices/m1/telemetry",
        f"parks/{'a' * 65}/devices/m1/telemetry",
    ],
)
def test_bad_topics(topic: str) -> None:
    assert reason({"values": {"x": 1}}, topic) == "invalid_topic"


def test_status_payloads() -> None:
    assert parse_status("parks/p1/devices/m1/status", b"offline") == Status("p1", "m1", False)
    assert parse_status("parks/p1/devices/m1/status", b"online\n") == Status("p1", "m1", True)
    bad = parse_status("parks/p1/devices/m1/status", b"sleeping")
    assert isinstance(bad, Rejection) and bad.reason == "invalid_status"


identifiers = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
values = st.one_of(
    st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False)
)
offsets_ms = st.integers(-int(WEEK.total_seconds() * 1000), 300_000)


@given(
    st.lists(
        st.tuples(offsets_ms, st.dictionaries(identifiers, values, min_size=1, max_size=5)),
        min_size=1,
        max_size=20,
    )
)
def test_every_valid_document_round_trips(readings: list[tuple[int, dict[str, object]]]) -> None:
    doc = [{"ts": NOW_MS + offset, "values": vals} for offset, vals in readings]
    result = parse(doc)
    assert isinstance(result, Telemetry)
    expected = [
        (NOW_US + offset * 1000, name, float(v))
        for offset, vals in readings
        for name, v in vals.items()
    ]
    assert result.readings == expected
    assert all(math.isfinite(v) for _t, _n, v in result.readings)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    result = parse(payload)
    assert isinstance(result, Telemetry | Rejection)


@given(identifiers, identifiers)
def test_topics_split_back_into_their_parts(park: str, device: str) -> None:
    assert split_topic(f"parks/{park}/devices/{device}/telemetry") == (park, device, "telemetry")
