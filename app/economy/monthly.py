"""经济运行月报: the month's overview (app.economy.overview) as a PDF for officials."""

from __future__ import annotations

from datetime import UTC, datetime

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from app.economy.labels import LABELS
from app.economy.overview_repository import INDICATORS
from app.economy.schemas import IndustryRow, Overview
from app.parks import repository as parks
from app.parks.deps import ParkContext
from app.reports import pdf
from app.reports.files import local_time

TITLE = "经济运行月报"


def _rate(rate: float | None, note: str | None) -> str:
    """A growth rate, or the NBS wording (扭亏, 减亏, ...) that stands for it."""
    return note if rate is None and note else pdf.percent(rate)


def _indicator_rows(row: IndustryRow | Overview) -> list[list[str]]:
    head = ["指标", "本月", "同比", "环比", "1-本月累计", "累计同比"]
    return [head] + [
        [
            LABELS[x],
            pdf.number(row.totals.get(x)),
            _rate(row.yoy.get(x), row.yoy_note.get(x)),
            _rate(row.mom.get(x), row.mom_note.get(x)),
            pdf.number(row.ytd.get(x)),
            _rate(row.ytd_yoy.get(x), row.ytd_yoy_note.get(x)),
        ]
        for x in INDICATORS
    ]


def _industry_rows(overview: Overview) -> list[list[str]]:
    head = ["行业门类", "名称", "企业数"] + [LABELS[x] for x in INDICATORS[:4]]
    return [head] + [
        [
            r.section or "未知",
            r.name or "",
            str(r.enterprises),
            *(pdf.number(r.totals.get(x)) for x in INDICATORS[:4]),
        ]
        for r in overview.by_industry
    ]


def document(overview: Overview, *, park: str, tz: str, now: datetime) -> pdf.Document:
    comparable = (
        f"同比、环比仅比较两个月均已填报的企业（同比 {overview.yoy_comparable} 家，"
        f"环比 {overview.mom_comparable} 家）；累计同比比较两年均已填报的同一企业同一月份；"
        "比较基数为零或无数据时留空；基数为负（亏损）时按国家统计局惯例写扭亏、减亏、增亏，"
        "由盈转亏写转亏，不计百分比。"
    )
    coverage = [["指标", "企业数", "规上企业数", "比例"]] + [
        [
            {"digital_transformed": "已数字化转型", "digital_services": "使用数字化服务"}[k],
            str(c.numerator),
            str(c.denominator),
            pdf.percent(c.rate),
        ]
        for k, c in overview.coverage.items()
    ]
    return pdf.Document(
        title=f"{park} {TITLE}",
        facts=[
            ("园区", park),
            ("统计期", overview.month),
            ("填报企业", f"{overview.enterprises} 家"),
            ("规上企业", f"{overview.above_scale_count} 家"),
            ("生成时间", f"{local_time(now, tz)}（{tz}）"),
        ],
        sections=[
            pdf.Section("一、园区合计", _indicator_rows(overview), [comparable]),
            pdf.Section("二、分行业（GB/T 4754 门类）", _industry_rows(overview)),
            pdf.Section("三、规上企业数字化", coverage),
        ],
    )


async def render(
    session: AsyncSession, *, ctx: ParkContext, overview: Overview, font: str = ""
) -> bytes:
    """The month's report as PDF bytes, drawn off the event loop."""
    park = await parks.get(session, ctx.park_id)
    name = str(park["name"]) if park is not None else ctx.park_id
    doc = document(overview, park=name, tz=ctx.timezone, now=datetime.now(UTC))
    return await to_thread.run_sync(pdf.render, doc, font)
