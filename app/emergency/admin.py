"""Emergency settings managed by admins: resources on the map, response plans, the duty roster
and the per-type rules (radii, grouping, deadlines). Plans and rules are versioned: a change is
a new row valid from now, the old ones stay for the record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound, Unprocessable
from app.emergency import config_repository as config
from app.emergency.impact import nearest_resources
from app.emergency.schemas import (
    NearResource,
    PlanCreate,
    PlanRead,
    ResourceCreate,
    ResourceRead,
    RosterCreate,
    RosterRead,
    TypeRuleCreate,
    TypeRuleRead,
)
from app.parks.deps import ParkContext


def resource_read(row: RowMapping) -> ResourceRead:
    return ResourceRead.model_validate(
        {**dict(row), "location": {"lon": row["lon"], "lat": row["lat"]}}
    )


async def create_resource(
    session: AsyncSession, *, ctx: ParkContext, data: ResourceCreate
) -> ResourceRead:
    values: dict[str, Any] = data.model_dump(exclude={"location"})
    values |= {"lon": data.location.lon, "lat": data.location.lat}
    row = await config.insert_resource(session, ctx.park_id, values)
    if row is None:
        raise Conflict(f"resource {data.id!r} already exists in park {ctx.park_id!r}")
    return resource_read(row)


async def list_resources(
    session: AsyncSession, *, ctx: ParkContext, kind: str | None
) -> list[ResourceRead]:
    return [resource_read(r) for r in await config.resources(session, ctx.park_id, kind)]


async def get_resource(
    session: AsyncSession, *, ctx: ParkContext, resource_id: str
) -> ResourceRead:
    row = await config.resource(session, ctx.park_id, resource_id)
    if row is None:
        raise NotFound(f"resource {resource_id!r} not found in park {ctx.park_id!r}")
    return resource_read(row)


async def delete_resource(session: AsyncSession, *, ctx: ParkContext, resource_id: str) -> None:
    if not await config.delete_resource(session, ctx.park_id, resource_id):
        raise NotFound(f"resource {resource_id!r} not found in park {ctx.park_id!r}")


async def nearest(
    session: AsyncSession, *, ctx: ParkContext, lon: float, lat: float, kind: str | None, n: int
) -> list[NearResource]:
    rows = list(await config.resources(session, ctx.park_id, kind, attributes=False))
    return nearest_resources(rows, lon, lat, n, kind)


def plan_read(row: RowMapping) -> PlanRead:
    due = row["review_due_on"]
    return PlanRead.model_validate(
        {**dict(row), "review_overdue": due is not None and due < datetime.now(UTC).date()}
    )


async def list_plans(session: AsyncSession, *, ctx: ParkContext) -> list[PlanRead]:
    return [plan_read(r) for r in await config.plans(session, ctx.park_id)]


async def create_plan(session: AsyncSession, *, ctx: ParkContext, data: PlanCreate) -> PlanRead:
    if data.approved_at and data.review_due_on and data.review_due_on < data.approved_at:
        raise Unprocessable("review_due_on: must not be before approved_at")
    row = await config.insert_plan(session, ctx.park_id, data.model_dump())
    return plan_read(row)


async def list_roster(
    session: AsyncSession, *, ctx: ParkContext, current: bool
) -> list[RosterRead]:
    since = datetime.now(UTC) if current else None
    return [
        RosterRead.model_validate(dict(r)) for r in await config.roster(session, ctx.park_id, since)
    ]


async def create_roster(
    session: AsyncSession, *, ctx: ParkContext, data: RosterCreate
) -> RosterRead:
    row = await config.insert_roster(session, ctx.park_id, data.model_dump())
    return RosterRead.model_validate(dict(row))


async def delete_roster(session: AsyncSession, *, ctx: ParkContext, entry_id: int) -> None:
    if not await config.delete_roster(session, ctx.park_id, entry_id):
        raise NotFound(f"roster entry {entry_id} not found in park {ctx.park_id!r}")


def rule_read(row: RowMapping) -> TypeRuleRead:
    return TypeRuleRead.model_validate({**dict(row), "radii_m": list(row["radii_m"])})


async def list_rules(session: AsyncSession, *, ctx: ParkContext) -> list[TypeRuleRead]:
    return [rule_read(r) for r in await config.rules(session, ctx.park_id)]


async def create_rule(
    session: AsyncSession, *, ctx: ParkContext, data: TypeRuleCreate
) -> TypeRuleRead:
    return rule_read(await config.insert_rule(session, ctx.park_id, data.model_dump()))
