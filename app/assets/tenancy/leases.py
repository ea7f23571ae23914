"""Leases: create, get, list, update, delete; overlaps refused with 409.

A lease holds exactly one space, building or parcel from ``start_date`` to ``end_date`` (both
inclusive). Two leases may not share a day on the same space, the same parcel, or the same
building, and a whole-building lease may not share a day with a lease of one of its spaces.
The service finds the lease in the way and names it, holding a per-park lock so two requests
cannot both pass; the database's exclusion constraints refuse same-target overlaps whatever
writes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import checks
from app.assets.tenancy import repository
from app.assets.tenancy.schemas import (
    TARGETS,
    LeaseCreate,
    LeaseFilters,
    LeaseRead,
    LeaseUpdate,
    check_lease_shape,
)
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext

REQUIRED = ("enterprise_id", "start_date", "end_date", "area_m2")


async def load(session: AsyncSession, ctx: ParkContext, lease_id: str) -> RowMapping:
    row = await repository.get_lease(session, ctx.park_id, lease_id)
    if row is None:
        raise NotFound(f"lease {lease_id!r} not found in park {ctx.park_id!r}")
    return row


def target_of(values: dict[str, Any]) -> str:
    return next(t for t in TARGETS if values.get(t) is not None)


async def _check_references(
    session: AsyncSession, ctx: ParkContext, values: dict[str, Any]
) -> None:
    """The enterprise and the target exist, the space may be leased; the area defaults to
    the target's."""
    if await repository.get_enterprise(session, ctx.park_id, values["enterprise_id"]) is None:
        raise Unprocessable(
            f"enterprise {values['enterprise_id']!r} not found in this park", field="enterprise_id"
        )
    target = target_of(values)
    kind = target.removesuffix("_id")
    info = await repository.target_info(session, ctx.park_id, target, values[target])
    if info is None:
        raise Unprocessable(f"{kind} {values[target]!r} not found in this park", field=target)
    if info["status"] == "not_leasable":
        raise Unprocessable(f"space {values[target]!r} is not leasable", field=target)
    if values.get("area_m2") is None:
        if not info["area_m2"]:
            message = f"{kind} {values[target]!r} has no area: give area_m2"
            raise Unprocessable(message, field="area_m2")
        values["area_m2"] = float(info["area_m2"])


async def _check_overlap(session: AsyncSession, ctx: ParkContext, values: dict[str, Any]) -> None:
    await repository.lock_leases(session, ctx.park_id)
    target = target_of(values)
    other = await repository.first_overlap(session, ctx.park_id, values, target)
    if other is not None:
        raise Conflict(
            f"lease {values['id']!r} overlaps lease {other['id']!r} of {other['target']} "
            f"({other['start_date']}..{other['end_date']})",
            field=target,
            conflicting_lease_id=other["id"],
        )


async def _check(session: AsyncSession, ctx: ParkContext, values: dict[str, Any]) -> None:
    await _check_references(session, ctx, values)
    await _check_overlap(session, ctx, values)


async def create(session: AsyncSession, *, ctx: ParkContext, data: LeaseCreate) -> LeaseRead:
    values = {**data.model_dump(), "park_id": ctx.park_id}
    await _check(session, ctx, values)
    await repository.insert_lease(session, values)
    return await get(session, ctx=ctx, lease_id=data.id)


async def get(session: AsyncSession, *, ctx: ParkContext, lease_id: str) -> LeaseRead:
    return LeaseRead.model_validate(dict(await load(session, ctx, lease_id)))


async def list_(
    session: AsyncSession, *, ctx: ParkContext, filters: LeaseFilters, page: PageParams
) -> Page[LeaseRead]:
    after = page.after(1)
    rows = await repository.list_leases(
        session, ctx.park_id, filters.model_dump(), after[0] if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[LeaseRead](
        items=[LeaseRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


def _merged(row: RowMapping, data: LeaseUpdate) -> dict[str, Any]:
    """The lease as it would be after the change, checked for shape."""
    changes = checks.patch(data.model_dump(exclude_unset=True), *REQUIRED)
    if any(changes.get(t) is not None for t in TARGETS):
        changes = {**dict.fromkeys(TARGETS), **changes}
    merged = {**dict(row), **changes}
    try:
        check_lease_shape(merged)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from exc
    return merged


async def update(
    session: AsyncSession, *, ctx: ParkContext, lease_id: str, data: LeaseUpdate
) -> LeaseRead:
    merged = _merged(await load(session, ctx, lease_id), data)
    await _check(session, ctx, merged)
    await repository.update_lease(session, ctx.park_id, lease_id, merged)
    return await get(session, ctx=ctx, lease_id=lease_id)


async def delete(session: AsyncSession, *, ctx: ParkContext, lease_id: str) -> None:
    await load(session, ctx, lease_id)
    await repository.delete_lease(session, ctx.park_id, lease_id)
