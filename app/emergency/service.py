"""Incidents: opening (by an operator, or by the worker from alarms), the lifecycle, the
warning level, tasks, the report to the regulator, the timeline and statistics.

Every change writes a timeline row and a webhook event (``incident.opened``,
``incident.updated``, ``incident.closed``) in the caller's transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Role
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.emergency import calc, repository
from app.emergency import config_repository as config
from app.emergency.schemas import (
    EventRead,
    IncidentCreate,
    IncidentDetail,
    IncidentRead,
    IncidentUpdate,
    Stats,
    StatusChange,
    TaskCreate,
    TaskRead,
    TaskUpdate,
)
from app.emergency.views import document, report_read
from app.parks.deps import ParkContext
from app.webhooks import outbox

WORKER = "worker"
"""The actor of automatic actions in the timeline."""

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a stated time may lie (clocks of phones and PCs drift)."""


async def announce(
    session: AsyncSession, type_: str, row: RowMapping, **extra: Any
) -> dict[str, Any]:
    ids = (await repository.alarm_ids(session, [row["id"]]))[row["id"]]
    data = {**document(row, ids), **extra}
    await outbox.enqueue(
        session,
        park_id=row["park_id"],
        type=type_,
        severity=calc.LEVEL_SEVERITY[row["level"]],
        data=data,
    )
    return data


async def on_duty(session: AsyncSession, park_id: str, at: datetime) -> list[dict[str, Any]]:
    """The contacts on duty at ``at``, as the events carry them."""
    return [
        {"name": d["name"], "role": d["role"], "phone": d["phone"]}
        for d in await config.on_duty(session, park_id, at)
    ]


async def open_incident(
    session: AsyncSession,
    *,
    park_id: str,
    rule: RowMapping,
    lon: float,
    lat: float,
    level: str | None,
    description: str | None,
    drill: bool,
    source: str,
    actor: str,
    at: datetime | None = None,
    occurred_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> RowMapping:
    """A new incident (a 险情 until casualties or a loss are recorded) with its plan's tasks,
    the on-duty contacts in its first timeline entry and its ``incident.opened`` event.
    ``at``: when the unit learned of it (an alarm's raised time); the park's response clock
    counts from it."""
    now = datetime.now(UTC)
    learned = at or now
    row = await repository.insert(
        session,
        park_id=park_id,
        type=rule["incident_type"],
        level=level or rule["default_level"],
        drill=drill,
        source=source,
        lon=lon,
        lat=lat,
        description=description,
        opened_by=actor,
        last_alarm_at=learned,
        occurred_at=occurred_at or learned,
        learned_at=learned,
        response_due_at=learned + timedelta(seconds=rule["response_deadline_s"]),
        **(extra or {}),
    )
    plan = await config.plan_for(session, park_id, row["type"], row["level"])
    tasks = await repository.add_tasks(
        session, row["id"], plan["tasks"] if plan else [], plan["id"] if plan else None
    )
    duty = await on_duty(session, park_id, now)
    detail = {
        "source": source,
        "level": row["level"],
        "drill": drill,
        "plan": plan["name"] if plan else None,
        "tasks": len(tasks),
        "on_duty": duty,
        "occurred_at": row["occurred_at"],
        "learned_at": row["learned_at"],
    }
    await repository.add_event(session, row["id"], "opened", actor, detail)
    await announce(session, "incident.opened", row, on_duty=duty, tasks=len(tasks))
    return row


def _times(data: IncidentCreate) -> tuple[datetime, datetime]:
    """(occurred_at, learned_at): learned defaults to now, occurred to learned; nothing is
    learned before it happened, nor in the future."""
    now = datetime.now(UTC)
    learned = data.learned_at or now
    occurred = data.occurred_at or learned
    if learned > now + CLOCK_SKEW:
        raise Unprocessable("learned_at: must not be in the future")
    if occurred > learned:
        raise Unprocessable("occurred_at: must not be after learned_at")
    return occurred, learned


async def _check_refs(
    session: AsyncSession, ctx: ParkContext, enterprise_id: str | None, chemical: str | None
) -> None:
    if enterprise_id and not await repository.enterprise_name(session, ctx.park_id, enterprise_id):
        raise Unprocessable(f"enterprise_id: no enterprise {enterprise_id!r} in this park")
    if chemical:
        known = await config.chemicals(session, ctx.park_id)
        if chemical not in known:
            raise Unprocessable(f"chemical: unknown {chemical!r}; known: {sorted(known)}")


async def create(session: AsyncSession, *, ctx: ParkContext, data: IncidentCreate) -> IncidentRead:
    from app.emergency import reporting  # reporting builds on this module

    rule = await config.rule(session, ctx.park_id, data.type)
    if rule is None:
        known = [r["incident_type"] for r in await config.rules(session, ctx.park_id)]
        raise Unprocessable(f"type: unknown incident type {data.type!r}; known: {known}")
    occurred, learned = _times(data)
    await _check_refs(session, ctx, data.enterprise_id, data.chemical)
    row = await open_incident(
        session,
        park_id=ctx.park_id,
        rule=rule,
        lon=data.location.lon,
        lat=data.location.lat,
        level=data.level,
        description=data.description,
        drill=data.drill,
        source="operator",
        actor=ctx.key.id,
        at=learned,
        occurred_at=occurred,
        extra={
            "enterprise_id": data.enterprise_id,
            "chemical": data.chemical,
            "spill_size": data.spill_size,
        },
    )
    if data.casualties is not None:  # known when the unit learned of the event, by default
        known_at = data.casualties.known_at or learned
        figures = data.casualties.model_copy(update={"known_at": known_at})
        row = await reporting.apply_casualties(
            session, row=row, rule=rule, data=figures, actor=ctx.key.id
        )
    return IncidentRead.model_validate(document(row, []))


async def _load(
    session: AsyncSession, ctx: ParkContext, incident_id: uuid.UUID, lock: bool = False
) -> RowMapping:
    row = await repository.get(session, ctx.park_id, incident_id, lock=lock)
    if row is None:
        raise NotFound(f"incident {incident_id} not found in park {ctx.park_id!r}")
    return row


async def list_(
    session: AsyncSession, *, ctx: ParkContext, status: str | None, drill: bool, page: PageParams
) -> Page[IncidentRead]:
    rows = await repository.list_(
        session, ctx.park_id, status, drill, page.after(2), page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["opened_at"].isoformat(), str(r["id"])])
    ids = await repository.alarm_ids(session, [r["id"] for r in items])
    return Page[IncidentRead](
        items=[IncidentRead.model_validate(document(r, ids[r["id"]])) for r in items],
        next_cursor=cursor,
    )


