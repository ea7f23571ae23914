"""Webhook schemas."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.severity import Severity
from app.core.types import UtcDateTime

EventType = Annotated[
    str,
    Field(
        pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$",
        max_length=100,
        description="an event type (`alarm.raised`), a prefix (`alarm.*`) or `*` for all",
    ),
]
Url = Annotated[str, Field(min_length=8, max_length=2000, examples=["https://example.com/hook"])]

EXAMPLE: dict[str, Any] = {
    "id": "0b6f8f0e-3c1a-4a53-9a4e-5d0f6b8f2a10",
    "url": "https://oncall.example.com/parktwin",
    "event_types": ["alarm.*", "device.offline"],
    "min_severity": "major",
    "description": "on-call pager",
    "active": True,
    "created_at": "2026-11-28T08:00:00Z",
    "updated_at": "2026-11-28T08:00:00Z",
    "circuit": "closed",
    "circuit_open_until": None,
    "consecutive_failures": 0,
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://oncall.example.com/parktwin",
                    "event_types": ["alarm.*", "device.offline"],
                    "min_severity": "major",
                }
            ]
        },
    )

    url: Url
    event_types: list[EventType] = Field(min_length=1, max_length=50)
    min_severity: Severity | None = Field(
        default=None,
        description="only events at least this severe; events without a severity always pass",
    )
    description: str | None = Field(default=None, max_length=500)
    active: bool = True


class WebhookUpdate(BaseModel):
    """Fields to change; omitted ones are kept (`min_severity: null` clears the filter)."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=50)
    min_severity: Severity | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class WebhookRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    park_id: str
    url: str
    event_types: list[str]
    min_severity: Severity | None
    description: str | None
    active: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime
    circuit: Literal["closed", "open", "half_open"] = Field(
        default="closed",
        description="the circuit breaker: open, no attempt until `circuit_open_until`; "
        "half_open, one probe attempt at a time",
    )
    circuit_open_until: UtcDateTime | None = None
    consecutive_failures: int = Field(default=0, description="failed attempts in a row")


class WebhookCreated(WebhookRead):
    secret: str = Field(description="the signing secret (`whsec_...`), shown only here")


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    previous_valid_for_s: int = Field(
        default=0,
        ge=0,
        le=7 * 24 * 3600,
        description="keep signing with the old secret too for this many seconds (0: stop now)",
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="the new signing secret, shown only here")
    previous_secret_expires_at: UtcDateTime | None


class EventQueued(BaseModel):
    event_id: uuid.UUID
    status: Literal["pending"] = "pending"


class RedeliverAll(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: UtcDateTime | None = Field(
        default=None, description="only dead deliveries of events created at or after this"
    )


class Requeued(BaseModel):
    requeued: int


DeliveryStatus = Literal["pending", "delivered", "dead", "cancelled"]
Outcome = Literal["in_flight", "succeeded", "failed", "abandoned"]


class AttemptRead(BaseModel):
    """One delivery attempt of one event to this webhook."""

    id: int
    event_id: uuid.UUID = Field(description="also the `webhook-id` header sent")
    event_type: str
    attempt: int = Field(description="1 for the first attempt at this event, then 2, 3, ...")
    outcome: Outcome
    status_code: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str | None = Field(
        description="the class of the failure: timeout, dns_failed, connect_failed, tls_error, "
        "refused_url, refused_port, refused_address, protocol_error, internal_error, "
        "worker_stopped; null when the receiver answered"
    )
    response_body: str | None = Field(
        description="a failed answer's first 256 printable characters; null for a 2xx answer"
    )
    duration_ms: float | None
    started_at: UtcDateTime
    finished_at: UtcDateTime | None
    delivery_status: DeliveryStatus = Field(description="where this event's delivery stands now")
    next_attempt_at: UtcDateTime | None = Field(description="when pending: the next attempt")
