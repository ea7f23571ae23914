"""亩均 schemes as data (economy_scheme): the rules an evaluation uses, and their admin.

A scheme names its indicator set per firm class (weights, benchmarks, ``when_missing``,
caps on single items), its scope (GB/T 4754 sections; 规下 firms only from a land
threshold), the grade cut-offs, the minimum age, and its 加分 / 减分 / 一票否决 items; a
firm's items of a year are recorded as events. Seeded: a Zhejiang-style scheme (浙政发〔2018〕
5号, Huangyan 2022 benchmarks) and a Jiangsu-style one (苏政发〔2017〕143号, Huai'an 2024).
The park evaluates with the scheme asked for, else its ``permu_scheme`` parameter, else
its benchmark set (economy_benchmark and economy_grade_cutoff) as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound, Unprocessable
from app.economy import config_repository, repository
from app.economy.calc import Benchmark, Firm
from app.economy.scheme_schemas import (
    PermuEvents,
    SchemeAdjustment,
    SchemeDefinition,
    SchemePut,
    SchemeRead,
    SchemeScope,
)
from app.parks.deps import ParkContext


@dataclass
class Rules:
    """What one evaluation uses, from a scheme or from the park's benchmark set."""

    benches: dict[str, list[Benchmark]]
    cutoffs: list[tuple[str, float]]
    min_age: int
    benchmark_year: int | None = None
    region: str | None = None
    scope: SchemeScope | None = None
    adjustments: dict[str, SchemeAdjustment] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)
    scheme: dict[str, Any] | None = None


def _legacy(
    bench_rows: Sequence[RowMapping], cut_rows: Sequence[RowMapping], min_age: int
) -> Rules:
    benches: dict[str, list[Benchmark]] = {"above_scale": [], "small": []}
    for r in bench_rows:
        benches[r["firm_class"]].append(Benchmark(
            r["indicator"], r["benchmark"], r["weight"], r["when_missing"], r["unit"],
            r["source"],
        ))  # fmt: skip
    return Rules(
        benches=benches,
        cutoffs=[(c["grade"], c["upper_pct"]) for c in cut_rows],
        min_age=min_age,
        benchmark_year=bench_rows[0]["year"] if bench_rows else None,
        region=bench_rows[0]["region"] if bench_rows else None,
        sources={"cutoffs": sorted({str(c["source"]) for c in cut_rows if c["source"]})},
    )


def _from_scheme(row: RowMapping) -> Rules:
    d = SchemeDefinition.model_validate(row["definition"])
    benches: dict[str, list[Benchmark]] = {
        cls: [Benchmark(i.indicator, i.benchmark, i.weight, i.when_missing, i.unit,
                        i.source or "; ".join(d.sources), i.cap) for i in items]
        for cls, items in d.classes.items()
    }  # fmt: skip
    for cls in ("above_scale", "small"):
        benches.setdefault(cls, [])
    cuts = sorted(d.cutoffs, key=lambda c: c.upper_pct)
    return Rules(
        benches=benches,
        cutoffs=[(c.grade, c.upper_pct) for c in cuts],
        min_age=d.min_age_years,
        benchmark_year=row["year"],
        region=d.region,
        scope=d.scope,
        adjustments={a.item: a for a in d.adjustments},
        sources={"scheme": d.sources},
        scheme={
            "code": row["code"],
            "year": row["year"],
            "park_id": row["park_id"],
            "name": d.name,
            "region": d.region,
            "sources": d.sources,
            "verify": d.verify,
        },
    )


async def rules_for(session: AsyncSession, ctx: ParkContext, year: int, code: str | None) -> Rules:
    params = await config_repository.parameters(session, ctx.park_id, date(year, 12, 31))
    chosen = params["permu_scheme"]["value"] if "permu_scheme" in params else None
    code = code or (str(chosen) if chosen else None)
    if code is not None:
        row = await config_repository.scheme(session, ctx.park_id, code, year)
        if row is None:
            raise NotFound(f"no 亩均 scheme {code!r} (GET .../economy/schemes lists them)")
        return _from_scheme(row)
    min_age = int(config_repository.value(params, "min_age_years"))
    return _legacy(
        await config_repository.benchmarks(session, ctx.park_id, year),
        await config_repository.cutoffs(session, ctx.park_id, year),
        min_age,
    )


