"""Routing: which outbox events become which notifications, decided by the webhook worker
after the alarm policy (app/alarms/policy.py) marked what it holds back and the events were
fanned out to webhooks, in a second transaction that takes the events not yet routed
(``event_outbox.routed_at``): notifications follow the same who-is-told decision as webhooks.

Per event and matching route (event type, lowest severity, building, device type) one message
to the route's channel, @-mentioning the route's people, with the facts it names frozen at
that moment (``context``). Rules:

- **Quiet hours** (免打扰): a non-critical event inside the route's quiet hours (park-local
  time, may span midnight) waits until they end, and goes out then (merged into a digest with
  whatever else waited).
- **Dedup**: a non-critical notification with the same event type, device, metric, alarm type
  and severity (and enterprise and month, for an event about an enterprise) as one sent to the
  same channel within ``PARKTWIN_NOTIFY_DEDUP_WINDOW`` is kept as ``duplicate`` and not sent.
  Critical ones always go.
- **Escalation**: a critical ``alarm.raised`` or ``alarm.escalated`` starts the alarm's
  escalation timer when the park has an on-call chain (app/notify/escalation.py).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.document import alarm_document, rfc3339
from app.core.config import Settings
from app.core.severity import COLORS, CRITICAL
from app.emergency import config_repository as emergency_config
from app.notify import repository

logger = logging.getLogger(__name__)

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
ESCALATING = ("alarm.raised", "alarm.escalated")


def quiet_until(
    at: datetime, timezone: str, start: time | None, end: time | None
) -> datetime | None:
    """When the quiet hours around ``at`` end (UTC-aware), or None when ``at`` is outside them.
    ``start`` = ``end`` means no quiet hours; ``start`` > ``end`` spans midnight."""
    if start is None or end is None or start == end:
        return None
    local = at.astimezone(ZoneInfo(timezone))
    now = local.time().replace(tzinfo=None)
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return None
    ends = datetime.combine(local.date(), end, tzinfo=local.tzinfo)
    if ends <= local:
        ends = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=local.tzinfo)
    return ends


def dedup_key(type_: str, severity: str | None, data: Mapping[Any, Any]) -> str | None:
    """Repeats share a key; critical notifications have none (they are never suppressed)."""
    if severity == CRITICAL:
        return None
    parts: tuple[Any, ...] = (type_, data.get("device_id"), data.get("metric"), data.get("type"))
    parts += (severity,)
    if data.get("enterprise_id"):  # one per enterprise and month (economy reminders, anomalies)
        parts += (data["enterprise_id"], data.get("month"))
    return "|".join("" if p is None else str(p) for p in parts)


def alarm_id_of(type_: str, data: Mapping[Any, Any]) -> str | None:
    value = data.get("id")
    if type_.startswith("alarm.") and isinstance(value, str) and UUID_RE.match(value):
        return value
    return None


def event_context(row: Mapping[Any, Any], facts: Mapping[Any, Any]) -> dict[str, Any]:
    """What the message will say about an event: the alarm's document plus the facts."""
    data: Mapping[Any, Any] = row["data"] if isinstance(row["data"], dict) else {}
    return {
        **facts,
        "type": row["type"],
        "severity": row["severity"],
        "at": data.get("raised_at")
        if row["type"] == "alarm.raised"
        else rfc3339(row["created_at"]),
        "park_id": row["park_id"],
        "alarm_id": alarm_id_of(row["type"], data),
        "device_id": data.get("device_id"),
        "metric": data.get("metric"),
        "alarm_type": data.get("type"),
        "value": data.get("value"),
        "threshold": data.get("threshold"),
        "enterprise_name": data.get("enterprise_name") or data.get("enterprise_id"),
        "month": data.get("month"),
        "deadline_at": data.get("deadline_at"),
    }


async def plan_of(
    session: AsyncSession, park_id: str, device_type: Any, metric: Any, severity: Any
) -> dict[str, Any]:
    """What to do, by app/emergency's rules: the response plan (应急预案) in force for the
    incident type whose trigger is this device type and metric, at the alarm's colour, else
    that type's any-level plan (``config_repository.plan_for``); none when no type applies."""
    if not device_type or not metric or severity not in COLORS:
        return {"plan_name": None, "plan_tasks": []}
    for rule in await emergency_config.rules(session, park_id):
        if (rule["trigger_device_type"], rule["trigger_metric"]) == (device_type, metric):
            color = COLORS[severity]
            found = await emergency_config.plan_for(session, park_id, rule["incident_type"], color)
            if found is not None:
                return {"plan_name": found["name"], "plan_tasks": list(found["tasks"])}
    return {"plan_name": None, "plan_tasks": []}


