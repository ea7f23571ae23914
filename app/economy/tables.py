"""Tables in: CSV and XLSX bodies into row dicts (the files out: app.reports.tables).

CSV is UTF-8 (a BOM is accepted); XLSX is read with openpyxl, first sheet, first row the header.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import IO, Any

from app.core import xlsx
from app.core.limits import TableLimits, TableTooLarge
from app.reports.files import CSV, XLSX


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