def out_of_scope(rules: Rules, section: str | None, firm_class: str, land: float) -> str | None:
    """Why the scheme does not evaluate the firm (grade T), if it does not."""
    scope = rules.scope
    if scope is None:
        return None
    if scope.sections is not None and section not in scope.sections:
        return f"outside the scheme's scope: GB/T 4754 section {section or 'unknown'}"
    minimum = scope.small_min_land_mu
    if firm_class == "small" and minimum is not None and land < minimum:
        return (f"outside the scheme's scope: 规下 with {land:.2f} 亩 "
                    f"(< {scope.small_min_land_mu:g} 亩)")  # fmt: skip
    return None


def apply_events(firm: Firm, events: Sequence[RowMapping], rules: Rules) -> list[dict[str, Any]]:
    """The firm's recorded items that the scheme scores: bonus points and 一票否决."""
    applied = []
    for e in events:
        item = rules.adjustments.get(e["item"])
        if item is None:
            continue
        firm.bonus += item.points
        if item.veto and firm.veto is None:
            firm.veto = f"{item.item}: {item.label} (一票否决)"
        applied.append({"item": item.item, "label": item.label, "points": item.points,
                        "veto": item.veto, "note": e["note"], "source": item.source})  # fmt: skip
    return applied


# ---------------------------------------------------------------- admin


def _read(row: RowMapping) -> SchemeRead:
    return SchemeRead(code=row["code"], year=row["year"], park_id=row["park_id"],
                      definition=SchemeDefinition.model_validate(row["definition"]))  # fmt: skip


async def list_(
    session: AsyncSession, *, ctx: ParkContext, year: int, code: str | None = None
) -> list[SchemeRead]:
    rows = await config_repository.schemes(session, ctx.park_id, year)
    return [_read(r) for r in rows if code is None or r["code"] == code]


def _check(definition: SchemeDefinition) -> None:
    grades = sorted(definition.cutoffs, key=lambda c: c.upper_pct)
    if [c.grade for c in grades] != ["A", "B", "C", "D"] or grades[-1].upper_pct != 1:
        raise Unprocessable("cutoffs: A, B, C and D once each, rising, D at 1")
    for cls, items in definition.classes.items():
        names = [i.indicator for i in items]
        if len(names) != len(set(names)):
            raise Unprocessable(f"classes.{cls}: an indicator given twice")
    codes = [a.item for a in definition.adjustments]
    if len(codes) != len(set(codes)):
        raise Unprocessable("adjustments: an item given twice")


async def put(session: AsyncSession, *, ctx: ParkContext, data: SchemePut) -> SchemeRead:
    _check(data.definition)
    body = orjson.dumps(data.definition.model_dump()).decode()
    await config_repository.put_scheme(session, ctx.park_id, data.code, data.year, body,
                                       ctx.key.id)  # fmt: skip
    return SchemeRead(code=data.code, year=data.year, park_id=ctx.park_id,
                      definition=data.definition)  # fmt: skip


async def put_events(
    session: AsyncSession, *, ctx: ParkContext, enterprise_id: str, data: PermuEvents
) -> PermuEvents:
    if not await repository.enterprise_ids(session, ctx.park_id, [enterprise_id]):
        raise NotFound(f"enterprise {enterprise_id!r} not found in park {ctx.park_id!r}")
    if len({i.item for i in data.items}) != len(data.items):
        raise Unprocessable("items: an item given twice")
    await config_repository.replace_events(
        session, (ctx.park_id, enterprise_id, data.year), [i.model_dump() for i in data.items],
        ctx.key.id,
    )  # fmt: skip
    return data


def dump(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]
