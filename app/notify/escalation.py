"""Escalation through the on-call chain (值班升级): the ``notify_escalation`` job.

A critical alarm that starts escalating (app/notify/routing.py) has a timer row, due at once.
Each time it falls due and the alarm is neither acknowledged nor closed, the next step of the
park's chain (``notify_escalation_step``, by position; after the last, from the first again)
gets a message to its person through its channel (an email to that person, an @-mention in a
robot's group), with an acknowledge link of that person's own; the step goes into the alarm's
audit trail (``alarm_event`` action ``notify_escalated``) and the timer is set to that step's
wait. An acknowledged or closed alarm ends its timer (``notify_escalation_ended`` in the
trail). The timers live in the database: a restart of the worker loses none, and the job
takes ``now`` as an argument, so tests drive it with their own clock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import repository as alarms
from app.core.config import Settings
from app.notify import repository
from app.notify.routing import alarm_context

logger = logging.getLogger(__name__)


async def run(session: AsyncSession, settings: Settings) -> int:
    """The worker's job: the timers due now."""
    return await escalate_due(session, settings, datetime.now(UTC))


async def escalate_due(session: AsyncSession, _settings: Settings, now: datetime) -> int:
    """Advance every escalation due at ``now``; return how many moved."""
    moved = 0
    for timer in await repository.due_escalations(session, now):
        alarm_id: uuid.UUID = timer["alarm_id"]
        if timer["acknowledged"] or timer["closed"]:
            why = "acknowledged" if timer["acknowledged"] else "closed"
            await repository.end(session, alarm_id, why, now)
            await alarms.add_event(session, alarm_id, "notify_escalation_ended", comment=why)
            continue
        steps = await repository.steps(session, timer["park_id"])
        if not steps:
            await repository.end(session, alarm_id, "no_chain", now)
            continue
        number = int(timer["step"]) + 1
        step = steps[(number - 1) % len(steps)]
        await _notify(session, timer["park_id"], alarm_id, number, step)
        await repository.advance(session, alarm_id, number, now + timedelta(seconds=step["wait_s"]))
        moved += 1
    return moved


def contact(step: Mapping[Any, Any]) -> str:
    """The recipient of an escalation message: the person's email on an email channel; on a
    robot the person is @-mentioned instead (from the context's people)."""
    return str(step["email"] or "") if step["kind"] == "email" else ""


async def _notify(
    session: AsyncSession, park_id: str, alarm_id: uuid.UUID, number: int, step: Mapping[Any, Any]
) -> None:
    row = await alarms.get(session, park_id, alarm_id)
    if row is None:
        return
    person = {
        k: (str(step[k]) if step[k] is not None else None)
        for k in ("name", "mobile", "email", "wecom_userid")
    }
    person["id"] = str(step["person_id"])
    context = await alarm_context(session, row)
    context.update(people=[person], escalated_to=step["name"], step=number)
    message = {
        "park_id": park_id,
        "channel_id": str(step["channel_id"]),
        "event_id": None,
        "alarm_id": context["alarm_id"],
        "kind": "escalation",
        "type": "alarm.escalation",
        "severity": context["severity"],
        "dedup_key": None,
        "recipient": contact(step),
        "urgent": True,
        "context": context,
        "not_before": None,
    }
    await repository.insert_messages(session, [message], 0)
    comment = f"第 {number} 级升级：通知 {step['name']}（经 {step['channel_name']}）"
    await alarms.add_event(
        session,
        alarm_id,
        "notify_escalated",
        severity=context["severity"],
        actor=f"notify:{step['name']}",
        comment=comment,
    )
    logger.info("alarm %s escalated to step %d (%s)", alarm_id, number, step["name"])
