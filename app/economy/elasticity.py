"""电力消费弹性系数: the growth of electricity use over the growth of value added, for the park
and each GB/T 4754 section, over the months January to the asked one against the same months
a year before.

Definition (国家统计局《中国能源统计年鉴》主要统计指标解释): 电力消费弹性系数 = 电力消费量
增长速度 / 国民经济增长速度. A park has no GDP: the economic growth is the growth of the
firms' reported 工业增加值 (current prices, as reported). Both growths are taken on a
comparable basis (同口径): the firms with metered kWh in both periods and value added
reported for the same months of both years; kWh and value added are summed over those firms
only, so a firm that joined or left moves neither side. The growth of each side follows the
one growth rule (app.economy.calc.change): on a negative base there is no rate, and then no
coefficient; a value-added growth of zero gives none either.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.economy import gb4754, permu_repository, power_repository
from app.economy.calc import change, ratio, shift_month
from app.economy.power import local_midnight
from app.economy.reports import parse_month
from app.economy.schemas import Elasticity, ElasticityRow
from app.parks.deps import ParkContext

SOURCE = (
    "国家统计局《中国能源统计年鉴》主要统计指标解释: 电力消费弹性系数 = 电力消费量增长速度 / "
    "国民经济增长速度; here the economy is the firms' reported 工业增加值 (current prices)"
)


def _row(section: str | None, sums: dict[str, float], firms: int) -> ElasticityRow:
    kwh = change(sums["kwh"], sums["kwh_base"])
    va = change(sums["va"], sums["va_base"])
    return ElasticityRow(
        section=section, name=gb4754.NAMES.get(section) if section else None, enterprises=firms,
        kwh=sums["kwh"], kwh_base=sums["kwh_base"], value_added=sums["va"],
        value_added_base=sums["va_base"], kwh_growth=kwh.rate, kwh_growth_note=kwh.note,
        value_added_growth=va.rate, value_added_growth_note=va.note,
        elasticity=ratio(kwh.rate, va.rate),
    )  # fmt: skip


async def _inputs(
    session: AsyncSession, ctx: ParkContext, first: date, last: date
) -> tuple[dict[str, dict[date, float]], dict[str, dict[date, float]], dict[str, str | None]]:
    base_first = shift_month(first, -12)
    tz = ctx.timezone
    lo, hi = local_midnight(base_first, tz), local_midnight(shift_month(last, 1), tz)
    kwh: dict[str, dict[date, float]] = defaultdict(dict)
    monthly = await power_repository.monthly_kwh(session, park_id=ctx.park_id, tz=tz, lo=lo, hi=hi)
    for (enterprise_id, month), value in monthly.items():
        kwh[enterprise_id][month] = value
    va: dict[str, dict[date, float]] = defaultdict(dict)
    for year in {base_first.year, last.year}:
        for r in await permu_repository.months(session, ctx.park_id, year):
            va[r["enterprise_id"]][r["month"]] = float(r["value_added"])
    sections = {r["enterprise_id"]: gb4754.section(r["industry_code"])
                for r in await permu_repository.enterprises(session, ctx.park_id)}  # fmt: skip
    return kwh, va, sections


async def get(session: AsyncSession, *, ctx: ParkContext, month: str) -> Elasticity:
    last = parse_month(month)
    first = last.replace(month=1)
    months = [first.replace(month=m) for m in range(1, last.month + 1)]
    kwh, va, sections = await _inputs(session, ctx, first, last)
    sums: dict[str | None, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    firms: dict[str | None, int] = defaultdict(int)
    for enterprise_id, by_month in kwh.items():
        pairs = [m for m in months if m in va.get(enterprise_id, {})
                 and shift_month(m, -12) in va.get(enterprise_id, {})]  # fmt: skip
        cur = sum(by_month.get(m, 0.0) for m in months)
        base = sum(by_month.get(shift_month(m, -12), 0.0) for m in months)
        if not pairs or cur <= 0 or base <= 0:
            continue
        row: dict[str, Any] = {"kwh": cur, "kwh_base": base,
                               "va": sum(va[enterprise_id][m] for m in pairs),
                               "va_base": sum(va[enterprise_id][shift_month(m, -12)]
                                              for m in pairs)}  # fmt: skip
        for key in (None, sections.get(enterprise_id) or "?"):
            firms[key] += 1
            for name, value in row.items():
                sums[key][name] += value
    empty = {"kwh": 0.0, "kwh_base": 0.0, "va": 0.0, "va_base": 0.0}
    return Elasticity(
        month=month,
        months=[m.strftime("%Y-%m") for m in months],
        park=_row(None, sums.get(None, empty), firms.get(None, 0)),
        by_industry=[_row(s, sums[s], firms[s]) for s in sorted(k for k in sums if k)],
        source=SOURCE,
    )
