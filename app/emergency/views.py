"""How an incident shows itself to the API and the webhook events: the record with its 险情 /
事故 fields and clocks, and its reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

from app.emergency import accident, calc
from app.emergency.schemas import ReportRead

CATEGORY_ZH = {"hazard": "险情", "accident": "生产安全事故"}


def _overdue(due: datetime | None, done: bool, now: datetime) -> bool:
    return due is not None and not done and now > due


def _regulatory(row: RowMapping, now: datetime) -> dict[str, Any]:
    """The 险情/事故 fields: casualties, grade and the regulator's clocks."""
    due, grade = row["report_due_at"], row["grade"]
    left = None if row["reported_at"] or due is None else round(calc.seconds_left(due, now), 1)
    return {
        "report_due_at": due,
        "report_seconds_left": left,
        "reported_at": row["reported_at"],
        "occurred_at": row["occurred_at"],
        "learned_at": row["learned_at"],
        "category": row["category"],
        "category_zh": CATEGORY_ZH[row["category"]],
        **{k: row[k] for k in ("deaths", "serious_injuries", "minor_injuries", "missing")},
        "direct_loss_yuan": float(row["direct_loss_yuan"]),
        "grade": grade,
        "grade_zh": accident.GRADE_NAMES[grade] if grade else None,
        "accident_known_at": row["accident_known_at"],
        "report_overdue": _overdue(due, row["reported_at"] is not None, now),
        "supplement_due_at": row["supplement_due_at"],
        "supplement_overdue": _overdue(row["supplement_due_at"], False, now),
        "response_due_at": row["response_due_at"],
        "response_overdue": _overdue(row["response_due_at"], row["status"] != "reported", now),
        "enterprise_id": row["enterprise_id"],
        "chemical": row["chemical"],
        "spill_size": row["spill_size"],
    }


def document(row: RowMapping, alarm_ids: list[str], now: datetime | None = None) -> dict[str, Any]:
    """The incident as the API and the webhook events show it."""
    now = now or datetime.now(UTC)
    return {
        "id": str(row["id"]),
        "park_id": row["park_id"],
        "type": row["type"],
        "status": row["status"],
        "level": row["level"],
        "drill": row["drill"],
        "source": row["source"],
        "location": {"lon": row["lon"], "lat": row["lat"]},
        "description": row["description"],
        "opened_at": row["opened_at"],
        "opened_by": row["opened_by"],
        "responding_at": row["responding_at"],
        "contained_at": row["contained_at"],
        "closed_at": row["closed_at"],
        "forced_close": row["forced_close"],
        "alarm_ids": alarm_ids,
        **_regulatory(row, now),
    }


REPORT_KINDS_ZH = {"first": "首报", "follow_up": "续报", "supplement": "补报"}


def report_read(row: RowMapping) -> ReportRead:
    return ReportRead.model_validate({**dict(row), "kind_zh": REPORT_KINDS_ZH[row["kind"]]})
