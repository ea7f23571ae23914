"""Green and low-carbon services: energy and emissions ledgers, factor tables, manual
entries, green power, budgets."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon import factors as calc
from app.carbon import green, ledger, repository, steam, summary
from app.carbon.schemas import (
    CoefficientCreate,
    FactorCreate,
    GreenPowerCreate,
    GreenPowerRead,
    ManualEntryCreate,
    ManualEntryRead,
    NaturalGasPut,
    ProcessEmissionPut,
    ProcessEmissionRead,
    Settings,
    SteamPut,
)
from app.core.errors import Conflict, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext

MAX_DAYS = 3660
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2998, 12, 31)


def today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def _days(ctx: ParkContext, start: date | None, end: date | None) -> tuple[date, date]:
    end = end or today(ctx.timezone)
    start = start or end.replace(day=1)
    if end < start:
        raise Unprocessable("to: before from", field="to")
    for name, day in (("from", start), ("to", end)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise Unprocessable(f"{name}: outside {FIRST_DAY}..{LAST_DAY}", field=name)
    if (end - start).days >= MAX_DAYS:
        raise Unprocessable(f"the period may span at most {MAX_DAYS} days", field="from")
    return start, end


async def ledger_answer(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    start: date | None,
    end: date | None,
    group_by: str,
    interval: str,
    gaps: bool = False,
    only: str | None = None,
    total: bool = False,
    flights: ledger.Flights | None = None,
) -> dict[str, Any]:
    """The rows of ``/carbon/energy`` and ``/carbon/emissions`` (the same ledger); ``only``:
    the one group (an enterprise's own account), nothing of the others; ``total``: also the
    whole range's rows (``interval=all``'s) from the same ledger; ``flights``: the API
    process's ledgers under way (a ledger so shared is not changed)."""
    days = _days(ctx, start, end)
    book = await ledger.build(
        session, park_id=ctx.park_id, tz=ctx.timezone, days=days, group_by=group_by,
        step="day" if interval == "day" else "month", only=only, flights=flights,
    )  # fmt: skip
    if only is not None:
        book = replace(book, lines=[x for x in book.lines if x.group == only])
    rows = summary.rows(book, group_by=group_by, interval=interval, start=days[0])
    answer = {"from": days[0], "to": days[1], "group_by": group_by, "interval": interval,
              "rows": rows, "meter_gaps": []}  # fmt: skip
    if total:
        answer["total"] = summary.rows(book, group_by=group_by, interval="all", start=days[0])
    if gaps:
        lo, hi, _, _ = ledger.span(ctx.timezone, *days)
        found = await repository.gaps(session, park_id=ctx.park_id, tz=ctx.timezone, lo=lo, hi=hi)
        answer["meter_gaps"] = [dict(r) for r in found]
    return answer


NUMBERS = ("value", "ncv", "carbon_content", "oxidation")


def _number(row: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if k in NUMBERS and v is not None else v
            for k, v in row.items()}  # fmt: skip


