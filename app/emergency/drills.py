"""Drills (应急演练): a record of a drill held, linked to the response plan (version) it
exercised, with what it found; the plan carries its approver and review date."""

from __future__ import annotations

import uuid

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound, Unprocessable
from app.emergency import config_repository as config
from app.emergency import hazard_repository as repo
from app.emergency.safety_schemas import DrillCreate, DrillRead
from app.parks.deps import ParkContext


def read(row: RowMapping) -> DrillRead:
    incident = row["incident_id"]
    return DrillRead.model_validate(
        {**dict(row), "incident_id": str(incident) if incident else None}
    )


async def _incident(session: AsyncSession, ctx: ParkContext, value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        incident_id = uuid.UUID(value)
    except ValueError:
        raise Unprocessable("incident_id: not a UUID") from None
    if not await repo.is_drill_incident(session, ctx.park_id, incident_id):
        raise Unprocessable(f"incident_id: no drill incident {value} in this park")
    return incident_id


async def create(session: AsyncSession, *, ctx: ParkContext, data: DrillCreate) -> DrillRead:
    if await config.plan(session, ctx.park_id, data.plan_id) is None:
        raise Unprocessable(f"plan_id: no response plan {data.plan_id} for this park")
    values = data.model_dump(exclude={"findings", "incident_id"})
    values |= {
        "incident_id": await _incident(session, ctx, data.incident_id),
        "findings": [f.model_dump() for f in data.findings],
        "recorded_by": ctx.key.id,
    }
    row = await repo.insert_drill(session, ctx.park_id, values)
    return await get(session, ctx=ctx, drill_id=int(row["id"]))


async def get(session: AsyncSession, *, ctx: ParkContext, drill_id: int) -> DrillRead:
    rows = await repo.drills(session, ctx.park_id, drill_id=drill_id)
    if not rows:
        raise NotFound(f"drill {drill_id} not found in park {ctx.park_id!r}")
    return read(rows[0])


async def list_(
    session: AsyncSession, *, ctx: ParkContext, plan_id: int | None, limit: int
) -> list[DrillRead]:
    return [read(r) for r in await repo.drills(session, ctx.park_id, plan_id=plan_id, limit=limit)]
