"""Request and answer bodies of ``/api/v1/parks/{park_id}/notify``."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.severity import Severity
from app.core.types import UtcDateTime

Kind = Literal["dingtalk", "wecom", "feishu", "email", "webhook"]
EMAIL_RE = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}$")
MOBILE_RE = re.compile(r"^\+?[0-9]{5,20}$")
EVENT_TYPE_RE = r"^(\*|[a-z_]{1,40}(\.[a-z_*]{1,40})?)$"


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="e.g. 安全值班群")
    kind: Kind = Field(description="dingtalk, wecom, feishu, email or webhook")
    url: str | None = Field(
        default=None,
        max_length=2048,
        description="the robot's webhook URL (DingTalk `...robot/send?access_token=`, WeCom "
        "`...webhook/send?key=`, Feishu `.../bot/v2/hook/<id>`) or the webhook receiver; none "
        "for email",
    )
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="DingTalk 加签 secret (SEC...), Feishu 签名校验 secret, or a webhook's "
        "`whsec_` secret; write-only",
    )
    recipients: list[str] = Field(default=[], max_length=50, description="email addresses")
    language: Literal["zh", "en"] = "zh"
    rate_per_min: int | None = Field(
        default=None, ge=1, le=6000, description="default: the vendor's limit (DingTalk 20)"
    )

    @field_validator("recipients")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for address in value:
            if not EMAIL_RE.match(address):
                raise ValueError(f"not an email address: {address[:100]!r}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> ChannelCreate:
        if (self.kind == "email") == (self.url is not None):
            raise ValueError("url: required for every kind but email, and not allowed there")
        if self.kind == "email" and not self.recipients:
            raise ValueError("recipients: an email channel needs at least one address")
        if self.kind == "webhook" and not (self.secret or "").startswith("whsec_"):
            raise ValueError("secret: a webhook channel needs a whsec_ secret")
        return self


class ChannelUpdate(BaseModel):
    """A channel's fields to change (``PATCH``); the rest stay. The kind cannot change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = Field(default=None, max_length=2048, description="a robot's new URL")
    secret: str | None = Field(
        default=None, min_length=1, max_length=200, description="null removes it; write-only"
    )
    recipients: list[str] | None = Field(default=None, max_length=50)
    language: Literal["zh", "en"] | None = None
    rate_per_min: int | None = Field(default=None, ge=1, le=6000)
    active: bool | None = Field(default=None, description="false: pause the channel")


class Resend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: UtcDateTime | None = Field(
        default=None, description="only dead messages created at or after this"
    )


class ChannelRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: Kind
    url: str | None = Field(description="without its query (the robot's token)")
    has_secret: bool
    recipients: list[str]
    language: str
    rate_per_min: int
    active: bool
    consecutive_failures: int
    circuit_open_until: datetime | None
    created_at: datetime


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="shown in messages and the trail")
    mobile: str | None = Field(default=None, description="DingTalk @ by mobile")
    email: str | None = Field(default=None, max_length=255)
    wecom_userid: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@-]{1,64}$")

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        if value is not None and not MOBILE_RE.match(value):
            raise ValueError("digits only, optionally with a leading +")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_RE.match(value):
            raise ValueError("not an email address")
        return value


class PersonRead(PersonCreate):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID


class RouteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: uuid.UUID
    event_types: list[str] = Field(min_length=1, max_length=20, description="`*`, `alarm.*`, ...")
    min_severity: Severity | None = None
    building_id: str | None = Field(default=None, max_length=64)
    device_type: str | None = Field(default=None, max_length=64)
    person_ids: list[uuid.UUID] = Field(default=[], max_length=20, description="people to @")
    quiet_start: time | None = Field(default=None, description="park-local, e.g. 22:00")
    quiet_end: time | None = Field(default=None, description="park-local, e.g. 07:00")

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(EVENT_TYPE_RE, item):
                raise ValueError(f"not an event type or pattern: {item[:60]!r}")
        return value

    @model_validator(mode="after")
    def _quiet(self) -> RouteCreate:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet_start and quiet_end: both or neither")
        return self


class RouteRead(RouteCreate):
    model_config = ConfigDict(extra="ignore")

    id: int


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    channel_id: uuid.UUID
    wait_s: float = Field(ge=30, le=86400, description="wait for this person's acknowledgement")


class EscalationChain(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[EscalationStep] = Field(max_length=20, description="in order; empty: none")


class MessageRead(BaseModel):
    id: int
    channel_id: uuid.UUID
    event_id: uuid.UUID | None
    alarm_id: uuid.UUID | None
    kind: str
    type: str
    severity: str | None
    status: str
    attempts: int
    failures: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
