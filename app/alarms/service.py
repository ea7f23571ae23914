"""Alarm reads and operator actions. Webhook events go to the outbox in the request's
transaction, so the change and its announcement commit together."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import repository
from app.alarms.document import alarm_document
from app.alarms.gases import CONVERSION, mg_m3_to_ppm
from app.alarms.schemas import (
    AlarmDetail,
    AlarmEventRead,
    AlarmRead,
    AlarmRuleCreate,
    AlarmRuleRead,
    AlarmSummary,
    BuildingSummary,
    FloodState,
    SeverityCounts,
    ToxicGasRead,
)
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.core.severity import rank
from app.parks.deps import ParkContext
from app.webhooks import outbox


def _read(row: Any) -> AlarmRead:
    return AlarmRead.model_validate(alarm_document(row))


async def list_(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    status: str,
    shelved: str,
    severity: str | None,
    device_id: str | None,
    page: PageParams,
    enterprise_id: str | None = None,
) -> Page[AlarmRead]:
    """``enterprise_id``: only the alarms on that enterprise's devices."""
    rows = await repository.list_(
        session, ctx.park_id, status, shelved, severity, device_id, page.after(2),
        page.fetch_limit, enterprise_id,
    )  # fmt: skip
    items, cursor = paginate(rows, page, lambda r: [r["raised_at"].isoformat(), str(r["id"])])
    return Page[AlarmRead](items=[_read(r) for r in items], next_cursor=cursor)


async def get(session: AsyncSession, *, ctx: ParkContext, alarm_id: uuid.UUID) -> AlarmDetail:
    row = await repository.get(session, ctx.park_id, alarm_id)
    if row is None:
        raise NotFound(f"alarm {alarm_id} not found in park {ctx.park_id!r}")
    events = [
        AlarmEventRead.model_validate(dict(e)) for e in await repository.events(session, alarm_id)
    ]
    return AlarmDetail(**_read(row).model_dump(), events=events)


async def acknowledge(
    session: AsyncSession, *, ctx: ParkContext, alarm_id: uuid.UUID, comment: str | None
) -> AlarmRead:
    return await acknowledge_as(
        session, park_id=ctx.park_id, alarm_id=alarm_id, actor=ctx.key.id, comment=comment
    )


async def acknowledge_as(
    session: AsyncSession, *, park_id: str, alarm_id: uuid.UUID, actor: str, comment: str | None
) -> AlarmRead:
    """Acknowledge as ``actor`` (an API key's id, or a person through a one-click link)."""
    before = await repository.get(session, park_id, alarm_id, lock=True)
    if before is None:
        raise NotFound(f"alarm {alarm_id} not found in park {park_id!r}")
    row = await repository.acknowledge(session, park_id, alarm_id, actor)
    if row is None:  # acknowledged before: nothing changes, the answer is the same
        return _read(before)
    await repository.add_event(
        session, alarm_id, "acknowledged", severity=row["severity"], actor=actor, comment=comment
    )
    await announce(session, "alarm.acknowledged", row)
    if before["active"] and not row["active"]:
        await repository.add_event(
            session, alarm_id, "cleared", severity=row["severity"], actor=actor
        )
        await announce(session, "alarm.cleared", row)
    return _read(row)


async def announce(session: AsyncSession, type_: str, alarm: Any) -> None:
    """Queue a webhook event about ``alarm`` (a row) in the session's transaction."""
    await outbox.enqueue(
        session,
        park_id=alarm["park_id"],
        type=type_,
        severity=alarm["severity"],
        data=alarm_document(alarm),
    )


