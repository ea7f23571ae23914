"""The enterprise view: each read narrows an owning domain's service to the one enterprise.

A device is the enterprise's when its ``enterprise_id`` is; any other device of the park, a
neighbour's or the park's own, answers 404 as one that does not exist. Nothing here computes a
figure: rent (收缴率) is tenancy's, energy and carbon the carbon ledger's, 亩均 the economy
module's evaluation of the whole park, from which only the enterprise's own item is taken.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import service as alarms
from app.alarms.schemas import AlarmRead
from app.assets.tenancy import enterprises, leases, rent
from app.assets.tenancy.rent_schemas import RentCollection
from app.assets.tenancy.schemas import LeaseFilters, LeaseRead
from app.carbon import report as carbon_report
from app.carbon import service as carbon
from app.core.errors import AppError, NotFound
from app.core.microcache import MicroCache
from app.core.pagination import Page, PageParams, paginate
from app.devices import service as devices
from app.devices.schemas import DeviceFilters as ParkDeviceFilters
from app.devices.schemas import DeviceRead, DeviceTwin
from app.economy import permu
from app.enterprise_portal import repository
from app.enterprise_portal.schemas import (
    AlarmCounts,
    DeviceCounts,
    DeviceFilters,
    EnergyMonth,
    EnterprisePerMu,
    Overview,
    PerMuSummary,
    PremiseRead,
    RentYear,
)
from app.parks.deps import EnterpriseContext
from app.telemetry import service as telemetry

OVERVIEW_PREMISES = 100


def today(ctx: EnterpriseContext) -> date:
    """Today in the park's timezone (the default of every period here)."""
    return carbon.today(ctx.timezone)


async def own_device(session: AsyncSession, ctx: EnterpriseContext, device_id: str) -> None:
    """404 unless the device is the enterprise's (the same answer as for no such device)."""
    try:
        row = await devices.load(session, ctx, device_id)
    except NotFound:
        row = None
    if row is None or row["enterprise_id"] != ctx.enterprise_id:
        raise NotFound(f"device {device_id!r} not found for enterprise {ctx.enterprise_id!r}")


async def list_leases(
    session: AsyncSession, *, ctx: EnterpriseContext, active_on: date | None, page: PageParams
) -> Page[LeaseRead]:
    filters = LeaseFilters(enterprise_id=ctx.enterprise_id, active_on=active_on)
    return await leases.list_(session, ctx=ctx, filters=filters, page=page)


async def own_lease(session: AsyncSession, ctx: EnterpriseContext, lease_id: str) -> None:
    """404 unless the lease is the enterprise's."""
    try:
        row = await leases.load(session, ctx, lease_id)
    except NotFound:
        row = None
    if row is None or row["enterprise_id"] != ctx.enterprise_id:
        raise NotFound(f"lease {lease_id!r} not found for enterprise {ctx.enterprise_id!r}")


