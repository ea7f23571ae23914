"""Parse and validate one MQTT message (../shared/CONTRACT.md section 2). Pure: no I/O.

``parse_telemetry`` turns a topic and payload into a ``Telemetry`` or a ``Rejection`` with a
machine-readable reason. Checks that need the registry (unknown park, device or metric) come
later, in ``ingest.registry``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from app.core.clock import from_us, to_us

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS = 1000
MAX_FUTURE = timedelta(minutes=5)
_MAX_FUTURE_US = MAX_FUTURE // timedelta(microseconds=1)
IDENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")

US_PER_MS = 1000
# A reading: (time as integer microseconds since the Unix epoch, UTC; metric; value). Integers
# rather than datetimes: cheaper to check, deduplicate, bucket and encode for COPY.
Reading = tuple[int, str, float]
_ALLOWED_KEYS = frozenset(("ts", "values"))


class Window(NamedTuple):
    """The accepted time range for one message, in microseconds, and its time of receipt.
    Made once per message: a named tuple and the offsets in integers keep that cheap (a frozen
    dataclass and two timedelta divisions cost 3 µs a message, measured, 6% of the ingest
    worker's CPU per single-reading message)."""

    received_us: int
    earliest_us: int
    latest_us: int

    @classmethod
    def around(cls, received_at: datetime, max_age: timedelta) -> Window:
        received = to_us(received_at)
        return cls(received, received - _micros(max_age), received + _MAX_FUTURE_US)


@lru_cache(maxsize=16)
def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Telemetry:
    park_id: str
    device_id: str
    readings: list[Reading]


@dataclass(frozen=True, slots=True)
class Status:
    park_id: str
    device_id: str
    online: bool


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str
    park_id: str | None = None
    device_id: str | None = None


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def split_topic(topic: str) -> tuple[str, str, str] | None:
    """``parks/{park}/devices/{device}/{kind}`` -> (park, device, kind), else None."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "parks" or parts[2] != "devices":
        return None
    if not (IDENT.fullmatch(parts[1]) and IDENT.fullmatch(parts[3])):
        return None
    return parts[1], parts[3], parts[4]


def _load(payload: bytes) -> Any:
    """orjson alone: it refuses what the contract refuses without recursing in Python (nesting
    deeper than 1024, invalid UTF-8, a BOM, lone surrogates, control characters in strings) and
    says why. The stdlib ``json`` fallback that once told NaN/Infinity/1e999 apart recursed on
    deep nesting (``RecursionError``) and made 400-digit integers (``OverflowError`` later);
    reading orjson's message and position gives the same precise reason without it."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise _Invalid(*_classify(payload, exc)) from None


_NON_FINITE_TOKENS = (b"NaN", b"Infinity")


def _classify(payload: bytes, exc: orjson.JSONDecodeError) -> tuple[str, str]:
    """The reason orjson refused ``payload``: a number no double can hold (1e999, a 400-digit
    integer) and the NaN/Infinity literals are ``non_finite_value``; nesting deeper than orjson's
    1024 levels is ``invalid_schema`` (a valid message is 3 deep); the rest is malformed."""
    message = exc.msg
    if message.startswith("number is infinity"):
        return "non_finite_value", f"a number does not fit a finite double ({message})"
    if message.startswith("depth limit exceeded"):
        return "invalid_schema", "nested deeper than 1024 levels (a message needs 3)"
    if message.startswith(("unexpected character", "no digit after sign")):
        # exc.pos counts characters: the text up to it decodes, as orjson got that far
        at = payload.decode("utf-8", errors="replace")[exc.pos : exc.pos + 8].encode()
        if at.startswith(_NON_FINITE_TOKENS):
            return "non_finite_value", f"{at.decode()[:8]!r} is not a finite number"
    return "malformed_json", f"not valid JSON: {str(exc)[:200]}"


def _timestamp(raw: Any, window: Window) -> int:
    if raw is None:
        return window.received_us
    if isinstance(raw, int) and not isinstance(raw, bool):
        ts = raw * US_PER_MS
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise _Invalid("invalid_schema", f"ts {raw[:40]!r} is not RFC 3339") from None
        if moment.tzinfo is None:
            raise _Invalid("invalid_schema", f"ts {raw[:40]!r} has no UTC offset")
        ts = to_us(moment)
    else:
        raise _Invalid("invalid_schema", "ts must be epoch milliseconds or an RFC 3339 string")
    if not window.earliest_us <= ts <= window.latest_us:
        raise _Invalid(
            "timestamp_out_of_range",
            f"ts {_describe(ts)} is outside [{from_us(window.earliest_us).isoformat()}, "
            f"{from_us(window.latest_us).isoformat()}]",
        )
    return ts


def _describe(us: int) -> str:
    try:
        return from_us(us).isoformat()
    except OverflowError:
        return f"{us // US_PER_MS} ms"


def _value(metric: str, raw: Any) -> float:
    if raw is True or raw is False:
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # an integer past any double (orjson refuses them; be total)
            raise _Invalid("non_finite_value", f"{metric} does not fit a double") from None
        if not math.isfinite(value):
            raise _Invalid("non_finite_value", f"{metric} is {raw}")
        return value
    raise _Invalid("invalid_schema", f"{metric} must be a number or a boolean")


_good_metric_names: set[str] = set()


def _check_metric_name(metric: str) -> None:
    if metric in _good_metric_names:
        return
    if not IDENT.fullmatch(metric):
        raise _Invalid("invalid_schema", f"metric name {metric[:70]!r} is not an identifier")
    if len(_good_metric_names) < 10_000:
        _good_metric_names.add(metric)


def _reading(item: Any, window: Window, out: list[Reading]) -> None:
    if type(item) is not dict:
        raise _Invalid("invalid_schema", "a reading must be an object")
    values = item.get("values")
    raw_ts = item.get("ts")
    if len(item) != 1 + (raw_ts is not None or "ts" in item) and item.keys() - _ALLOWED_KEYS:
        extra = sorted(item.keys() - _ALLOWED_KEYS)[0]
        raise _Invalid("invalid_schema", f"unexpected key {extra[:70]!r} in a reading")
    if type(values) is not dict or not values:
        raise _Invalid("invalid_schema", "values must be a non-empty object")
    if type(raw_ts) is int and window.earliest_us <= raw_ts * US_PER_MS <= window.latest_us:
        ts = raw_ts * US_PER_MS  # the common case, checked inline
    else:
        ts = _timestamp(raw_ts, window)
    append, good, isfinite = out.append, _good_metric_names, math.isfinite
    for metric, raw in values.items():  # the hot loop: plain floats take the short path
        if metric not in good:
            _check_metric_name(metric)
        if type(raw) is float and isfinite(raw):
            append((ts, metric, raw))
        else:
            append((ts, metric, _value(metric, raw)))


def parse_readings(payload: bytes, window: Window) -> list[Reading]:
    """The readings of a telemetry payload; raises ``_Invalid`` (via parse_telemetry)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise _Invalid("payload_too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    doc = _load(payload)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise _Invalid("invalid_schema", "an empty array holds no reading")
    if len(items) > MAX_READINGS:
        raise _Invalid("invalid_schema", f"{len(items)} readings > {MAX_READINGS} in one message")
    readings: list[Reading] = []
    for item in items:
        _reading(item, window, readings)
    _check_unique_keys(payload, items)
    return readings


def _check_unique_keys(payload: bytes, items: list[dict[str, Any]]) -> None:
    """Refuse duplicate keys (``invalid_schema``): parsers disagree on which value wins (orjson
    keeps the last, others the first), so the message's meaning is ambiguous. orjson cannot
    report them, so count: in an accepted document every string is a colon-free key or a
    ``ts``, so without escapes each raw ``:`` is a member's separator or inside a ``ts``, and
    a duplicate adds a separator the parsed objects lack. With a backslash (an escape could
    hide a colon) the exact check re-reads the document, shallow by now, with the stdlib."""
    members = 0
    ts_colons = 0
    for item in items:
        members += len(item) + len(item["values"])
        ts = item.get("ts")
        if type(ts) is str:
            ts_colons += ts.count(":")
    if b"\\" not in payload:
        if payload.count(b":") != members + ts_colons:
            raise _Invalid("invalid_schema", "an object repeats a key")
        return
    json.loads(payload, object_pairs_hook=_unique_pairs)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Invalid("invalid_schema", "an object repeats a key")
    return found


def parse_telemetry(
    topic: str, payload: bytes, received_at: datetime, max_age: timedelta
) -> Telemetry | Rejection:
    where = split_topic(topic)
    if where is None or where[2] != "telemetry":
        return Rejection(
            "invalid_topic", f"{topic[:200]!r} is not parks/{{park}}/devices/{{device}}/telemetry"
        )
    park_id, device_id, _ = where
    try:
        readings = parse_readings(payload, Window.around(received_at, max_age))
    except _Invalid as exc:
        return Rejection(exc.reason, exc.detail, park_id, device_id)
    except Exception as exc:  # total: no payload may take the worker down (review C1)
        logger.exception("parser failed on %s; payload %.200r", topic, payload)
        return Rejection("internal_error", f"the parser failed: {type(exc).__name__}", *where[:2])
    return Telemetry(park_id, device_id, readings)


def parse_status(topic: str, payload: bytes) -> Status | Rejection:
    where = split_topic(topic)
    if where is None or where[2] != "status":
        return Rejection(
            "invalid_topic", f"{topic[:200]!r} is not parks/{{park}}/devices/{{device}}/status"
        )
    park_id, device_id, _ = where
    text = payload.strip().lower()
    if text not in (b"online", b"offline"):
        return Rejection(
            "invalid_status", "status payload must be 'online' or 'offline'", park_id, device_id
        )
    return Status(park_id, device_id, text == b"online")