async def shelve(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    alarm_id: uuid.UUID,
    duration: timedelta,
    longest: timedelta,
    comment: str,
) -> AlarmRead:
    """Shelve an open alarm for a while (ISA-18.2): it is still evaluated and recorded, its
    notifications are held back until the shelving runs out or an operator unshelves it.
    Latched alarms (gas, fire) cannot be shelved: they stay in front of the operator."""
    before = await repository.get(session, ctx.park_id, alarm_id, lock=True)
    if before is None:
        raise NotFound(f"alarm {alarm_id} not found in park {ctx.park_id!r}")
    if before["closed_at"] is not None:
        raise Conflict("this alarm is closed; there is nothing to shelve")
    if before["latched"]:
        raise Conflict(
            "gas and fire alarms latch and are never shelved: acknowledge it instead "
            "(it clears once its value is back to normal)"
        )
    if duration > longest:
        raise Unprocessable(
            f"duration_s: at most {longest.total_seconds():.0f} s (PARKTWIN_ALARM_SHELVE_MAX)",
            field="duration_s",
        )
    row = await repository.shelve(
        session, ctx.park_id, alarm_id, duration.total_seconds(), ctx.key.id
    )
    await repository.add_event(
        session, alarm_id, "shelved", severity=row["severity"], actor=ctx.key.id, comment=comment
    )
    await announce(session, "alarm.shelved", row)
    return _read(row)


async def unshelve(session: AsyncSession, *, ctx: ParkContext, alarm_id: uuid.UUID) -> AlarmRead:
    """End a shelving early; an alarm not shelved is answered as it is."""
    before = await repository.get(session, ctx.park_id, alarm_id, lock=True)
    if before is None:
        raise NotFound(f"alarm {alarm_id} not found in park {ctx.park_id!r}")
    row = await repository.unshelve(session, ctx.park_id, alarm_id)
    if row is None:
        return _read(before)
    await repository.add_event(
        session, alarm_id, "unshelved", severity=row["severity"], actor=ctx.key.id
    )
    await announce(session, "alarm.unshelved", row)
    return _read(row)


async def unshelve_expired(session: AsyncSession, limit: int = 500) -> int:
    """The worker's job: shelving that ran out ends, recorded and announced (an alarm still
    active comes back in front of the operator)."""
    rows = await repository.unshelve_expired(session, limit)
    for row in rows:
        await repository.add_event(
            session, row["id"], "unshelved", severity=row["severity"], comment="shelving ran out"
        )
        await announce(session, "alarm.unshelved", row)
    return len(rows)


async def comment(
    session: AsyncSession, *, ctx: ParkContext, alarm_id: uuid.UUID, text: str
) -> AlarmDetail:
    if await repository.get(session, ctx.park_id, alarm_id) is None:
        raise NotFound(f"alarm {alarm_id} not found in park {ctx.park_id!r}")
    await repository.add_event(session, alarm_id, "comment", actor=ctx.key.id, comment=text)
    return await get(session, ctx=ctx, alarm_id=alarm_id)


async def summary(session: AsyncSession, *, ctx: ParkContext) -> AlarmSummary:
    park = SeverityCounts()
    buildings: dict[str | None, BuildingSummary] = {}
    unacked = shelved = suppressed = 0
    for row in await repository.summary(session, ctx.park_id):
        if row["suppressed"]:
            suppressed += row["n"]
            continue
        if row["shelved"]:
            shelved += row["n"]
            continue
        setattr(park, row["severity"], getattr(park, row["severity"]) + row["n"])
        entry = buildings.setdefault(
            row["building_id"], BuildingSummary(building_id=row["building_id"])
        )
        setattr(entry, row["severity"], getattr(entry, row["severity"]) + row["n"])
        unacked += row["unacked"]
    ordered = sorted(buildings.values(), key=lambda b: (b.building_id is None, b.building_id or ""))
    flood = await repository.open_floods(session, ctx.park_id)
    return AlarmSummary(
        park=park,
        unacknowledged=unacked,
        shelved=shelved,
        suppressed=suppressed,
        flood=FloodState(
            active=flood["devices"] > 0,
            started_at=flood["started_at"],
            held_back=flood["held_back"],
        ),
        buildings=ordered,
    )


async def list_rules(session: AsyncSession, *, ctx: ParkContext) -> list[AlarmRuleRead]:
    return [
        AlarmRuleRead.model_validate(dict(r))
        for r in await repository.list_rules(session, ctx.park_id)
    ]