async def list_premises(
    session: AsyncSession, *, ctx: EnterpriseContext, active_on: date | None, page: PageParams
) -> Page[PremiseRead]:
    after = page.after(1)
    rows = await repository.premises(
        session, ctx.park_id, ctx.enterprise_id, active_on, after[0] if after else None,
        page.fetch_limit,
    )  # fmt: skip
    items, cursor = paginate(rows, page, lambda r: [r["lease_id"]])
    return Page[PremiseRead](
        items=[PremiseRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def list_devices(
    session: AsyncSession, *, ctx: EnterpriseContext, filters: DeviceFilters, page: PageParams
) -> Page[DeviceRead]:
    scoped = ParkDeviceFilters(**filters.model_dump(), enterprise_id=ctx.enterprise_id)
    return await devices.list_(session, ctx=ctx, filters=scoped, page=page)


async def get_device(
    session: AsyncSession, *, ctx: EnterpriseContext, device_id: str
) -> DeviceTwin:
    await own_device(session, ctx, device_id)
    return await devices.get(session, ctx=ctx, device_id=device_id)


async def latest(
    session: AsyncSession, *, ctx: EnterpriseContext, device_id: str
) -> dict[str, Any]:
    await own_device(session, ctx, device_id)
    return await telemetry.latest(session, ctx=ctx, device_id=device_id)


async def bulk_latest(
    session: AsyncSession, *, ctx: EnterpriseContext, device_ids: list[str] | None,
    metrics: list[str] | None, filters: DeviceFilters, cache: MicroCache[bytes],
) -> bytes:  # fmt: skip
    """Newest values of its devices: telemetry's bulk read with the enterprise as a filter, so
    a device id of another enterprise in ``device_ids`` matches nothing."""
    scoped = ParkDeviceFilters(**filters.model_dump(), enterprise_id=ctx.enterprise_id)
    return await telemetry.bulk_latest(
        session, ctx=ctx, device_ids=device_ids, metrics=metrics, filters=scoped, cache=cache
    )


async def series(
    session: AsyncSession, *, ctx: EnterpriseContext, device_id: str, **query: Any
) -> dict[str, Any]:
    """The telemetry series of one of its own devices (``query``: telemetry's parameters)."""
    await own_device(session, ctx, device_id)
    return await telemetry.series(session, ctx=ctx, device_id=device_id, **query)


async def list_alarms(
    session: AsyncSession, *, ctx: EnterpriseContext, status: str, severity: str | None,
    device_id: str | None, page: PageParams,
) -> Page[AlarmRead]:  # fmt: skip
    if device_id is not None:
        await own_device(session, ctx, device_id)
    return await alarms.list_(
        session, ctx=ctx, status=status, shelved="include", severity=severity,
        device_id=device_id, page=page, enterprise_id=ctx.enterprise_id,
    )  # fmt: skip


async def energy(
    session: AsyncSession, *, ctx: EnterpriseContext, start: date | None, end: date | None,
    interval: str,
) -> dict[str, Any]:  # fmt: skip
    """The carbon ledger of the enterprise alone: a row per period with its carriers."""
    return await carbon.ledger_answer(
        session, ctx=ctx, start=start, end=end, group_by="enterprise", interval=interval,
        only=ctx.enterprise_id,
    )  # fmt: skip


async def carbon_account(
    session: AsyncSession, *, ctx: EnterpriseContext, year: int
) -> dict[str, Any]:
    return await carbon_report.build(session, ctx=ctx, year=year, enterprise_id=ctx.enterprise_id)


async def per_mu(
    session: AsyncSession, *, ctx: EnterpriseContext, year: int, scheme: str | None = None
) -> EnterprisePerMu:
    """The park's evaluation (a grade is a rank within the class), the enterprise's item only."""
    result = await permu.evaluate_year(session, ctx=ctx, year=year, scheme=scheme)
    mine = next((i for i in result.items if i.enterprise_id == ctx.enterprise_id), None)
    if mine is None:
        raise NotFound(f"enterprise {ctx.enterprise_id!r} is not in the {year} evaluation")
    fields = result.model_dump(exclude={"items"})
    return EnterprisePerMu(**fields, result=mine)


async def rent_collection(
    session: AsyncSession, *, ctx: EnterpriseContext, first: str, last: str
) -> RentCollection:
    return await rent.collection(
        session, ctx=ctx, first=first, last=last, enterprise_id=ctx.enterprise_id
    )


async def _energy_month(session: AsyncSession, ctx: EnterpriseContext, on: date) -> EnergyMonth:
    answer = await energy(session, ctx=ctx, start=on.replace(day=1), end=on, interval="all")
    row = answer["rows"][0] if answer["rows"] else {}
    return EnergyMonth(
        from_=answer["from"], to=answer["to"], tce_equivalent=row.get("tce_equivalent"),
        tce_equal_value=row.get("tce_equal_value"),
        total_location_t=row.get("total_location_t"), carriers=row.get("carriers", []),
    )  # fmt: skip


async def _per_mu_summary(
    session: AsyncSession, ctx: EnterpriseContext, year: int
) -> PerMuSummary | None:
    try:
        item = (await per_mu(session, ctx=ctx, year=year)).result
    except AppError:  # no evaluation for the year (no scheme, no benchmarks): none to show
        return None
    return PerMuSummary(
        year=year, grade=item.grade, score=item.score, rank=item.rank,
        class_size=item.class_size, firm_class=item.firm_class,
    )  # fmt: skip


async def overview(session: AsyncSession, *, ctx: EnterpriseContext) -> Overview:
    on = today(ctx)
    enterprise = await enterprises.get(session, ctx=ctx, enterprise_id=ctx.enterprise_id)
    held = await repository.premises(
        session, ctx.park_id, ctx.enterprise_id, on, None, OVERVIEW_PREMISES
    )
    counts = await repository.device_counts(session, ctx.park_id, ctx.enterprise_id)
    alarm_counts = await repository.active_alarm_counts(session, ctx.park_id, ctx.enterprise_id)
    first, last = f"{on.year}-01", on.strftime("%Y-%m")
    rent_year = await rent_collection(session, ctx=ctx, first=first, last=last)
    return Overview(
        enterprise=enterprise,
        on=on,
        premises=[PremiseRead.model_validate(dict(r)) for r in held],
        leased_m2=float(sum(r["area_m2"] for r in held)),
        devices=DeviceCounts(total=sum(counts.values()), **counts),
        alarms=AlarmCounts(active=sum(alarm_counts.values()), **alarm_counts),
        energy_month=await _energy_month(session, ctx, on),
        rent_year=RentYear(from_month=first, to_month=last, **rent_year.model_dump(
            include={"due_yuan", "paid_yuan", "outstanding_yuan", "collection_rate"})),
        per_mu=await _per_mu_summary(session, ctx, on.year - 1),
    )  # fmt: skip