def _in_force(rows: list[dict[str, Any]], key: tuple[str, ...], on: date) -> None:
    """Mark the row of each key in force on ``on``: a park's own rows first, then the newest."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        row["in_force"] = False
        if row["valid_from"] > on:
            continue
        k = tuple(row[x] for x in key)
        rank = (row["park_id"] is not None, row["valid_from"])
        current = best.get(k)
        if current is None or rank > (current["park_id"] is not None, current["valid_from"]):
            best[k] = row
    for row in best.values():
        row["in_force"] = True


async def factor_tables(session: AsyncSession, *, ctx: ParkContext) -> dict[str, Any]:
    on = today(ctx.timezone)
    coefficients = [_number(dict(r)) for r in await repository.coefficients(session, ctx.park_id)]
    emission = [_number(dict(r)) for r in await repository.factors(session, ctx.park_id)]
    _in_force(coefficients, ("carrier", "basis"), on)
    _in_force(emission, ("carrier", "method", "region"), on)
    return {
        "as_of": on,
        "grid_region": await repository.region(session, ctx.park_id),
        "carriers": [dict(r) for r in await repository.carriers(session)],
        "coefficients": coefficients,
        "factors": emission,
        "constants": [dict(r) for r in (await repository.constants(session)).values()],
        "targets": [dict(r) for r in await repository.targets(session)],
    }


async def _check_carrier(session: AsyncSession, carrier: str) -> None:
    known = {r["carrier"] for r in await repository.carriers(session)}
    if carrier not in known:
        raise Unprocessable(f"unknown carrier {carrier!r}", field="carrier")


async def check_links(
    session: AsyncSession, ctx: ParkContext, enterprise_id: str | None, building_id: str | None
) -> None:
    """422 when the enterprise or building named in a body is not in the park."""
    for table, row_id in (("enterprise", enterprise_id), ("building", building_id)):
        if row_id is not None and not await repository.exists(session, table, ctx.park_id, row_id):
            raise Unprocessable(f"{table} {row_id!r} not found in the park", field=f"{table}_id")


async def add_coefficient(
    session: AsyncSession, *, ctx: ParkContext, data: CoefficientCreate
) -> dict[str, Any]:
    await _check_carrier(session, data.carrier)
    values = {**data.model_dump(), "park_id": ctx.park_id}
    row_id = await repository.insert_coefficient(session, values)
    if row_id is None:
        raise Conflict("the park already has this coefficient from that date")
    return {"id": row_id, **values}


async def add_factor(
    session: AsyncSession, *, ctx: ParkContext, data: FactorCreate
) -> dict[str, Any]:
    await _check_carrier(session, data.carrier)
    values = {**data.model_dump(), "park_id": ctx.park_id}
    if data.value is None:
        assert data.ncv and data.carbon_content and data.oxidation  # checked by the schema
        values["value"] = calc.combustion_factor(data.ncv, data.carbon_content, data.oxidation)
    row_id = await repository.insert_factor(session, values)
    if row_id is None:
        raise Conflict("the park already has this factor from that date")
    return {"id": row_id, **values}


async def set_settings(session: AsyncSession, *, ctx: ParkContext, data: Settings) -> Settings:
    """Store the park's grid region; 422 for a region without a location factor."""
    known = await repository.regions(session, ctx.park_id)
    if data.grid_region not in known:
        raise Unprocessable(
            f"grid_region: no grid factor for {data.grid_region!r}; one of "
            f"{', '.join(sorted(known))}", field="grid_region",
        )  # fmt: skip
    await repository.set_region(session, ctx.park_id, data.grid_region)
    return data


async def get_settings(session: AsyncSession, *, ctx: ParkContext) -> Settings:
    return Settings(grid_region=await repository.region(session, ctx.park_id))


async def set_steam(session: AsyncSession, *, ctx: ParkContext, data: SteamPut) -> dict[str, Any]:
    """The park's purchased-steam factor from ``valid_from`` on, by the guide's enthalpy
    method: kgCO₂/kg = (h − 83.74) kJ/kg / 1000 x the heat factor in force (kgCO₂/MJ)."""
    try:
        h = steam.enthalpy(data.pressure_mpa, data.temperature_c)
    except steam.SteamStateError as exc:
        raise Unprocessable(str(exc), field="temperature_c") from exc
    heat = await repository.factor_in_force(session, ctx.park_id, "heat", "heat", data.valid_from)
    feedwater = (await repository.constants(session))["feedwater_kj_kg"]
    if heat is None:
        raise Unprocessable("no purchased-heat factor in force on valid_from", field="valid_from")
    parameters = {"pressure_mpa": data.pressure_mpa, "temperature_c": data.temperature_c,
                  "enthalpy_kj_kg": round(h, 2), "feedwater_kj_kg": feedwater["value"],
                  "heat_factor_kg_per_mj": float(heat["value"])}  # fmt: skip
    state = "saturated" if data.temperature_c is None else f"{data.temperature_c} °C"
    values = {
        "park_id": ctx.park_id, "carrier": "steam", "method": "heat", "region": "",
        "valid_from": data.valid_from, "ncv": None, "carbon_content": None, "oxidation": None,
        "value": steam.factor(h, float(feedwater["value"]), float(heat["value"])),
        "source": f"{heat['document'] or heat['source']}: steam {data.pressure_mpa} MPa "
        f"{state}, enthalpy {h:.2f} kJ/kg (IAPWS-IF97), heat (h − {feedwater['value']}) kJ/kg "
        f"x {float(heat['value'])} kgCO₂/MJ", "verify": False,
        "document": heat["document"], "issuer": heat["issuer"], "issued_on": heat["issued_on"],
        "table_ref": heat["table_ref"], "data_year": None, "parameters": parameters,
    }  # fmt: skip
    row_id = await repository.insert_factor(session, values)
    if row_id is None:
        raise Conflict("the park already has a steam factor from that date")
    return {"id": row_id, **values}


