"""Files out: the one owner of CSV and XLSX downloads (PDF layout: app.reports.pdf).

Two header languages. ``zh`` (the default for downloads) writes each column's Chinese label
with its unit and times in the park's zone as ``YYYY-MM-DD HH:MM`` (the zone named in the
header); ``en`` writes the machine names and RFC 3339 UTC times, exactly as the exports
always did, for scripts. Every text cell goes through app.core.cells (no formula runs).
CSV: UTF-8 with a BOM and CRLF line ends, so Excel opens Chinese text. XLSX: a styled, frozen
header row, column widths from the content, numbers as numbers, text never a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Request, Response

from app.core.cells import formula_like, neutralise

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
PDF = "application/pdf"
Lang = Literal["zh", "en"]
Labeller = Callable[[str], str]


def local_time(value: datetime, tz: str) -> str:
    """An aware time as ``YYYY-MM-DD HH:MM`` in the park's zone."""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def headers(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], lang: Lang, label: Labeller, tz: str
) -> list[str]:
    """The header row: machine names (``en``) or labels, the zone named on time columns."""
    if lang == "en":
        return list(columns)
    timed = {i for row in rows for i, v in enumerate(row) if isinstance(v, datetime)}
    return [label(c) + (f"（{tz}）" if i in timed else "") for i, c in enumerate(columns)]


def cell(value: Any, lang: Lang, tz: str) -> Any:
    """A value as a file holds it: times as text in the language's convention."""
    if isinstance(value, datetime):
        return utc_text(value) if lang == "en" else local_time(value, tz)
    return value


def csv_rows_bytes(rows: Sequence[Sequence[Any]], *, bom: bool = True) -> bytes:
    """Rows as CSV for Excel: UTF-8 with a BOM, CRLF, formula-like text neutralised (without
    ``bom``: the rows that follow, in a file streamed in parts)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(["" if v is None else neutralise(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def csv_bytes(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    return csv_rows_bytes([head, *rows])


def _width(values: Sequence[Any]) -> float:
    """Characters wide, CJK counted double; between 8 and 50."""
    longest = max((sum(2 if ord(ch) > 0x2E7F else 1 for ch in str(v)) for v in values), default=0)
    return float(min(max(longest + 2, 8), 50))


def _text_cell(sheet: Any, value: Any, *, header: bool = False) -> Any:
    """Text as a string cell (openpyxl would write text starting with ``=`` as a formula)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    cell = WriteOnlyCell(sheet, value=value)
    if formula_like(value):
        cell.data_type = "s"
    if header:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    return cell


def xlsx_bytes(head: Sequence[str], rows: Sequence[Sequence[Any]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for i, name in enumerate(head):
        column = [name, *(r[i] for r in rows[:500] if i < len(r) and r[i] is not None)]
        sheet.column_dimensions[get_column_letter(i + 1)].width = _width(column)
    sheet.append([_text_cell(sheet, c, header=True) for c in head])
    for row in rows:
        sheet.append([_text_cell(sheet, v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_bytes(
    fmt: str, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
    *, lang: Lang = "en", label: Labeller = str, tz: str = "UTC",
) -> tuple[bytes, str]:  # fmt: skip
    """The body and media type of ``rows`` as a CSV or XLSX file (CPU-bound for big tables)."""
    head = headers(columns, rows, lang, label, tz)
    body = [[cell(v, lang, tz) for v in row] for row in rows]
    if fmt == "xlsx":
        return xlsx_bytes(head, body, name), XLSX
    return csv_bytes(head, body), CSV + "; charset=utf-8"


def download(body: bytes, media: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


def export(
    fmt: str, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
    *, lang: Lang = "en", label: Labeller = str, tz: str = "UTC",
) -> Response:  # fmt: skip
    """A download of ``rows`` as ``{name}.csv`` or ``{name}.xlsx``."""
    body, media = file_bytes(fmt, name, columns, rows, lang=lang, label=label, tz=tz)
    return download(body, media, f"{name}.{fmt}")


def wants_pdf(request: Request) -> bool:
    """True when the client asks for a PDF by ``Accept``."""
    return PDF in request.headers.get("accept", "")
