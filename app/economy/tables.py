"""Tables in and out: CSV and XLSX bodies into row dicts, row dicts into CSV or XLSX files.

CSV is UTF-8 (a BOM is accepted on input and written on output, so Excel opens Chinese text
correctly); XLSX is read and written with openpyxl, first sheet, first row the header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

from fastapi import Response

from app.core import xlsx
from app.core.cells import formula_like, neutralise
from app.core.limits import TableLimits, TableTooLarge

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"


class TableError(ValueError):
    """The body as a whole cannot be read, or passes a limit (the message names it)."""


def _csv_rows(source: IO[bytes], limits: TableLimits) -> list[dict[str, Any]]:
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        reader = csv.DictReader(limits.lines(text), strict=True)
        if reader.fieldnames is None:
            raise TableError("no header row")
        limits.check_columns(len(reader.fieldnames))
        rows: list[dict[str, Any]] = []
        for row in reader:
            limits.check_rows(len(rows) + 1)
            if None in row:
                raise TableError("a row has more cells than the header")
            for value in row.values():
                limits.check_cell(len(rows) + 1, value or "")
            rows.append(dict(row))
    except UnicodeDecodeError as exc:
        raise TableError("CSV must be UTF-8") from exc
    except csv.Error as exc:
        raise TableError(f"not CSV: {exc}") from exc
    except TableTooLarge as exc:
        raise TableError(str(exc)) from exc
    finally:
        text.detach()
    return rows


def _cell(header: str, value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if header == "month" and isinstance(value, datetime):  # a date cell: its month
        return value.strftime("%Y-%m")
    return value


def _xlsx_rows(source: IO[bytes], limits: TableLimits) -> list[dict[str, Any]]:
    try:
        rows = xlsx.read_first_sheet(source, limits)
    except (TableTooLarge, xlsx.NotAWorkbook) as exc:
        raise TableError(str(exc)) from exc
    if not rows:
        raise TableError("no header row")
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    return [
        {h: _cell(h, v) for h, v in zip(header, row, strict=False) if h}
        for row in rows[1:]
        if any(v not in (None, "") for v in row)
    ]


def read_rows(media: str, source: IO[bytes], limits: TableLimits) -> list[dict[str, Any]]:
    """The rows of a CSV or XLSX body, held to ``limits`` (CPU-bound: call it in a thread)."""
    if media == CSV:
        return _csv_rows(source, limits)
    if media == XLSX:
        return _xlsx_rows(source, limits)
    raise TableError(f"send {CSV} or {XLSX}, not {media!r}")


def _plain(value: Any) -> Any:
    """Aware times as RFC 3339 UTC text (Excel has no time zones); the rest as it is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _csv_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    writer.writerows(["" if v is None else neutralise(_plain(v)) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """Formula-like text as a string cell: openpyxl would write any text starting with ``=``
    as a live formula."""
    if not formula_like(value):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _xlsx_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append([_xlsx_cell(sheet, c) for c in columns])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, _plain(v)) for v in row])
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