async def set_natural_gas(
    session: AsyncSession, *, ctx: ParkContext, data: NaturalGasPut
) -> dict[str, Any]:
    """One calorific value for the park's gas from ``valid_from`` on, for tce and CO₂ alike:
    kgce/m³ = NCV / 29.307 MJ/kgce (GB/T 2589-2020); kgCO₂/m³ = NCV x carbon content x
    oxidation x 44/12, with the carbon content and oxidation of the factor in force."""
    kgce_kj = float((await repository.constants(session))["kgce_kj"]["value"])
    fuel = await repository.factor_in_force(
        session, ctx.park_id, "natural_gas", "combustion", data.valid_from
    )
    if fuel is None or fuel["carbon_content"] is None or fuel["oxidation"] is None:
        raise Unprocessable("no natural-gas factor with its parts in force", field="valid_from")
    ncv = data.ncv_mj_m3 / 1000  # GJ/m³
    cc, ox = float(fuel["carbon_content"]), float(fuel["oxidation"])
    source = f"{data.source}; NCV {data.ncv_mj_m3} MJ/m³ for tce and CO₂"
    coefficient = {"carrier": "natural_gas", "valid_from": data.valid_from,
                   "value": data.ncv_mj_m3 * 1000 / kgce_kj, "verify": False,
                   "source": f"{source}: ÷ {kgce_kj:g} kJ/kgce (GB/T 2589-2020)"}  # fmt: skip
    for basis in ("equivalent", "equal_value"):
        row = {**coefficient, "basis": basis, "park_id": ctx.park_id}
        if await repository.insert_coefficient(session, row) is None:
            raise Conflict("the park already has a natural-gas coefficient from that date")
    factor = {"park_id": ctx.park_id, "carrier": "natural_gas", "method": "combustion",
              "region": "", "valid_from": data.valid_from, "ncv": ncv, "carbon_content": cc,
              "oxidation": ox, "value": calc.combustion_factor(ncv, cc, ox), "verify": False,
              "source": f"{source}; carbon content {cc} tC/TJ, oxidation {ox} from "
              f"{fuel['document'] or fuel['source']}"}  # fmt: skip
    if await repository.insert_factor(session, factor) is None:
        raise Conflict("the park already has a natural-gas factor from that date")
    return {"coefficient_kgce_m3": coefficient["value"], "factor_kgco2_m3": factor["value"],
            "ncv_mj_m3": data.ncv_mj_m3, "valid_from": data.valid_from}  # fmt: skip


async def put_process(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, year: int,
    data: ProcessEmissionPut,
) -> ProcessEmissionRead:  # fmt: skip
    """Enter (or replace) an enterprise's process emissions of a year (tCO₂, Scope 1)."""
    await check_links(session, ctx, enterprise_id, None)
    values = {**data.model_dump(), "park_id": ctx.park_id, "enterprise_id": enterprise_id,
              "year": year}  # fmt: skip
    return ProcessEmissionRead.model_validate(dict(await repository.put_process(session, values)))


