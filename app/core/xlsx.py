"""The first sheet of an uploaded XLSX workbook, read within ``TableLimits``.

A workbook is a zip of XML parts, and openpyxl believes what they say. Before openpyxl opens
it, the zip's declared sizes are checked: the total uncompressed size, and the compression ratio
of each large part (a zip bomb compresses a thousandfold, a real sheet about tenfold). Python's
zipfile never inflates a part beyond its declared size, so the declaration is a real bound.
Then the sheet's declared ``<dimension>`` is checked, because openpyxl's read-only mode pads
every row to it (a 5 KB workbook declaring ``A1:XFD1048576`` would cost minutes of CPU).
Finally the rows are read with the dimension reset (so nothing is padded) and a cap on rows,
columns and cell size, which holds whatever the file declares.
"""

from __future__ import annotations

import zipfile
from typing import IO, Any

from app.core.limits import TableLimits, TableTooLarge, mib

RATIO_CHECKED_FROM = 1024 * 1024
"""Parts smaller than this are not ratio-checked: small XML parts compress wildly anyway."""


class NotAWorkbook(ValueError):
    """The body is not a readable XLSX workbook."""


def check_zip(source: IO[bytes], limits: TableLimits) -> None:
    """TableTooLarge when the parts declare too much data, or compress like a zip bomb."""
    try:
        with zipfile.ZipFile(source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise NotAWorkbook(f"not an XLSX workbook: {exc}") from exc
    finally:
        source.seek(0)
    total = sum(part.file_size for part in parts)
    if total > limits.xlsx_uncompressed:
        raise TableTooLarge(
            f"the workbook unpacks to {mib(total)}; at most {mib(limits.xlsx_uncompressed)} "
            "(PARKTWIN_IMPORT_XLSX_MAX_UNCOMPRESSED)"
        )
    for part in parts:
        if part.file_size >= RATIO_CHECKED_FROM:
            ratio = part.file_size / max(part.compress_size, 1)
            if ratio > limits.xlsx_ratio:
                raise TableTooLarge(
                    f"{part.filename} is compressed {ratio:.0f} to 1; at most "
                    f"{limits.xlsx_ratio} to 1 (PARKTWIN_IMPORT_XLSX_MAX_RATIO)"
                )


def _check_dimension(sheet: Any, limits: TableLimits) -> None:
    rows, columns = sheet.max_row, sheet.max_column  # as declared by <dimension>, or None
    if rows is not None and rows > limits.rows + 1:
        raise TableTooLarge(
            f"the sheet declares {rows} rows; at most {limits.rows} and a header "
            "(PARKTWIN_IMPORT_MAX_ROWS)"
        )
    if columns is not None:
        limits.check_columns(columns)


def _checked_row(row: tuple[Any, ...], number: int, limits: TableLimits) -> tuple[Any, ...]:
    limits.check_columns(len(row))
    for value in row:
        if isinstance(value, str):
            limits.check_cell(number, value)
    return row


def read_first_sheet(source: IO[bytes], limits: TableLimits) -> list[tuple[Any, ...]]:
    """The first sheet's rows (the header first) as value tuples; NotAWorkbook or
    TableTooLarge. CPU-bound: call it in a thread."""
    from openpyxl import load_workbook

    check_zip(source, limits)
    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise NotAWorkbook(f"not an XLSX workbook: {type(exc).__name__}") from exc
    try:
        sheet = book.worksheets[0]
        _check_dimension(sheet, limits)
        sheet.reset_dimensions()  # read what is there; pad nothing
        rows: list[tuple[Any, ...]] = []
        for row in sheet.iter_rows(min_row=1, min_col=1, values_only=True):
            limits.check_rows(len(rows))  # the header is row 0
            rows.append(_checked_row(row, len(rows), limits))
        return rows
    finally:
        book.close()