def _check_levels(data: AlarmRuleCreate) -> None:
    rate = data.type == "rate_of_change"
    if rate and any(level.threshold <= 0 for level in data.levels):
        raise Unprocessable(
            "levels: a rate of change threshold is a positive speed per minute "
            "(direction says rising or falling)",
            field="levels",
        )
    if len(data.levels) == 2:
        first, second = data.levels
        further = (
            second.threshold > first.threshold
            if data.direction == "above" or rate
            else second.threshold < first.threshold
        )
        if not further:
            raise Unprocessable(f"levels: level 2 must lie {data.direction} level 1")
        if rank(second.severity) <= rank(first.severity):
            raise Unprocessable("levels: level 2 must be more severe than level 1")


def _check_low_levels(data: AlarmRuleCreate) -> None:
    """A two-sided rule: threshold, direction above, low limits below every high limit, level
    2 further below and more severe."""
    low = data.low_levels
    if not low:
        return
    if data.type != "threshold" or data.direction != "above":
        raise Unprocessable(
            "low_levels: only a threshold rule with direction `above` has low limits too "
            "(levels are then the high limits)",
            field="low_levels",
        )
    if max(level.threshold for level in low) >= min(level.threshold for level in data.levels):
        raise Unprocessable("low_levels: every low limit must lie below the high limits")
    if len(low) == 2:
        if low[1].threshold >= low[0].threshold:
            raise Unprocessable("low_levels: level 2 must lie below level 1")
        if rank(low[1].severity) <= rank(low[0].severity):
            raise Unprocessable("low_levels: level 2 must be more severe than level 1")


async def _check_metric(session: AsyncSession, device_type: str, metric: str, field: str) -> None:
    if not await repository.metric_of_type(session, device_type, metric):
        raise Unprocessable(
            f"{field}: {metric!r} is not a metric of device type {device_type!r}", field=field
        )


async def create_rule(
    session: AsyncSession, *, ctx: ParkContext, data: AlarmRuleCreate
) -> AlarmRuleRead:
    _check_levels(data)
    _check_low_levels(data)
    if data.gas is not None and data.device_id is not None:
        raise Unprocessable("gas: a device's own rule applies to it whatever it measures")
    await _check_metric(session, data.device_type, data.metric, "metric")
    if data.suppress_when is not None:
        await _check_metric(
            session, data.device_type, data.suppress_when.metric, "suppress_when.metric"
        )
    if data.device_id is not None:
        device_type = await repository.device_type_of(session, ctx.park_id, data.device_id)
        if device_type is None:
            raise Unprocessable(f"device_id: no device {data.device_id!r} in park {ctx.park_id!r}")
        if device_type != data.device_type:
            raise Unprocessable(
                f"device_id: {data.device_id!r} is a {device_type}, not a {data.device_type}"
            )
    row = await repository.create_rule(session, ctx.park_id, data.model_dump())
    if row is None:
        raise Conflict(
            "this park already has a rule for that device type or device, metric and type"
        )
    return AlarmRuleRead.model_validate(dict(row))


async def toxic_gases(session: AsyncSession) -> list[ToxicGasRead]:
    """The toxic-gas table with its limits in both units, converted by the published rule."""
    return [
        ToxicGasRead(
            **row,
            level1_ppm=round(mg_m3_to_ppm(row["level1_mg_m3"], row["molar_mass"]), 3),
            level2_ppm=round(mg_m3_to_ppm(row["level2_mg_m3"], row["molar_mass"]), 3),
            conversion=CONVERSION,
        )
        for row in await repository.toxic_gases(session)
    ]


async def delete_rule(session: AsyncSession, *, ctx: ParkContext, rule_id: int) -> None:
    if not await repository.delete_rule(session, ctx.park_id, rule_id):
        raise NotFound(
            f"no rule {rule_id} of park {ctx.park_id!r} (built-in rules cannot be deleted)"
        )
