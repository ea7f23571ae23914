"""The park overview for a month: totals, 同比 and 环比 (with the NBS wording on a negative
base), 累计 (January to the month) and 累计同比, by GB/T 4754 section, 规上 / 规下 totals,
规上 counts and the guide's coverage indicators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.economy import gb4754, overview_repository
from app.economy.calc import GROWTH_SOURCE, change, ratio
from app.economy.overview_repository import INDICATORS
from app.economy.reports import parse_month
from app.economy.schemas import Coverage, IndustryRow, Overview, ScaleRow
from app.parks.deps import ParkContext

SOURCES = {
    "growth": GROWTH_SOURCE,
    "comparable": "同比/环比: the firms reported in both months; 累计同比: the (firm, month) "
    "pairs reported in both years",
    "scale": "规上 / 规下 by the statistics register's rule: the previous year's complete result "
    "against the sector's NBS threshold (economy_scale_threshold; each firm's basis, threshold "
    "and document at .../economy/scale/{enterprise_id})",
    "sections": "GB/T 4754-2017 国民经济行业分类, 门类",
}


def _changes(row: RowMapping, cur: str, base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rates and NBS notes (扭亏, 减亏, 增亏, 转亏) of every indicator, by the one growth rule."""
    found = {x: change(row[f"{cur}_{x}"], row[f"{base}_{x}"]) for x in INDICATORS}
    return {x: c.rate for x, c in found.items()}, {x: c.note for x, c in found.items()}


def _block(row: RowMapping) -> dict[str, Any]:
    yoy, yoy_note = _changes(row, "yoy_cur", "yoy_base")
    mom, mom_note = _changes(row, "mom_cur", "mom_base")
    return {"totals": {x: row[x] for x in INDICATORS}, "yoy": yoy, "mom": mom,
            "yoy_note": yoy_note, "mom_note": mom_note}  # fmt: skip


def _ytd_block(row: RowMapping | None) -> dict[str, Any]:
    if row is None:
        none = dict.fromkeys(INDICATORS)
        return {"ytd": none, "ytd_yoy": none, "ytd_yoy_note": none, "ytd_comparable": 0}
    rate, note = _changes(row, "ytd_cur", "ytd_base")
    return {"ytd": {x: row[f"ytd_{x}"] for x in INDICATORS}, "ytd_yoy": rate,
            "ytd_yoy_note": note, "ytd_comparable": row["comparable"]}  # fmt: skip


def _industry(row: RowMapping, ytd: dict[str | None, RowMapping]) -> IndustryRow:
    section = row["section"]
    return IndustryRow(
        section=section,
        name=gb4754.NAMES.get(section) if section else None,
        enterprises=row["enterprises"],
        **_block(row),
        **_ytd_block(ytd.get(section)),
    )


def _empty(month: str) -> dict[str, Any]:
    none = dict.fromkeys(INDICATORS)
    return {"month": month, "enterprises": 0, "totals": none, "yoy": none, "mom": none,
            "yoy_note": none, "mom_note": none, "yoy_comparable": 0,
            "mom_comparable": 0}  # fmt: skip


def _scale_rows(rows: Sequence[RowMapping]) -> list[ScaleRow]:
    return [
        ScaleRow(
            scale=r["scale"],
            enterprises=r["enterprises"],
            totals={x: r[x] for x in INDICATORS},
            ytd={x: r[f"ytd_{x}"] for x in INDICATORS},
        )
        for r in rows
    ]


async def get(session: AsyncSession, *, ctx: ParkContext, month: str) -> Overview:
    first = parse_month(month)
    rows = await overview_repository.overview(session, ctx.park_id, first)
    ytd_rows = await overview_repository.ytd(session, ctx.park_id, first)
    ytd = {r["section"]: r for r in ytd_rows if r["by_section"]}
    park = next((r for r in rows if not r["by_section"]), None)
    head = _empty(month)
    if park is not None:
        head |= {"enterprises": park["enterprises"], **_block(park),
                 "yoy_comparable": park["yoy_comparable"],
                 "mom_comparable": park["mom_comparable"]}  # fmt: skip
    head |= _ytd_block(next((r for r in ytd_rows if not r["by_section"]), None))
    head["ytd_months"] = [first.replace(month=m).strftime("%Y-%m") for m in
                          range(1, first.month + 1)]  # fmt: skip
    head["by_scale"] = _scale_rows(await overview_repository.split(session, ctx.park_id, first))
    counts = await overview_repository.scale_counts(session, ctx.park_id, first)
    above = int(counts["above_scale"])
    coverage = {
        name: Coverage(numerator=counts[name], denominator=above, rate=ratio(counts[name], above))
        for name in ("digital_transformed", "digital_services")
    }
    return Overview(
        **head,
        by_industry=[_industry(r, ytd) for r in rows if r["by_section"] and r["enterprises"]],
        growth_rule=GROWTH_SOURCE,
        sources=SOURCES,
        above_scale_count=above,
        coverage=coverage,
    )


def table(overview: Overview) -> tuple[list[str], list[list[Any]]]:
    """The overview as one table: the park's row, then one per section."""
    columns = ["section", "name", "enterprises"]
    for x in INDICATORS:
        columns += [x, f"{x}_yoy", f"{x}_yoy_note", f"{x}_mom", f"{x}_mom_note", f"{x}_ytd",
                    f"{x}_ytd_yoy", f"{x}_ytd_yoy_note"]  # fmt: skip
    park = IndustryRow(section="*", name="园区合计", enterprises=overview.enterprises,
                       totals=overview.totals, yoy=overview.yoy, mom=overview.mom,
                       yoy_note=overview.yoy_note, mom_note=overview.mom_note, ytd=overview.ytd,
                       ytd_yoy=overview.ytd_yoy,
                       ytd_yoy_note=overview.ytd_yoy_note)  # fmt: skip
    rows = []
    for r in [park, *overview.by_industry]:
        row: list[Any] = [r.section, r.name, r.enterprises]
        for x in INDICATORS:
            row += [r.totals.get(x), r.yoy.get(x), r.yoy_note.get(x), r.mom.get(x),
                    r.mom_note.get(x), r.ytd.get(x), r.ytd_yoy.get(x),
                    r.ytd_yoy_note.get(x)]  # fmt: skip
        rows.append(row)
    return columns, rows
