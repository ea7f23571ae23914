"""Detectors' service states (ISA-18.2 out of service; GB/T 50493-2019 detector fault): states
that neither raise nor hide alarms silently.

- ``maintenance`` / ``calibration`` (out of service) and ``fault`` are set by an operator with a
  reason; every change goes to the detector's audit trail and out as ``detector.state_changed``.
- While a detector is not in service its readings are stored and evaluated as always; an alarm
  they raise is recorded with ``suppressed = 'out_of_service'`` (listed, audited, its webhook
  events held back) and does not latch. Back in service, what the evaluation holds then is put
  in front of the operator: each of its alarms still open is announced (``alarm.raised``).
- ``fault`` also raises a ``detector_fault`` alarm (minor, yellow: a controller's fault signal
  is yellow, GB 16808-2008) that stays until the detector is back in service or out of service.
- A calibration-due date raises a ``calibration_due`` reminder (the worker job below).
- Alarms suppressed by design (a rule's condition, e.g. the machine not running) are announced
  by the worker job below once the condition stops holding.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import detector_repository as repository
from app.alarms import repository as alarms
from app.alarms.detector_schemas import (
    CalibrationSet,
    DetectorStateDetail,
    DetectorStateEvent,
    DetectorStateRead,
    DetectorStateSet,
)
from app.alarms.document import rfc3339
from app.alarms.service import announce
from app.core.config import Settings
from app.core.errors import NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext
from app.webhooks import outbox

logger = logging.getLogger(__name__)

OUT_OF_SERVICE = frozenset(("maintenance", "calibration", "fault"))
FAULT_SEVERITY = "minor"  # yellow: the fault signal's colour (GB 16808-2008)


async def _detector(session: AsyncSession, ctx: ParkContext, device_id: str) -> RowMapping:
    row = await repository.device(session, ctx.park_id, device_id)
    if row is None:
        raise NotFound(f"device {device_id!r} not found in park {ctx.park_id!r}")
    if row["domain"] != "safety":
        raise Unprocessable(
            f"device {device_id!r} is a {row['type']} ({row['domain']}): only safety-domain "
            "detectors have a service state"
        )
    return row


async def get(session: AsyncSession, *, ctx: ParkContext, device_id: str) -> DetectorStateDetail:
    await _detector(session, ctx, device_id)
    row = await repository.one(session, ctx.park_id, device_id)
    events = [
        DetectorStateEvent.model_validate(dict(e))
        for e in await repository.history(session, ctx.park_id, device_id)
    ]
    state = DetectorStateRead.model_validate(dict(row))
    return DetectorStateDetail(**state.model_dump(), events=events)


async def list_(
    session: AsyncSession, *, ctx: ParkContext, which: str, lead_days: int, page: PageParams
) -> Page[DetectorStateRead]:
    after = page.after(1)
    rows = await repository.list_(
        session, ctx.park_id, which, lead_days, after[0] if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["device_id"]])
    return Page[DetectorStateRead](
        items=[DetectorStateRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def set_state(
    session: AsyncSession, *, ctx: ParkContext, device_id: str, data: DetectorStateSet
) -> DetectorStateDetail:
    """Change the service state (idempotent: the same state again changes nothing)."""
    await _detector(session, ctx, device_id)
    before = await repository.lock(session, ctx.park_id, device_id)
    if before["state"] == data.state:
        return await get(session, ctx=ctx, device_id=device_id)
    row = await repository.set_state(
        session, ctx.park_id, device_id, data.state, ctx.key.id, data.comment
    )
    await repository.record(session, row, ctx.key.id, data.comment)
    await outbox.enqueue(
        session,
        park_id=ctx.park_id,
        type="detector.state_changed",
        severity=None,
        data=_state_event(row, before["state"]),
    )
    if data.state == "fault":
        await _raise(session, row, "detector_fault", FAULT_SEVERITY, None, data.comment)
    elif before["state"] == "fault":
        await _clear(session, row, "detector_fault", data.comment)
    if data.state == "in_service":
        await _back_in_service(session, row, ctx.key.id)
    return await get(session, ctx=ctx, device_id=device_id)


def _state_event(row: RowMapping, before: str) -> dict[str, Any]:
    return {
        "device_id": row["device_id"],
        "state": row["state"],
        "previous_state": before,
        "since": rfc3339(row["since"]),
        "comment": row["comment"],
        "set_by": row["set_by"],
    }


async def _back_in_service(session: AsyncSession, row: RowMapping, actor: str) -> None:
    """Evaluation never stopped: the alarms raised while out of service and still open go in
    front of the operator now."""
    for alarm in await repository.unsuppress_device(session, row["park_id"], row["device_id"]):
        await alarms.add_event(
            session,
            alarm["id"],
            "unsuppressed",
            severity=alarm["severity"],
            value=alarm["value"],
            actor=actor,
            comment="detector back in service; the alarm is still active",
        )
        await announce(session, "alarm.raised", alarm)


async def _raise(
    session: AsyncSession,
    row: RowMapping,
    type_: str,
    severity: str,
    value: float | None,
    comment: str | None,
) -> None:
    alarm = await repository.raise_device_alarm(
        session, row["park_id"], row["device_id"], type_, severity, value
    )
    if alarm is None:  # the open alarm already says so
        return
    action = "escalated" if alarm["was_active"] else "raised"
    await alarms.add_event(
        session, alarm["id"], action, severity=severity, value=value, comment=comment
    )
    await announce(session, f"alarm.{action}", alarm)


async def _clear(session: AsyncSession, row: RowMapping, type_: str, comment: str) -> None:
    alarm = await repository.clear_device_alarm(session, row["park_id"], row["device_id"], type_)
    if alarm is None:
        return
    await alarms.add_event(
        session, alarm["id"], "cleared", severity=alarm["severity"], comment=comment
    )
    await announce(session, "alarm.cleared", alarm)


async def set_calibration(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    device_id: str,
    data: CalibrationSet,
) -> DetectorStateDetail:
    """Record the next calibration date. A new date clears the reminder of the old one (the
    worker raises one for the new date when it falls due: ``calibration_reminders``)."""
    await _detector(session, ctx, device_id)
    before = await repository.lock(session, ctx.park_id, device_id)
    row = await repository.set_calibration(session, ctx.park_id, device_id, data.due_on)
    await repository.record(session, row, ctx.key.id, data.comment)
    if before["calibration_due_on"] != data.due_on:
        await _clear(session, row, "calibration_due", data.comment)
    return await get(session, ctx=ctx, device_id=device_id)


async def calibration_reminders(session: AsyncSession, settings: Settings) -> int:
    """The worker's job: a ``calibration_due`` alarm for each detector whose calibration falls
    due within ``PARKTWIN_CALIBRATION_REMINDER_DAYS`` (``warning``), escalated to ``minor``
    once the date has passed; ``value`` is the days past the due date (negative: left)."""
    lead = settings.calibration_reminder_days
    due = await repository.calibration_due(session, lead, limit=500)
    for row in due:
        note = (
            f"calibration overdue by {row['days_over']} day(s)"
            if row["days_over"] > 0
            else f"calibration due in {-row['days_over']} day(s)"
        )
        await _raise(session, row, "calibration_due", row["severity"], row["days_over"], note)
    return len(due)


async def announce_by_design_over(session: AsyncSession, _settings: Settings) -> int:
    """The worker's job: alarms suppressed by design whose condition no longer holds (the
    machine runs again) and that are still open are announced (``alarm.raised``)."""
    rows = await repository.by_design_over(session, limit=500)
    for alarm in rows:
        await alarms.add_event(
            session,
            alarm["id"],
            "unsuppressed",
            severity=alarm["severity"],
            value=alarm["value"],
            comment="the rule's suppression condition no longer holds",
        )
        await announce(session, "alarm.raised", alarm)
    return len(rows)