async def get(session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID) -> IncidentDetail:
    row = await _load(session, ctx, incident_id)
    ids = (await repository.alarm_ids(session, [row["id"]]))[row["id"]]
    return IncidentDetail(
        **document(row, ids),
        reports=[report_read(r) for r in await repository.reports(session, row["id"])],
        tasks=[
            TaskRead.model_validate(dict(t)) for t in await repository.tasks(session, row["id"])
        ],
        timeline=[
            EventRead.model_validate(dict(e)) for e in await repository.events(session, row["id"])
        ],
    )


def _open(row: RowMapping) -> None:
    if row["status"] == "closed":
        raise Conflict(f"incident {row['id']} is closed")


async def update(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID, data: IncidentUpdate
) -> IncidentDetail:
    """A new warning level, description, chemical, spill size or unit; each change is on the
    timeline."""
    row = await _load(session, ctx, incident_id, lock=True)
    _open(row)
    changes: dict[str, Any] = {}
    if data.level is not None and data.level != row["level"]:
        changes["level"] = data.level
        await repository.add_event(
            session,
            row["id"],
            "level_changed",
            ctx.key.id,
            {"from": row["level"], "to": data.level, "comment": data.comment},
        )
    if data.description is not None and data.description != row["description"]:
        changes["description"] = data.description
        await repository.add_event(
            session, row["id"], "description_changed", ctx.key.id, {"comment": data.comment}
        )
    facts = {k: getattr(data, k) for k in ("chemical", "spill_size", "enterprise_id")}
    facts = {k: v for k, v in facts.items() if v is not None and v != row[k]}
    if facts:
        await _check_refs(session, ctx, facts.get("enterprise_id"), facts.get("chemical"))
        detail = {k: {"from": row[k], "to": v} for k, v in facts.items()}
        await repository.add_event(
            session, row["id"], "facts_changed", ctx.key.id, {**detail, "comment": data.comment}
        )
        changes |= facts
    if changes:
        row = await repository.update(session, row["id"], **changes)
        await announce(session, "incident.updated", row, change=sorted(changes))
    return await get(session, ctx=ctx, incident_id=incident_id)


