"""Enterprises (tenants): create, get, list, update, delete.

The 统一社会信用代码 is checked by the schemas (GB 32100-2015 check character); the database
keeps it unique per park. An enterprise that holds leases cannot be deleted (409).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.land import checks
from app.assets.tenancy import repository
from app.assets.tenancy.schemas import (
    EnterpriseCreate,
    EnterpriseFilters,
    EnterpriseRead,
    EnterpriseUpdate,
)
from app.core.errors import Conflict, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext

REQUIRED = ("name", "credit_code", "above_scale", "contacts")


async def load(session: AsyncSession, ctx: ParkContext, enterprise_id: str) -> RowMapping:
    row = await repository.get_enterprise(session, ctx.park_id, enterprise_id)
    if row is None:
        raise NotFound(f"enterprise {enterprise_id!r} not found in park {ctx.park_id!r}")
    return row


async def create(
    session: AsyncSession, *, ctx: ParkContext, data: EnterpriseCreate
) -> EnterpriseRead:
    values = {**data.model_dump(mode="json"), "park_id": ctx.park_id}
    values["founded_on"] = data.founded_on
    await repository.insert_enterprise(session, values)
    return await get(session, ctx=ctx, enterprise_id=data.id)


async def get(session: AsyncSession, *, ctx: ParkContext, enterprise_id: str) -> EnterpriseRead:
    return EnterpriseRead.model_validate(dict(await load(session, ctx, enterprise_id)))


async def list_(
    session: AsyncSession, *, ctx: ParkContext, filters: EnterpriseFilters, page: PageParams
) -> Page[EnterpriseRead]:
    after = page.after(1)
    rows = await repository.list_enterprises(
        session, ctx.park_id, filters.model_dump(), after[0] if after else None, page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[EnterpriseRead](
        items=[EnterpriseRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


def _changes(data: EnterpriseUpdate) -> dict[str, Any]:
    changes = checks.patch(data.model_dump(mode="json", exclude_unset=True), *REQUIRED)
    if "founded_on" in changes:
        changes["founded_on"] = data.founded_on
    return changes


async def update(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, data: EnterpriseUpdate
) -> EnterpriseRead:
    await load(session, ctx, enterprise_id)
    changes = _changes(data)
    await repository.update_enterprise(session, ctx.park_id, enterprise_id, changes)
    return await get(session, ctx=ctx, enterprise_id=enterprise_id)


async def delete(session: AsyncSession, *, ctx: ParkContext, enterprise_id: str) -> None:
    await load(session, ctx, enterprise_id)
    leases = await repository.lease_ids_of_enterprise(session, ctx.park_id, enterprise_id)
    if leases:
        raise Conflict(
            f"enterprise {enterprise_id!r} holds leases ({', '.join(leases)}): delete them first",
            leases=leases,
        )
    await repository.delete_enterprise(session, ctx.park_id, enterprise_id)