async def list_process(
    session: AsyncSession, *, ctx: ParkContext, year: int | None, page: PageParams
) -> Page[ProcessEmissionRead]:
    key = page.after(2, (int, str))
    after = (int(key[0]), str(key[1])) if key else None
    rows = await repository.process_emissions(
        session, ctx.park_id, year, after=after, limit=page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [r["year"], r["enterprise_id"]])
    return Page[ProcessEmissionRead](
        items=[ProcessEmissionRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def create_manual(
    session: AsyncSession, *, ctx: ParkContext, data: ManualEntryCreate
) -> ManualEntryRead:
    await _check_carrier(session, data.carrier)
    await check_links(session, ctx, data.enterprise_id, data.building_id)
    row = await repository.insert_manual(session, {**data.model_dump(), "park_id": ctx.park_id})
    return ManualEntryRead.model_validate(dict(row))


def _date_cursor(page: PageParams) -> tuple[date, str] | None:
    """A (date, id) cursor, or 422 when the date part is not an ISO date."""
    after = page.after(2)
    if after is None:
        return None
    try:
        return date.fromisoformat(after[0]), after[1]
    except ValueError as exc:
        raise Unprocessable("cursor: not a cursor for this list") from exc


async def list_manual(
    session: AsyncSession, *, ctx: ParkContext, page: PageParams
) -> Page[ManualEntryRead]:
    key = _date_cursor(page)
    rows = await repository.list_manual(session, ctx.park_id, key, page.fetch_limit)
    items, cursor = paginate(rows, page, lambda r: [r["day"].isoformat(), str(r["id"])])
    return Page[ManualEntryRead](
        items=[ManualEntryRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def create_green(
    session: AsyncSession, *, ctx: ParkContext, data: GreenPowerCreate
) -> list[GreenPowerRead]:
    """Record a green-power contract or 绿证; 409 when any certificate was used before."""
    await check_links(session, ctx, data.enterprise_id, None)
    base = {"park_id": ctx.park_id, "enterprise_id": data.enterprise_id, "kind": data.kind,
            "month": data.month.replace(day=1), "reference": data.reference}  # fmt: skip
    if data.kind == "contract":
        rows = [{**base, "id": uuid.uuid4(), "certificate_id": None, "kwh": data.kwh}]
    else:
        rows = [{**base, "id": uuid.uuid4(), "certificate_id": c, "kwh": None}
                for c in data.certificate_ids]  # fmt: skip
    if not await repository.insert_green(session, rows):
        used = await repository.used_certificates(session, data.certificate_ids)
        raise Conflict(f"certificate(s) already used: {', '.join(used)}", certificates=used)
    return await _green_rows(session, ctx, [uuid.UUID(str(r["id"])) for r in rows])


async def _green_rows(
    session: AsyncSession, ctx: ParkContext, ids: list[uuid.UUID]
) -> list[GreenPowerRead]:
    rows = await repository.green_by_ids(session, ctx.park_id, ids)
    return [GreenPowerRead.model_validate(dict(r)) for r in rows]


async def list_green(
    session: AsyncSession, *, ctx: ParkContext, page: PageParams
) -> Page[GreenPowerRead]:
    key = _date_cursor(page)
    rows = await repository.list_green(session, ctx.park_id, key, page.fetch_limit)
    items, cursor = paginate(rows, page, lambda r: [r["month"].isoformat(), str(r["id"])])
    return Page[GreenPowerRead](
        items=[GreenPowerRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def green_matching(
    session: AsyncSession, *, ctx: ParkContext, year: int, enterprise_id: str | None
) -> dict[str, Any]:
    """The year's green power of the park (every record) or of one enterprise, matched
    against its grid kWh: kWh covered, certificates used and left over."""
    await check_links(session, ctx, enterprise_id, None)
    group_by = "park" if enterprise_id is None else "enterprise"
    group = enterprise_id or ctx.park_id
    book = await ledger.build(
        session, park_id=ctx.park_id, tz=ctx.timezone,
        days=(date(year, 1, 1), date(year, 12, 31)), group_by=group_by, step="month",
        only=group,
    )  # fmt: skip
    found = book.matches.get((group, year)) or green.Match(year=year)
    return {"park_id": ctx.park_id, "enterprise_id": enterprise_id, **green.as_dict(found)}
