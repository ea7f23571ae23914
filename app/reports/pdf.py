"""PDF reports for officials: a title, the park, the period, the generation time (park-local),
tables with Chinese headers and units, notes, and page numbers.

reportlab draws the text with its built-in CID font ``STSong-Light`` (Adobe's Song font,
which every PDF reader ships), so no font file is needed and Chinese renders offline.
Rendering is CPU-bound: call :func:`render` in a thread (``anyio.to_thread``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

FONT = "STSong-Light"


@dataclass(frozen=True)
class Section:
    """A heading and a table (its first row the header), with notes under it."""

    heading: str
    rows: Sequence[Sequence[Any]]
    notes: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Document:
    title: str
    facts: Sequence[tuple[str, str]]  # (label, value) lines under the title
    sections: Sequence[Section]


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=8),
        "heading": ParagraphStyle(
            "heading", parent=base, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4
        ),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5),
    }


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))


def _table(rows: Sequence[Sequence[Any]], styles: dict[str, Any], width: float) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    cells = [[Paragraph(_text(v), styles["cell"]) for v in row] for row in rows]
    columns = max((len(r) for r in rows), default=1)
    table = Table(cells, colWidths=[width / columns] * columns, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _page_number(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 8)
    canvas.drawCentredString(doc.pagesize[0] / 2, 20, f"第 {doc.page} 页")
    canvas.restoreState()


def render(document: Document) -> bytes:
    """The document as A4 landscape PDF bytes."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = _styles()
    out = io.BytesIO()
    page = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        title=document.title,
        leftMargin=36,
        rightMargin=36,
        topMargin=36,
        bottomMargin=40,
    )
    story: list[Any] = [Paragraph(_text(document.title), styles["title"])]
    story += [Paragraph(f"{_text(k)}：{_text(v)}", styles["body"]) for k, v in document.facts]
    for section in document.sections:
        story.append(Paragraph(_text(section.heading), styles["heading"]))
        if section.rows:
            story.append(_table(section.rows, styles, page.width))
        story += [Paragraph(_text(n), styles["body"]) for n in section.notes]
    page.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
    return out.getvalue()


def number(value: Any, digits: int = 2) -> str:
    """A figure as the reports print it: fixed decimals, blank when unknown."""
    if value is None:
        return ""
    if isinstance(value, bool | str):
        return str(value)
    return f"{float(value):.{digits}f}"


def percent(value: float | None) -> str:
    """A growth ratio as a percentage (0.125 → 12.5%), blank when not comparable."""
    return "" if value is None else f"{value * 100:.1f}%"
