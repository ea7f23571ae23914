"""Worker jobs: incidents from critical alarms, and the report-deadline reminders.

Why a worker job and not the ingest transaction: ingest stays as fast as before (no grouping,
plans or rosters on the hot path), and nothing is lost across restarts: an alarm is taken when
it is committed and not yet in ``incident_alarm``, so an alarm raised while no worker ran is
taken by the next one. The worker wakes on the ``alarm.raised`` outbox NOTIFY and this job
runs every round, so the incident opens within a round of the alarm's commit.

Several workers: each park's grouping runs under a transaction-scoped advisory lock taken with
``pg_try_advisory_xact_lock``; a worker that cannot take it skips the park this round (the
holder handles it), so two workers never open two incidents for one event. ``incident_alarm``'s
primary key is the last guard: an alarm belongs to at most one incident.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from shapely.geometry import shape
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.emergency import calc, repository
from app.emergency import config_repository as config
from app.emergency.service import WORKER, announce, on_duty, open_incident

logger = logging.getLogger(__name__)

BATCH = 200


def incident_point(alarm: Mapping[Any, Any]) -> tuple[float, float] | None:
    """The detector's point, else its building's centroid, else None (no place to group by).
    A footprint stored empty (written around the API's checks: an SQL import, an old version)
    has no centroid: that alarm is skipped, not the whole job for every park."""
    if alarm["lon"] is not None:
        return float(alarm["lon"]), float(alarm["lat"])
    if alarm["footprint"] is not None:
        centroid = shape(alarm["footprint"]).centroid
        if not centroid.is_empty:
            return float(centroid.x), float(centroid.y)
    return None


def _open_incidents(rows: Any) -> list[calc.OpenIncident]:
    return [
        calc.OpenIncident(
            id=str(r["id"]),
            type=r["type"],
            last_alarm_at=r["last_alarm_at"],
            points=[tuple(p) for p in r["points"]] or [(r["lon"], r["lat"])],
        )
        for r in rows
    ]


async def _park(session: AsyncSession, park_id: str, alarms: list[RowMapping]) -> int:
    """Group the park's new alarms into its open incidents, or open new ones."""
    if not await repository.try_park_lock(session, park_id):
        return 0
    rules = {
        (r["trigger_device_type"], r["trigger_metric"]): r
        for r in await config.rules(session, park_id)
        if r["trigger_device_type"]
    }
    incidents = _open_incidents(await repository.open_alarm_incidents(session, park_id))
    done = 0
    for alarm in alarms:
        rule, point = rules.get((alarm["device_type"], alarm["metric"])), incident_point(alarm)
        if rule is None or point is None:
            continue
        target = calc.pick_incident(
            incidents,
            type_=rule["incident_type"],
            lon=point[0],
            lat=point[1],
            at=alarm["raised_at"],
            window_s=rule["group_window_s"],
            distance_m=rule["group_distance_m"],
        )
        if target is None:
            row = await open_incident(
                session,
                park_id=park_id,
                rule=rule,
                lon=point[0],
                lat=point[1],
                level=None,
                description=f"critical alarm on {alarm['device_id']} ({alarm['metric']})",
                drill=False,
                source="alarm",
                actor=WORKER,
                at=alarm["raised_at"],
            )
            incidents.append(calc.OpenIncident(str(row["id"]), row["type"], alarm["raised_at"], []))
            target = str(row["id"])
        row = await repository.link_alarm(
            session, uuid.UUID(target), alarm["id"], alarm["raised_at"]
        )
        detail = {"alarm_id": str(alarm["id"]), "device_id": alarm["device_id"]}
        await repository.add_event(session, row["id"], "alarm_linked", WORKER, detail)
        await announce(session, "incident.updated", row, change=["alarms"])
        for incident in incidents:
            if incident.id == target:
                incidents[incidents.index(incident)] = calc.OpenIncident(
                    incident.id, incident.type, row["last_alarm_at"], [*incident.points, point]
                )
        done += 1
    return done


async def open_from_alarms(session: AsyncSession, settings: Settings) -> int:
    """Link new critical alarms of the trigger types to incidents (one job transaction)."""
    del settings
    by_park: dict[str, list[RowMapping]] = defaultdict(list)
    for alarm in await repository.unlinked_critical_alarms(session, BATCH):
        by_park[alarm["park_id"]].append(alarm)
    done = 0
    for park_id, alarms in by_park.items():
        done += await _park(session, park_id, alarms)
    return done


async def report_reminders(session: AsyncSession, settings: Settings) -> int:
    """``incident.report_due`` once per incident when its report deadline is near, and
    ``incident.supplement_due`` once per casualty change that owes a 补报."""
    del settings
    owed = await repository.claim_due_supplements(session, BATCH)
    for row in owed:
        duty = await on_duty(session, row["park_id"], row["supplement_due_sent_at"])
        detail = {"supplement_due_at": row["supplement_due_at"], "on_duty": duty}
        await repository.add_event(session, row["id"], "supplement_due", WORKER, detail)
        await announce(session, "incident.supplement_due", row, **detail)
    return len(owed) + await _report_due(session)


async def _report_due(session: AsyncSession) -> int:
    rows = await repository.claim_due_reports(session, BATCH)
    for row in rows:
        left = round(calc.seconds_left(row["report_due_at"], row["report_due_sent_at"]), 1)
        duty = await on_duty(session, row["park_id"], row["report_due_sent_at"])
        detail = {"seconds_left": left, "on_duty": duty}
        await repository.add_event(session, row["id"], "report_due", WORKER, detail)
        await announce(session, "incident.report_due", row, **detail)
    return len(rows)
