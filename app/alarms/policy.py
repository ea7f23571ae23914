"""Who is told what: the alarm module's notification policy, applied to each batch of outbox
events before the webhook worker fans it out (the webhooks only deliver).

An event is held back (``event_outbox.held_back`` says why; no delivery is queued) when

- ``suppressed``: it announces a raise, escalation or clear of an alarm raised while its
  detector was out of service or its rule's by-design condition held (the alarm is recorded
  and listed with ``suppressed``; an escalation is held too: calibration gas is not a leak);
- ``shelved``: it announces a raise, escalation or clear of an alarm shelved at the time (an
  escalation to critical always goes out);
- ``flood``: it is a repeat ``alarm.raised`` from a chattering device (ISA-18.2's chattering
  alarm): that device raised more alarms than ``PARKTWIN_ALARM_FLOOD_THRESHOLD`` within
  ``PARKTWIN_ALARM_FLOOD_WINDOW`` (counting this one), and this alarm (the same device, metric
  and type) was already raised in that window (suppressed raises, recorded but never
  announced, are not counted). The first raise of each distinct alarm always
  goes out, other devices are not affected, and alarms that latch (gas, fire) never wait.

A device's first held raise opens its ``alarm_flood`` row and queues ``alarm.flood_started``
(with the ``device_id``); the worker's ``alarm_floods`` job ends it (``alarm.flood_ended``, with
the count held back) once the device's raises in the window are back at the threshold.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import repository
from app.core.config import Settings


async def hold_back(
    session: AsyncSession, event_ids: Sequence[uuid.UUID], settings: Settings
) -> None:
    """Mark the events of this batch that must not be delivered (see the module docstring)."""
    await repository.hold_back(
        session,
        list(event_ids),
        settings.alarm_flood_threshold,
        settings.alarm_flood_window.total_seconds(),
    )
