"""The module's figures: what is in force for a park, and a park's own versions.

Parameters get a new version from ``valid_from`` on (409 for a second one on the same date);
a year's benchmark set replaces the park's own set for that year. The seeded defaults
(``park_id`` NULL) are never changed through the API.
"""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Unprocessable
from app.economy import config_repository
from app.economy.reports import parse_month
from app.economy.schemas import (
    INDICATORS,
    BenchmarkRead,
    BenchmarkSet,
    CutoffRead,
    ParameterCreate,
    ParameterRead,
    Settings,
)
from app.parks.deps import ParkContext


async def get(session: AsyncSession, *, ctx: ParkContext, on: date, year: int) -> Settings:
    params = await config_repository.parameters(session, ctx.park_id, on)
    benches = await config_repository.benchmarks(session, ctx.park_id, year)
    cuts = await config_repository.cutoffs(session, ctx.park_id, year)
    return Settings(
        on=on,
        year=year,
        parameters=[ParameterRead.model_validate(dict(p)) for p in params.values()],
        benchmarks=[BenchmarkRead.model_validate(dict(b)) for b in benches],
        cutoffs=[CutoffRead.model_validate(dict(c)) for c in cuts],
    )


def _check_value(data: ParameterCreate) -> None:
    if data.name == "power_base_month":
        if data.value is not None:
            parse_month(str(data.value))
    elif data.name == "permu_scheme":
        if data.value is not None and not re.match(r"^[a-z0-9_-]{1,40}$", str(data.value)):
            raise Unprocessable("value: permu_scheme takes a scheme code or null", field="value")
    elif not isinstance(data.value, float | int) or data.value < 0:
        raise Unprocessable(f"value: {data.name} takes a number >= 0", field="value")


async def add_parameter(
    session: AsyncSession, *, ctx: ParkContext, data: ParameterCreate
) -> ParameterRead:
    _check_value(data)
    values = data.model_dump()
    values["value"] = orjson.dumps(data.value).decode()
    if not await config_repository.insert_parameter(session, ctx.park_id, values):
        raise Conflict(f"{data.name} already has a version from {data.valid_from} in this park")
    return ParameterRead(**data.model_dump(), verify=False, park_id=ctx.park_id)


def _check_set(data: BenchmarkSet) -> None:
    seen = set()
    for item in data.items:
        if item.indicator not in INDICATORS[item.firm_class]:
            allowed = ", ".join(INDICATORS[item.firm_class])
            raise Unprocessable(f"items: {item.firm_class} indicators are {allowed}")
        if (item.firm_class, item.indicator) in seen:
            raise Unprocessable(f"items: {item.firm_class} {item.indicator} given twice")
        seen.add((item.firm_class, item.indicator))
    cuts = sorted(data.cutoffs, key=lambda c: c.grade)
    if [c.grade for c in cuts] != ["A", "B", "C", "D"] or cuts[-1].upper_pct != 1:
        raise Unprocessable("cutoffs: A, B, C and D once each, D at 1")
    if any(a.upper_pct >= b.upper_pct for a, b in pairwise(cuts)):
        raise Unprocessable("cutoffs: upper_pct must rise from A to D")


async def put_benchmarks(
    session: AsyncSession, *, ctx: ParkContext, data: BenchmarkSet
) -> Settings:
    _check_set(data)
    await config_repository.replace_benchmarks(
        session,
        ctx.park_id,
        data.year,
        data.region,
        [i.model_dump() for i in data.items],
        [c.model_dump() for c in data.cutoffs],
    )
    return await get(session, ctx=ctx, on=date(data.year, 12, 31), year=data.year)