async def change_status(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID, data: StatusChange
) -> IncidentDetail:
    """Move forward in the lifecycle. Closing with critical tasks open is refused (409)
    unless an admin forces it; a forced close is recorded with the tasks left open."""
    row = await _load(session, ctx, incident_id, lock=True)
    _open(row)
    if not calc.can_move(row["status"], data.status):
        raise Conflict(f"incident {row['id']} cannot move from {row['status']} to {data.status}")
    detail: dict[str, Any] = {"from": row["status"], "to": data.status, "comment": data.comment}
    changes: dict[str, Any] = {"status": data.status, f"{data.status}_at": datetime.now(UTC)}
    if data.status == "closed":
        left_open = await repository.open_critical_tasks(session, row["id"])
        if data.force and ctx.key.role < Role.admin:
            raise Forbidden("force: closing with critical tasks open needs the admin role")
        if left_open and not data.force:
            raise Conflict(
                f"incident {row['id']} has critical tasks open: {left_open}",
                open_critical_tasks=left_open,
            )
        changes |= {"closed_by": ctx.key.id, "forced_close": bool(left_open)}
        detail |= {"forced": bool(left_open), "open_critical_tasks": left_open}
    await repository.add_event(session, row["id"], "status_changed", ctx.key.id, detail)
    row = await repository.update(session, row["id"], **changes)
    kind = "incident.closed" if data.status == "closed" else "incident.updated"
    await announce(session, kind, row, change=["status"])
    return await get(session, ctx=ctx, incident_id=incident_id)


async def comment(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID, text: str
) -> IncidentDetail:
    row = await _load(session, ctx, incident_id)
    await repository.add_event(session, row["id"], "comment", ctx.key.id, {"comment": text})
    return await get(session, ctx=ctx, incident_id=incident_id)


async def add_task(
    session: AsyncSession, *, ctx: ParkContext, incident_id: uuid.UUID, data: TaskCreate
) -> TaskRead:
    row = await _load(session, ctx, incident_id, lock=True)
    _open(row)
    (task,) = await repository.add_tasks(session, row["id"], [data.model_dump()], None)
    await repository.add_event(
        session, row["id"], "task_added", ctx.key.id, {"task_id": task["id"], "title": data.title}
    )
    await announce(session, "incident.updated", row, change=["tasks"])
    return TaskRead.model_validate(dict(task))


async def update_task(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    incident_id: uuid.UUID,
    task_id: int,
    data: TaskUpdate,
) -> TaskRead:
    """Assign and/or tick off (or reopen) a task."""
    row = await _load(session, ctx, incident_id, lock=True)
    _open(row)
    set_assignee = "assignee" in data.model_fields_set
    task = await repository.update_task(
        session, row["id"], task_id, data.status, data.assignee, set_assignee, ctx.key.id
    )
    if task is None:
        raise NotFound(f"task {task_id} not found in incident {incident_id}")
    detail = {"task_id": task_id, "title": task["title"], "status": task["status"]}
    if set_assignee:
        detail["assignee"] = task["assignee"]
    await repository.add_event(session, row["id"], "task_updated", ctx.key.id, detail)
    await announce(session, "incident.updated", row, change=["tasks"])
    return TaskRead.model_validate(dict(task))


async def stats(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    drill: bool,
    since: datetime | None,
    until: datetime | None,
) -> Stats:
    """Counts and mean times, of real incidents or (``drill``) of drills only: never mixed."""
    rows = await repository.stats(session, ctx.park_id, drill, since, until)
    by: dict[str, dict[str, int]] = {"status": {}, "type": {}, "level": {}}
    for r in rows:
        for key in by:
            by[key][r[key]] = by[key].get(r[key], 0) + int(r["n"])
    by_category: dict[str, int] = {}
    by_grade: dict[str, int] = {}
    for r in rows:
        by_category[r["category"]] = by_category.get(r["category"], 0) + int(r["n"])
        if r["grade"]:
            by_grade[r["grade"]] = by_grade.get(r["grade"], 0) + int(r["n"])
    responded = sum(int(r["responded"]) for r in rows)
    closed = sum(int(r["closed"]) for r in rows)
    to_responding = sum(float(r["to_responding"] or 0) for r in rows)
    to_closed = sum(float(r["to_closed"] or 0) for r in rows)
    return Stats(
        drill=drill,
        total=sum(int(r["n"]) for r in rows),
        by_status=by["status"],
        by_type=by["type"],
        by_level=by["level"],
        reported_late=sum(int(r["late"]) for r in rows),
        accidents=by_category.get("accident", 0),
        by_category=by_category,
        by_grade=by_grade,
        response_late=sum(int(r["response_late"]) for r in rows),
        mean_seconds_to_responding=to_responding / responded if responded else None,
        mean_seconds_to_closed=to_closed / closed if closed else None,
    )
