"""The park overview for a month: totals, 同比 and 环比, by GB/T 4754 section, 规上 counts
and the guide's coverage indicators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.economy import gb4754, overview_repository
from app.economy.calc import growth, ratio
from app.economy.overview_repository import INDICATORS
from app.economy.reports import parse_month
from app.economy.schemas import Coverage, IndustryRow, Overview
from app.parks.deps import ParkContext


def _block(row: RowMapping) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    totals = {x: row[x] for x in INDICATORS}
    yoy = {x: growth(row[f"yoy_cur_{x}"], row[f"yoy_base_{x}"]) for x in INDICATORS}
    mom = {x: growth(row[f"mom_cur_{x}"], row[f"mom_base_{x}"]) for x in INDICATORS}
    return totals, yoy, mom


def _industry(row: RowMapping) -> IndustryRow:
    totals, yoy, mom = _block(row)
    section = row["section"]
    return IndustryRow(
        section=section,
        name=gb4754.NAMES.get(section) if section else None,
        enterprises=row["enterprises"],
        totals=totals,
        yoy=yoy,
        mom=mom,
    )


def _empty(month: str) -> dict[str, Any]:
    none = dict.fromkeys(INDICATORS)
    return {"month": month, "enterprises": 0, "totals": none, "yoy": none, "mom": none,
            "yoy_comparable": 0, "mom_comparable": 0}  # fmt: skip


async def get(session: AsyncSession, *, ctx: ParkContext, month: str) -> Overview:
    first = parse_month(month)
    rows = await overview_repository.overview(session, ctx.park_id, first)
    park = next((r for r in rows if not r["by_section"]), None)
    head = _empty(month)
    if park is not None:
        totals, yoy, mom = _block(park)
        head |= {"enterprises": park["enterprises"], "totals": totals, "yoy": yoy, "mom": mom,
                 "yoy_comparable": park["yoy_comparable"],
                 "mom_comparable": park["mom_comparable"]}  # fmt: skip
    counts = await overview_repository.scale_counts(session, ctx.park_id, first)
    above = int(counts["above_scale"])
    coverage = {
        name: Coverage(numerator=counts[name], denominator=above, rate=ratio(counts[name], above))
        for name in ("digital_transformed", "digital_services")
    }
    return Overview(
        **head,
        by_industry=[_industry(r) for r in rows if r["by_section"] and r["enterprises"]],
        above_scale_count=above,
        coverage=coverage,
    )


def table(overview: Overview) -> tuple[list[str], list[list[Any]]]:
    """The overview as one table: the park's row, then one per section."""
    columns = ["section", "name", "enterprises"]
    for x in INDICATORS:
        columns += [x, f"{x}_yoy", f"{x}_mom"]
    park = IndustryRow(section="*", name="园区合计", enterprises=overview.enterprises,
                       totals=overview.totals, yoy=overview.yoy, mom=overview.mom)  # fmt: skip
    rows = []
    for r in [park, *overview.by_industry]:
        row: list[Any] = [r.section, r.name, r.enterprises]
        for x in INDICATORS:
            row += [r.totals.get(x), r.yoy.get(x), r.mom.get(x)]
        rows.append(row)
    return columns, rows
