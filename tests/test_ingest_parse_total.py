"""The parser is total (review C1): every byte string gives readings or a Rejection with one of
the contract's reasons, never an exception and never the catch-all ``internal_error``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.parse import MAX_PAYLOAD_BYTES, Rejection, Telemetry, parse_telemetry

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
WEEK = timedelta(days=7)
TOPIC = "parks/p1/devices/m1/telemetry"
REASONS = {
    "malformed_json",
    "invalid_schema",
    "non_finite_value",
    "timestamp_out_of_range",
    "payload_too_large",
}

# the two payloads of the review (C1), which raised RecursionError and OverflowError
DEEP_NESTING = b"[" * 1100 + b"]" * 1100
HUGE_INTEGER = b'{"values":{"x":1' + b"0" * 400 + b"}}"


def parse(payload: bytes) -> Telemetry | Rejection:
    return parse_telemetry(TOPIC, payload, NOW, WEEK)


def rejected_for(payload: bytes) -> str:
    result = parse(payload)
    assert isinstance(result, Rejection), result
    assert result.reason in REASONS, result
    assert result.detail and len(result.detail) <= 300, result.detail
    assert (result.park_id, result.device_id) == ("p1", "m1")
    return result.reason


def test_the_reviews_deep_nesting_is_refused() -> None:
    assert rejected_for(DEEP_NESTING) == "invalid_schema"


def test_the_reviews_huge_integer_is_not_finite() -> None:
    assert rejected_for(HUGE_INTEGER) == "non_finite_value"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"values": {"x": 1, "x": 2}}', "invalid_schema"),
        (b'{"ts": %d, "ts": %d, "values": {"x": 1}}' % (NOW_MS, NOW_MS), "invalid_schema"),
        (b'{"values": {"x": 1}, "values": {"y": 1}}', "invalid_schema"),
        (b'{"values": {"x": 1, "\\u0078": 2}}', "invalid_schema"),  # the same key, escaped
        (b'[{"values": {"x": 1}}, {"values": {"y": 1, "y": 1}}]', "invalid_schema"),
        (b'{"ts": "2026-11-28T16:00:00+08:00", "ts": "x:y", "values": {"x": 1}}', "invalid_schema"),
        (b"\xef\xbb\xbf" + b'{"values": {"x": 1}}', "malformed_json"),  # a BOM
        (b'{"values": {"x\xff": 1}}', "malformed_json"),  # invalid UTF-8
        (b'{"values": {"\xed\xa0\x80": 1}}', "malformed_json"),  # an encoded surrogate
        (b'{"values": {"\\ud800": 1}}', "malformed_json"),  # a lone surrogate escape
        (b'{"values": {"x\x00": 1}}', "malformed_json"),  # a raw NUL
        (b'{"values": {"x\\u0000": 1}}', "invalid_schema"),  # an escaped NUL: not a name
        (b'{"values": {"x": NaN}}', "non_finite_value"),
        (b'{"values": {"x": -Infinity}}', "non_finite_value"),
        (b'{"values": {"x": -1' + b"0" * 400 + b"}}", "non_finite_value"),
        (b'{"values": {"x": 1e309}}', "non_finite_value"),
        (b'{"ts": 1' + b"0" * 400 + b', "values": {"x": 1}}', "non_finite_value"),
        (b'{"ts": 1e3, "values": {"x": 1}}', "invalid_schema"),
        (b'{"values": {"' + b"a" * 200_000 + b'": 1}}', "invalid_schema"),
        (b'{"ts": "' + b"9" * 200_000 + b'", "values": {"x": 1}}', "invalid_schema"),
        (b'{"values": {"x": 1}, "' + b"k" * 100_000 + b'": 1}', "invalid_schema"),
        (b'{"ts": "0001-01-01T00:00:00+01:00", "values": {"x": 1}}', "timestamp_out_of_range"),
        (b'{"ts": "9999-12-31T23:59:59-23:59", "values": {"x": 1}}', "timestamp_out_of_range"),
        (b'{"ts": -9223372036854775808, "values": {"x": 1}}', "timestamp_out_of_range"),
        (b"[" * 1024 + b"]" * 1024, "invalid_schema"),
        (b'{"values": ' + b"[" * 2000, "invalid_schema"),
        (b'{"values": {"x": 1}}' + b" " * (MAX_PAYLOAD_BYTES - 19), "payload_too_large"),
    ],
)
def test_json_oddities_have_a_contract_reason(payload: bytes, expected: str) -> None:
    assert rejected_for(payload) == expected


def test_a_huge_ordinary_integer_is_stored_as_a_double() -> None:
    result = parse(b'{"values": {"x": 1' + b"0" * 30 + b"}}")
    assert isinstance(result, Telemetry) and result.readings[0][2] == 1e30


def test_escaped_but_distinct_keys_are_accepted() -> None:
    result = parse(b'{"ts": "2026-11-28T16:00:00+08\\u003a00", "values": {"\\u0078": 1, "y": 2}}')
    assert isinstance(result, Telemetry)
    assert [(m, v) for _t, m, v in result.readings] == [("x", 1.0), ("y", 2.0)]


# -- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: 400-digit integers included
    | st.floats()  # NaN and the infinities included (json.dumps writes them as literals)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)
metric_names = st.sampled_from(["x", "y", "power_kw", "ts", "values", "a.b-c_d"])
near_valid = st.recursive(
    st.fixed_dictionaries(
        {"values": st.dictionaries(metric_names, json_values, max_size=4)},
        optional={"ts": st.one_of(st.integers(), st.text(max_size=30), json_values)},
    ),
    lambda children: st.lists(children, max_size=4),
    max_leaves=8,
)


def _dump(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", errors="surrogatepass")


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(json_values)
def test_arbitrary_json_values_never_raise(value: object) -> None:
    result = parse(_dump(value))
    assert isinstance(result, Telemetry) or result.reason in REASONS, result


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(near_valid)
def test_near_valid_documents_never_raise(value: object) -> None:
    result = parse(_dump(value))
    assert isinstance(result, Telemetry) or result.reason in REASONS, result


@settings(max_examples=300)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    result = parse(payload)
    assert isinstance(result, Telemetry) or result.reason in REASONS, result


@given(st.integers(1, 3000), st.sampled_from([b"[", b'{"a":', b'{"values":{"x":[']))
def test_any_depth_of_nesting_never_raises(depth: int, opener: bytes) -> None:
    closer = {b"[": b"]", b'{"a":': b"}", b'{"values":{"x":[': b"]}}"}[opener]
    result = parse(opener * depth + b"1" + closer * depth)
    assert isinstance(result, Rejection) and result.reason in REASONS, result


@given(
    st.dictionaries(metric_names, st.floats(allow_nan=False, allow_infinity=False), min_size=1),
    st.data(),
)
def test_a_repeated_key_is_always_found(values: dict[str, float], data: st.DataObject) -> None:
    body = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in values.items())
    repeated = data.draw(st.sampled_from(sorted(values)))
    doc = f'{{"ts": {NOW_MS}, "values": {{{body}, "{repeated}": 0}}}}'.encode()
    assert rejected_for(doc) == "invalid_schema"
