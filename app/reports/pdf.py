"""PDF reports for officials: a title, the park, the period, the generation time (park-local),
tables with Chinese headers and units, notes, and page numbers.

The text is drawn with a TrueType font with Chinese glyphs, embedded as a subset so the file
reads the same everywhere: ``PARKTWIN_PDF_FONT``, else the first well-known system font found.
Without one, reportlab's built-in CID font ``STSong-Light`` is named but not embedded: Acrobat
supplies it, a reader without a CJK font shows boxes (logged once as a warning).
Rendering is CPU-bound: call :func:`render` in a thread (``anyio.to_thread``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

logger = logging.getLogger(__name__)

FONT = "STSong-Light"
KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)


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


def _truetype(path: str) -> str | None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = "ParkCJK-" + Path(path).stem  # one name per file: reportlab's registry is global
    try:
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    except Exception as exc:  # reportlab raises TTFError, OSError, struct errors
        logger.warning("PDF font %s not usable (%s)", path, exc)
        return None
    return name


@cache
def font(configured: str = "") -> str:
    """The registered font name: the configured or a known TrueType font, else STSong-Light."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    for path in [configured] if configured else KNOWN_FONTS:
        if Path(path).is_file() and (name := _truetype(path)) is not None:
            return name
    logger.warning("no TrueType CJK font found: the PDFs name %s without embedding it", FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles(name: str) -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=name, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=8),
        "heading": ParagraphStyle(
            "heading",
            parent=base,
            fontSize=12,
            leading=16,
            spaceBefore=10,
            spaceAfter=4,
            keepWithNext=1,
        ),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5),
    }


def _text(value: Any, cid: bool = False) -> str:
    """Escaped for a Paragraph; STSong-Light (GBK) has no subscript two, so tCO₂ as tCO2."""
    text = escape("" if value is None else str(value))
    return text.replace("₂", "2") if cid else text


def _table(rows: Sequence[Sequence[Any]], styles: dict[str, Any], width: float, cid: bool) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    cells = [[Paragraph(_text(v, cid), styles["cell"]) for v in row] for row in rows]
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


def _page_number(name: str, canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(name, 8)
    canvas.drawCentredString(doc.pagesize[0] / 2, 20, f"第 {doc.page} 页")
    canvas.restoreState()


def render(document: Document, font_path: str = "") -> bytes:
    """The document as A4 landscape PDF bytes (``font_path``: settings.pdf_font)."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    name = font(font_path)
    cid = name == FONT
    styles = _styles(name)
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
    story: list[Any] = [Paragraph(_text(document.title, cid), styles["title"])]
    story += [
        Paragraph(f"{_text(k, cid)}：{_text(v, cid)}", styles["body"]) for k, v in document.facts
    ]
    for section in document.sections:
        story.append(Paragraph(_text(section.heading, cid), styles["heading"]))
        if section.rows:
            story.append(_table(section.rows, styles, page.width, cid))
        story += [Paragraph(_text(n, cid), styles["body"]) for n in section.notes]
    numbered = partial(_page_number, name)
    page.build(story, onFirstPage=numbered, onLaterPages=numbered)
    return out.getvalue()


def number(value: Any, digits: int = 2) -> str:
    """A figure as the reports print it: fixed decimals, blank when unknown."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)  # text, dates
    return f"{float(value):.{digits}f}"


def percent(value: float | None) -> str:
    """A growth ratio as a percentage (0.125 → 12.5%), blank when not comparable."""
    return "" if value is None else f"{value * 100:.1f}%"
