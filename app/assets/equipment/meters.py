"""The meter tree (main meter -> sub-meters) with the unmetered gap over a period.

Each meter's consumption over the period is its counter's ``delta`` summed over the park's
local days, read by the telemetry module (resets counted, late readings and rollups handled
there). For a meter with sub-meters the gap main − Σ sub is reported as 损耗/未计量 (losses or
unmetered use): shown, never spread over the sub-meters.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.equipment import repository
from app.assets.equipment.schemas import MeterNode, MeterTree
from app.assets.tenancy.occupancy import today
from app.core.errors import NotFound, Unprocessable
from app.parks.deps import ParkContext
from app.telemetry import service as telemetry

MAX_DAYS = 3660


def _period(ctx: ParkContext, start: date | None, end: date | None) -> tuple[date, date]:
    end = end or today(ctx)
    start = start or end.replace(day=1)
    if end < start:
        raise Unprocessable("to: before from", field="to")
    if (end - start).days >= MAX_DAYS:
        raise Unprocessable(f"the period may span at most {MAX_DAYS} days", field="from")
    return start, end


async def consumption(
    session: AsyncSession, ctx: ParkContext, device_id: str, metric: str, days: tuple[date, date]
) -> float | None:
    """The counter's consumption over the local days ``days`` (inclusive); None: no readings."""
    tz = ZoneInfo(ctx.timezone)
    lo = datetime.combine(days[0], time(), tz)
    hi = datetime.combine(days[1] + timedelta(days=1), time(), tz)
    series = await telemetry.series(
        session,
        ctx=ctx,
        device_id=device_id,
        metric=metric,
        start=lo,
        end=hi,
        interval_name="1d",
        agg="delta",
        fill="none",
        source="auto",
    )
    values = [p["value"] for p in series["points"] if p["value"] is not None]
    return float(sum(values)) if values else None


def _metric(row: RowMapping, parent_metric: str | None) -> tuple[str, str]:
    names, units = list(row["counters"] or []), list(row["units"] or [])
    if not names:
        raise Unprocessable(f"device {row['device_id']!r} has no counter metric")
    index = names.index(parent_metric) if parent_metric in names else 0
    return names[index], units[index]


async def _node(
    session: AsyncSession,
    ctx: ParkContext,
    row: RowMapping,
    below: dict[str | None, list[RowMapping]],
    context: tuple[tuple[date, date], str | None, frozenset[str]],
) -> MeterNode:
    days, parent_metric, seen = context
    metric, unit = _metric(row, parent_metric)
    used = await consumption(session, ctx, row["device_id"], metric, days)
    seen = seen | {row["device_id"]}
    children = [
        await _node(session, ctx, child, below, (days, metric, seen))
        for child in below.get(row["device_id"], [])
        if child["device_id"] not in seen
    ]
    values: dict[str, Any] = {**row, "metric": metric, "unit": unit, "consumption": used}
    return MeterNode.model_validate({**values, **_gap(used, children)})


def _gap(used: float | None, children: list[MeterNode]) -> dict[str, Any]:
    complete = used is not None and all(c.complete for c in children)
    if not children:
        return {"children": [], "children_sum": None, "unmetered": None,
                "unmetered_share": None, "complete": complete}  # fmt: skip
    total = sum(c.consumption or 0.0 for c in children)
    gap = None if used is None else used - total
    share = None if gap is None or not used else gap / used
    return {"children": children, "children_sum": total, "unmetered": gap,
            "unmetered_share": share, "complete": complete}  # fmt: skip


async def tree(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    start: date | None,
    end: date | None,
    root: str | None,
) -> MeterTree:
    """Every meter tree of the park (or the one under ``root``) over ``start..end``."""
    days = _period(ctx, start, end)
    rows = list(await repository.tree_members(session, ctx.park_id))
    below: dict[str | None, list[RowMapping]] = defaultdict(list)
    for row in rows:
        below[row["parent_meter_id"]].append(row)
    if root is None:
        tops = below[None]
    else:
        tops = [r for r in rows if r["device_id"] == root] or await _lone(session, ctx, root)
    roots = [await _node(session, ctx, r, below, (days, None, frozenset())) for r in tops]
    return MeterTree.model_validate({"from": days[0], "to": days[1], "roots": roots})


async def _lone(session: AsyncSession, ctx: ParkContext, device_id: str) -> list[RowMapping]:
    """A meter outside every tree, as a tree of one."""
    row = await repository.lone_meter(session, ctx.park_id, device_id)
    if row is None:
        raise NotFound(f"device {device_id!r} not found in park {ctx.park_id!r}")
    return [row]
