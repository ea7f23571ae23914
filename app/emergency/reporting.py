"""险情 and 事故: casualties and loss on an incident, its grade, and the reports to the
authorities (首报, 续报, 补报) with their clocks (rules: ``app.emergency.accident``).

- Casualties or a direct loss turn a 险情 into a 生产安全事故: its grade is set (Art. 3) and the
  regulator's clock starts from when the unit learned of the accident (Art. 9). Figures
  corrected back to zero before any report make it a 险情 again (the clock is withdrawn).
- After the first report, a change in casualties within the type's window from the
  accident's occurrence (30 days, 7 for fire and road traffic: Art. 13) owes a 补报, due within
  the type's ``report_deadline_s`` of the change (the 条例 says "及时": the hour is a park
  setting). A change after the window is recorded without one.
- Every change and report is on the timeline; each report keeps what it said.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound, Unprocessable
from app.emergency import accident, repository
from app.emergency import config_repository as config
from app.emergency.accident import Casualties
from app.emergency.schemas import CasualtiesIn, IncidentDetail, ReportIn, ReportRead
from app.emergency.service import CLOCK_SKEW, announce, get
from app.emergency.views import REPORT_KINDS_ZH, report_read
from app.parks.deps import ParkContext


def _figures(c: Casualties) -> dict[str, Any]:
    """The figures as columns take them."""
    return {
        "deaths": c.deaths,
        "serious_injuries": c.serious_injuries,
        "minor_injuries": c.minor_injuries,
        "missing": c.missing,
        "direct_loss_yuan": c.direct_loss_yuan,
    }


def _json_figures(c: Casualties) -> dict[str, Any]:
    """The figures as the timeline and reports keep them (JSON: the loss as a number)."""
    return {**_figures(c), "direct_loss_yuan": float(c.direct_loss_yuan)}


def _current(row: RowMapping) -> Casualties:
    return Casualties(
        row["deaths"],
        row["serious_injuries"],
        row["minor_injuries"],
        row["missing"],
        Decimal(row["direct_loss_yuan"]),
    )


def _accident_changes(
    row: RowMapping, rule: RowMapping, new: Casualties, known: datetime
) -> tuple[dict[str, Any], str | None]:
    """The columns to set for an accident, and the 补报 outcome (None, due, outside_window)."""
    found = accident.grade(new)
    assert found is not None
    changes: dict[str, Any] = {"category": "accident", "grade": found.id}
    if row["category"] == "hazard":
        due = accident.report_due(row["learned_at"], known, rule["report_deadline_s"])
        return changes | {
            "accident_known_at": max(row["learned_at"], known),
            "report_due_at": due,
            "report_warn_at": due - timedelta(seconds=rule["report_warn_s"]),
            "report_due_sent_at": None,
        }, None
    if row["reported_at"] is None or new.people() == _current(row).people():
        return changes, None
    days = int(rule["supplement_window_days"])
    if not accident.within_supplement_window(row["occurred_at"], known, days):
        return changes, "outside_window"
    due = known + timedelta(seconds=rule["report_deadline_s"])
    return changes | {"supplement_due_at": due, "supplement_due_sent_at": None}, "due"


def _hazard_changes(row: RowMapping) -> dict[str, Any]:
    """Back to a 险情: the regulator's clock is withdrawn unless a report was already made."""
    changes: dict[str, Any] = {"category": "hazard", "grade": None, "supplement_due_at": None}
    if row["reported_at"] is None:
        changes |= {"report_due_at": None, "report_warn_at": None, "accident_known_at": None}
    return changes


async def apply_casualties(
    session: AsyncSession, *, row: RowMapping, rule: RowMapping, data: CasualtiesIn, actor: str
) -> RowMapping:
    """Record the figures (every change on the timeline) and what follows from them."""
    now = datetime.now(UTC)
    known = data.known_at or now
    if known > now + CLOCK_SKEW:
        raise Unprocessable("known_at: must not be in the future")
    old = _current(row)
    new = Casualties(
        data.deaths,
        data.serious_injuries,
        data.minor_injuries,
        data.missing,
        data.direct_loss_yuan,
    )
    if new == old:
        return row
    changes = _figures(new)
    supplement = None
    if new.is_accident():
        more, supplement = _accident_changes(row, rule, new, known)
        changes |= more
    else:
        changes |= _hazard_changes(row)
    detail = {
        "from": _json_figures(old),
        "to": _json_figures(new),
        "known_at": known,
        "category": changes["category"],
        "grade": changes["grade"],
        "supplement": supplement,
        "comment": data.comment,
    }
    await repository.add_event(session, row["id"], "casualties_changed", actor, detail)
    row = await repository.update(session, row["id"], **changes)
    await announce(session, "incident.updated", row, change=["casualties"])
    return row


async def _locked(session: AsyncSession, ctx: ParkContext, incident_id: uuid.UUID) -> RowMapping:
    row = await repository.get(session, ctx.park_id, incident_id, lock=True)
    if row is None:
        raise NotFound(f"incident {incident_id} not found in park {ctx.park_id!r}")
    return row


