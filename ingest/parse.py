"""Parse and validate one MQTT message (../shared/CONTRACT.md section 2). Pure: no I/O.

``parse_telemetry`` turns a topic and payload into a ``Telemetry`` or a ``Rejection`` with a
machine-readable reason. Checks that need the registry (unknown park, device or metric) come
later, in ``ingest.registry``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS = 1000
MAX_FUTURE = timedelta(minutes=5)
IDENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Reading = tuple[datetime, str, float]


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
    """orjson first; on failure, the stdlib tells NaN/Infinity/1e999 (non-finite) apart from
    truly malformed JSON, so the reason is precise."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise _Invalid("malformed_json", f"not valid JSON: {exc}") from None


def _timestamp(raw: Any, received_at: datetime, max_age: timedelta) -> datetime:
    if raw is None:
        return received_at
    if isinstance(raw, int) and not isinstance(raw, bool):
        try:
            ts = EPOCH + timedelta(milliseconds=raw)
        except OverflowError:
            raise _Invalid("timestamp_out_of_range", f"ts {raw} ms is not a usable time") from None
    elif isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            raise _Invalid("invalid_schema", f"ts {raw[:40]!r} is not RFC 3339") from None
        if ts.tzinfo is None:
            raise _Invalid("invalid_schema", f"ts {raw[:40]!r} has no UTC offset")
    else:
        raise _Invalid("invalid_schema", "ts must be epoch milliseconds or an RFC 3339 string")
    if not (received_at - max_age <= ts <= received_at + MAX_FUTURE):
        raise _Invalid(
            "timestamp_out_of_range",
            f"ts {ts.isoformat()} is outside [{(received_at - max_age).isoformat()}, "
            f"{(received_at + MAX_FUTURE).isoformat()}]",
        )
    return ts


def _value(metric: str, raw: Any) -> float:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        value = float(raw)
        if not math.isfinite(value):
            raise _Invalid("non_finite_value", f"{metric} is {raw}")
        return value
    raise _Invalid("invalid_schema", f"{metric} must be a number or a boolean")


def _reading(item: Any, received_at: datetime, max_age: timedelta) -> list[Reading]:
    if not isinstance(item, dict):
        raise _Invalid("invalid_schema", "a reading must be an object")
    extra = set(item) - {"ts", "values"}
    if extra:
        raise _Invalid("invalid_schema", f"unexpected key {sorted(extra)[0]!r} in a reading")
    values = item.get("values")
    if not isinstance(values, dict) or not values:
        raise _Invalid("invalid_schema", "values must be a non-empty object")
    ts = _timestamp(item.get("ts"), received_at, max_age)
    out: list[Reading] = []
    for metric, raw in values.items():
        if not IDENT.fullmatch(metric):
            raise _Invalid("invalid_schema", f"metric name {metric[:70]!r} is not an identifier")
        out.append((ts, metric, _value(metric, raw)))
    return out


def parse_readings(payload: bytes, received_at: datetime, max_age: timedelta) -> list[Reading]:
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
        readings.extend(_reading(item, received_at, max_age))
    return readings


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
        readings = parse_readings(payload, received_at, max_age)
    except _Invalid as exc:
        return Rejection(exc.reason, exc.detail, park_id, device_id)
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
