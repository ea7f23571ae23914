"""Worker job: remind the park of the monthly reports still owed.

Each round, per park: the month whose report falls due this (park-local) month; within
``PARKTWIN_ECONOMY_REPORT_REMIND_DAYS`` of its deadline, ``economy.report_due`` once per
enterprise that has not submitted; once the deadline has passed, ``economy.report_overdue``
once per enterprise still owing. The events go to the outbox, so the park's webhooks and
notification routes carry them (an enterprise key has no webhooks of its own).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.economy import flow, power_repository
from app.economy import flow_repository as repository
from app.economy.submissions import remind_before
from app.webhooks.outbox import enqueue

logger = logging.getLogger(__name__)

DUE_EVENT = "economy.report_due"
OVERDUE_EVENT = "economy.report_overdue"
EVENTS = {"due": (DUE_EVENT, "warning"), "overdue": (OVERDUE_EVENT, "minor")}


async def report_reminders(session: AsyncSession, settings: Settings) -> int:
    await remind(session, settings, datetime.now(UTC))
    return 0  # each park's month is checked whole: never a backlog to run again at once


async def remind(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Send what is due at ``now`` in every park; the number of events sent."""
    sent = 0
    for park in await power_repository.parks(session):
        sent += await _remind_park(session, settings, park["id"], park["timezone"], now)
    if sent:
        logger.info("economy report reminders: %d sent", sent)
    return sent


async def _remind_park(
    session: AsyncSession, settings: Settings, park_id: str, timezone: str, now: datetime
) -> int:
    month = flow.month_due_around(now, timezone)
    due = flow.deadline(month, settings.economy_report_deadline_day, timezone)
    kind = flow.reminder_kind(now, due, remind_before(settings))
    if kind is None:
        return 0
    rows = await repository.claim_reminders(session, park_id, month, kind)
    type_, severity = EVENTS[kind]
    for row in rows:
        data = {
            "enterprise_id": row["enterprise_id"],
            "enterprise_name": row["name"],
            "month": flow.month_key(month),
            "state": row["state"],
            "deadline_at": due.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "hours_left": round((due - now).total_seconds() / 3600, 1),
        }
        await enqueue(session, park_id=park_id, type=type_, severity=severity, data=data)
    return len(rows)