async def _rule(session: AsyncSession, park_id: str, type_: str) -> RowMapping:
    rule = await config.rule(session, park_id, type_)
    if rule is None:
        raise Unprocessable(f"no settings for incident type {type_!r}")
    return rule


async def record_casualties(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID, data: CasualtiesIn
) -> IncidentDetail:
    row = await _locked(session, ctx, incident_id)
    rule = await _rule(session, ctx.park_id, row["type"])
    await apply_casualties(session, row=row, rule=rule, data=data, actor=ctx.key.id)
    return await get(session, ctx=ctx, incident_id=incident_id)


def _due(row: RowMapping, kind: str, reports: list[RowMapping]) -> datetime | None:
    """What this report answers: the first report's deadline, an owed 补报's, or nothing."""
    firsts = [r for r in reports if r["kind"] == "first"]
    if kind == "first":
        if firsts:
            raise Conflict(f"incident {row['id']} already has its first report")
        return row["report_due_at"]  # type: ignore[no-any-return]
    if not firsts:
        raise Conflict(f"incident {row['id']} has no first report yet: send that first")
    return row["supplement_due_at"] if kind == "supplement" else None


async def _content(
    session: AsyncSession, ctx: ParkContext, row: RowMapping, data: ReportIn
) -> dict[str, Any]:
    """What the report says, frozen at sending: 时间, 地点, 单位, 经过, 伤亡, 损失, 措施,
    报告人."""
    unit = data.unit
    if unit is None and row["enterprise_id"]:
        unit = await repository.enterprise_name(session, ctx.park_id, row["enterprise_id"])
    rule = await config.rule(session, ctx.park_id, row["type"])
    return {
        "type": row["type"],
        "type_zh": (rule["name_zh"] if rule else None) or row["type"],
        "occurred_at": row["occurred_at"],
        "learned_at": row["learned_at"],
        "place": data.place or f"经度 {row['lon']:.6f}，纬度 {row['lat']:.6f}",
        "location": {"lon": row["lon"], "lat": row["lat"]},
        "unit": unit or "",
        "narrative": data.narrative or row["description"] or "",
        **_json_figures(_current(row)),
        "category": row["category"],
        "grade": row["grade"],
        "grade_zh": accident.GRADE_NAMES[row["grade"]] if row["grade"] else None,
        "measures": data.measures or "",
        "reporter": data.reporter or ctx.key.id,
        "reporter_phone": data.reporter_phone,
        "timezone": ctx.timezone,
    }


async def send_report(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID, data: ReportIn
) -> IncidentDetail:
    """Record a report sent: the first (late or not against the Art. 9 deadline), a 续报, or
    a 补报 (answering an owed one)."""
    row = await _locked(session, ctx, incident_id)
    now = datetime.now(UTC)
    sent_at = data.sent_at or now
    if sent_at > now + CLOCK_SKEW:
        raise Unprocessable("sent_at: must not be in the future")
    if sent_at < row["learned_at"]:
        raise Unprocessable("sent_at: must not be before learned_at")
    due = _due(row, data.kind, list(await repository.reports(session, row["id"])))
    content = await _content(session, ctx, row, data)
    late = accident.late(sent_at, due)
    report = await repository.insert_report(
        session,
        incident_id=row["id"],
        kind=data.kind,
        recipient=data.recipient,
        sent_at=sent_at,
        sent_by=content["reporter"],
        recorded_by=ctx.key.id,
        due_at=due,
        late=late,
        content=content,
    )
    detail = {
        "report_id": report["id"],
        "kind": data.kind,
        "kind_zh": REPORT_KINDS_ZH[data.kind],
        "recipient": data.recipient,
        "late": late,
        "comment": data.comment,
    }
    await repository.add_event(session, row["id"], "reported", ctx.key.id, detail)
    changes: dict[str, Any] = {}
    if data.kind == "first":
        changes = {"reported_at": sent_at, "reported_by": ctx.key.id}
    elif data.kind == "supplement":
        changes = {"supplement_due_at": None}
    if changes:
        row = await repository.update(session, row["id"], **changes)
    await announce(session, "incident.updated", row, change=["reported"])
    return await get(session, ctx=ctx, incident_id=incident_id)


async def list_reports(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID
) -> list[ReportRead]:
    row = await repository.get(session, ctx.park_id, incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} not found in park {ctx.park_id!r}")
    return [report_read(r) for r in await repository.reports(session, incident_id)]


async def one_report(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID, report_id: int
) -> ReportRead:
    if await repository.get(session, ctx.park_id, incident_id) is None:
        raise NotFound(f"incident {incident_id} not found in park {ctx.park_id!r}")
    found = await repository.report(session, incident_id, report_id)
    if found is None:
        raise NotFound(f"report {report_id} not found in incident {incident_id}")
    return report_read(found)
