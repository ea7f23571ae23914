"""Schemas of the enterprise report workflow (app/economy/flow.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import UtcDateTime
from app.economy.schemas import REPORT_EXAMPLE, Month, ReportWrite, Revision

State = Literal["none", "draft", "submitted", "returned", "resubmitted", "accepted"]
Explanation = Annotated[str, Field(min_length=1, max_length=2000)]
Explanations = Annotated[
    dict[str, Explanation],
    Field(
        default_factory=dict,
        max_length=10,
        description="field → why it moved so much (说明), for each flagged field",
    ),
]
Comment = Annotated[str, Field(min_length=1, max_length=4000, description="the park's comment")]


class SubmissionWrite(ReportWrite):
    """The enterprise's figures of the month (as the park's report, in 10⁴ yuan; people for
    ``employees``), with explanations of the figures that jumped."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {**REPORT_EXAMPLE, "explanations": {"revenue": "新产线10月投产"}}
        },
    )

    explanations: Explanations


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    explanations: Explanations


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Comment | None = None


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Comment


class Comparison(BaseModel):
    month: Month
    value: float | None = Field(description="the accepted figure of that month (null: none)")
    ratio: float | None = Field(description="this month's figure / that month's, when both ≠ 0")
    flagged: bool
    reason: str = Field(
        description="ok, no_base (nothing accepted to compare with), jump, drop, from_zero, "
        "to_zero, sign_change"
    )


class Flag(BaseModel):
    """A figure that moved beyond ``PARKTWIN_ECONOMY_REPORT_JUMP_RATIO`` against the previous
    month or the same month a year before, with both comparisons."""

    field: str
    value: float
    previous_month: Comparison
    last_year: Comparison
    explanation: str | None


class SubmissionRead(BaseModel):
    enterprise_id: str
    month: Month
    state: State
    figures: dict[str, Any] | None
    explanations: dict[str, str]
    flags: list[Flag] = Field(description="the figures that need an explanation to be submitted")
    comment: str | None = Field(description="the park's last comment (returned, reopened)")
    deadline_at: UtcDateTime
    created_at: UtcDateTime | None = None
    created_by: str | None = None
    updated_at: UtcDateTime | None = None
    updated_by: str | None = None
    submitted_at: UtcDateTime | None = None
    submitted_by: str | None = None
    reviewed_at: UtcDateTime | None = None
    reviewed_by: str | None = None


class SubmissionFilters(BaseModel):
    state: State | None = None
    month: Month | None = None


class TrailEvent(BaseModel):
    id: int
    action: Literal["save", "submit", "return", "accept", "reopen"]
    from_state: State | None
    to_state: State
    figures: dict[str, Any]
    explanations: dict[str, str]
    comment: str | None
    by_key: str | None = Field(description="the API key's id")
    by_role: str | None
    at: UtcDateTime


class Trail(BaseModel):
    """Who did what when to the enterprise's report of the month, oldest first, and the
    field revisions of the figures that count (the park's PUT and imports, and acceptances)."""

    enterprise_id: str
    month: Month
    state: State
    events: list[TrailEvent]
    revisions: list[Revision]


class Overdue(BaseModel):
    enterprise_id: str
    name: str
    month: Month
    state: State = Field(description="none, draft or returned: not (re)submitted")
    comment: str | None
    updated_at: UtcDateTime | None
    deadline_at: UtcDateTime