async def facts_of(
    session: AsyncSession, keys: Sequence[tuple[str, str | None, str | None, str | None]]
) -> list[dict[str, Any]]:
    """The facts of each (park, device, metric, severity): place, device, unit and plan."""
    found = await repository.facts(session, [(p, d, m) for p, d, m, _s in keys])
    plans: dict[tuple[Any, ...], dict[str, Any]] = {}
    for (park, _device, metric, severity), facts in zip(keys, found, strict=True):
        which = (park, facts["device_type"], metric, severity)
        if which not in plans:
            plans[which] = await plan_of(session, *which)
        facts.update(plans[which])
    return found


async def alarm_context(session: AsyncSession, row: Mapping[Any, Any]) -> dict[str, Any]:
    """What a message (or the acknowledge page) says about an alarm, from its row."""
    doc = alarm_document(row)
    key = (doc["park_id"], doc["device_id"], doc["metric"], doc["severity"])
    facts = (await facts_of(session, [key]))[0]
    return {
        **facts,
        "type": "alarm.raised",
        "severity": doc["severity"],
        "at": doc["raised_at"],
        "park_id": doc["park_id"],
        "alarm_id": doc["id"],
        "device_id": doc["device_id"],
        "metric": doc["metric"],
        "alarm_type": doc["type"],
        "value": doc["value"],
        "threshold": doc["threshold"],
        "people": [],
    }


async def route(session: AsyncSession, event_ids: Sequence[uuid.UUID], settings: Settings) -> None:
    """Queue the notifications of this batch of events (see the module docstring).

    Runs in a savepoint: a failure here is logged and costs this batch its notifications, but
    never holds back the webhooks."""
    try:
        async with session.begin_nested():
            await _route(session, event_ids, settings)
    except Exception:
        logger.exception("notification routing failed for %d event(s)", len(event_ids))


async def _route(session: AsyncSession, event_ids: Sequence[uuid.UUID], settings: Settings) -> None:
    rows = await repository.routed(session, event_ids)
    escalate = await _escalating(session, event_ids)
    await repository.start_escalations(session, escalate)
    if not rows:
        return
    keys = [_facts_key(r) for r in rows]
    distinct = list(dict.fromkeys(keys))
    found = dict(zip(distinct, await facts_of(session, distinct), strict=True))
    person_ids = {uuid.UUID(str(p)) for r in rows for p in r["person_ids"]}
    people = await repository.people(session, list(person_ids))
    messages = [_message(r, found[k], people) for r, k in zip(rows, keys, strict=True)]
    await repository.insert_messages(
        session, _dedup_batch(messages), settings.notify_dedup_window.total_seconds()
    )


async def _escalating(session: AsyncSession, event_ids: Sequence[uuid.UUID]) -> list[str]:
    rows = await repository.critical_raises(session, event_ids, CRITICAL, ESCALATING)
    return [a for r in rows if (a := alarm_id_of(r["type"], r["data"] or {}))]


def _facts_key(row: Mapping[Any, Any]) -> tuple[str, str | None, str | None, str | None]:
    data = row["data"] if isinstance(row["data"], dict) else {}
    return (row["park_id"], data.get("device_id"), data.get("metric"), row["severity"])


def _message(
    row: Mapping[Any, Any], facts: Mapping[Any, Any], people: Mapping[Any, Any]
) -> dict[str, Any]:
    ctx = event_context(row, facts)
    ctx["people"] = [people[str(p)] for p in row["person_ids"] if str(p) in people]
    critical = row["severity"] == CRITICAL
    wait = (
        None
        if critical
        else quiet_until(row["created_at"], row["timezone"], row["quiet_start"], row["quiet_end"])
    )
    return {
        "park_id": row["park_id"],
        "channel_id": str(row["channel_id"]),
        "event_id": str(row["event_id"]),
        "alarm_id": ctx["alarm_id"],
        "kind": "event",
        "type": row["type"],
        "severity": row["severity"],
        "dedup_key": dedup_key(row["type"], row["severity"], row["data"] or {}),
        "recipient": "",
        "urgent": critical,
        "context": ctx,
        "not_before": wait.isoformat() if wait else None,
    }


def _dedup_batch(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Repeats within the batch itself: the first stays, the others are dropped (the insert's
    duplicate check only sees rows written before it)."""
    seen: set[tuple[str, str]] = set()
    for message in messages:
        key = message["dedup_key"]
        if key is None:
            continue
        if (message["channel_id"], key) in seen:
            message["dedup_key"] = None
            message["duplicate_of_batch"] = True
        seen.add((message["channel_id"], key))
    return [m for m in messages if not m.pop("duplicate_of_batch", False)]
