"""Tables in and out: CSV and XLSX bodies into row dicts, row dicts into CSV or XLSX files.

CSV is UTF-8 (a BOM is accepted on input and written on output, so Excel opens Chinese text
correctly); XLSX is read and written with openpyxl, first sheet, first row the header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"


class TableError(ValueError):
    """The body as a whole cannot be read."""


def _csv_rows(body: bytes) -> list[dict[str, Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError("CSV must be UTF-8") from exc
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        rows = [dict(r) for r in reader]
    except csv.Error as exc:
        raise TableError(f"not CSV: {exc}") from exc
    if reader.fieldnames is None:
        raise TableError("no header row")
    for row in rows:
        if None in row:
            raise TableError("a row has more cells than the header")
    return rows


def _cell(header: str, value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if header == "month" and isinstance(value, datetime):  # a date cell: its month
        return value.strftime("%Y-%m")
    return value


def _xlsx_rows(body: bytes) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise TableError(f"not an XLSX workbook: {type(exc).__name__}") from exc
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    if not rows:
        raise TableError("no header row")
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    return [
        {h: _cell(h, v) for h, v in zip(header, row, strict=False) if h}
        for row in rows[1:]
        if any(v not in (None, "") for v in row)
    ]


def read_rows(media: str, body: bytes) -> list[dict[str, Any]]:
    if media == CSV:
        return _csv_rows(body)
    if media == XLSX:
        return _xlsx_rows(body)
    raise TableError(f"send {CSV} or {XLSX}, not {media!r}")


def _plain(value: Any) -> Any:
    """Aware times as RFC 3339 UTC text (Excel has no time zones); the rest as it is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _csv_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(["" if v is None else _plain(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _xlsx_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_plain(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(fmt: str, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Response:
    """A download of ``rows`` as ``{name}.csv`` or ``{name}.xlsx``."""
    if fmt == "xlsx":
        body, media = _xlsx_bytes(columns, rows, name), XLSX
    else:
        body, media = _csv_bytes(columns, rows), CSV + "; charset=utf-8"
    disposition = f'attachment; filename="{name}.{fmt}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
