"""The report document (事故快报) in the form the authorities expect: 时间, 地点, 单位, 经过,
伤亡, 损失, 措施, 报告人 (the content list of 条例 Art. 12), as HTML and as PDF (layout and the
Chinese font: ``app.reports.pdf``). Times are park-local."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from app.emergency.accident import SOURCE
from app.emergency.schemas import ReportRead
from app.reports import pdf
from app.reports.files import local_time


def _time(value: Any, tz: str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return local_time(value, tz) if isinstance(value, datetime) else ""


def _yuan(value: Any) -> str:
    amount = Decimal(str(value or 0))
    return f"{amount:,.2f} 元（{amount / 10_000:,.2f} 万元）"


def fields(report: ReportRead) -> list[tuple[str, str]]:
    """(label, text) in the order of Art. 12."""
    c = report.content
    tz = str(c.get("timezone") or "Asia/Shanghai")
    phone = f"（电话 {c['reporter_phone']}）" if c.get("reporter_phone") else ""
    grade = c.get("grade_zh") or "险情（未造成人员伤亡和直接经济损失）"
    return [
        ("时间", f"{_time(c.get('occurred_at'), tz)}（知悉 {_time(c.get('learned_at'), tz)}）"),
        ("地点", str(c.get("place") or "")),
        ("单位", str(c.get("unit") or "")),
        ("类型及等级", f"{c.get('type_zh') or c.get('type')}；{grade}"),
        ("经过", str(c.get("narrative") or "")),
        (
            "伤亡",
            f"死亡 {c.get('deaths', 0)} 人，重伤（含急性工业中毒）{c.get('serious_injuries', 0)} "
            f"人，轻伤 {c.get('minor_injuries', 0)} 人，下落不明 {c.get('missing', 0)} 人",
        ),
        ("损失", f"直接经济损失 {_yuan(c.get('direct_loss_yuan'))}"),
        ("措施", str(c.get("measures") or "")),
        ("报告人", f"{report.sent_by}{phone}"),
        ("报送", f"{report.recipient}，{_time(report.sent_at, tz)}，{report.kind_zh}"),
    ]


def title(report: ReportRead) -> str:
    what = "生产安全事故" if report.content.get("category") == "accident" else "险情"
    return f"{what}{report.kind_zh}"


def html_page(report: ReportRead) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in fields(report))
    heading = escape(title(report))
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{heading}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:6px;"
        "text-align:left;vertical-align:top}th{width:8em;background:#eef}</style></head>"
        f"<body><h1>{heading}</h1><table>{rows}</table>"
        f"<p>依据：{escape(SOURCE)} 第九条、第十二条。</p></body></html>"
    )


def pdf_bytes(report: ReportRead, font_path: str = "") -> bytes:
    """CPU-bound: call in a thread."""
    document = pdf.Document(
        title=title(report),
        facts=[("报告编号", str(report.id)), ("报送机关", report.recipient)],
        sections=[
            pdf.Section(
                "报告内容",
                [["项目", "内容"], *[[k, v] for k, v in fields(report)]],
                notes=[f"依据：{SOURCE} 第九条、第十二条。"],
            )
        ],
    )
    return pdf.render(document, font_path)
