"""The export files, written part by part into the response: CSV (app.reports.files' rules:
UTF-8 with a BOM, CRLF, formula-like text neutralised, ``zh`` or ``en`` headers) and Parquet
(pyarrow, one row group per part, English column names, UTC timestamps)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from app.export.datasets import Column, arrow_schema
from app.reports.files import Lang, cell, csv_rows_bytes


def csv_header(columns: tuple[Column, ...], lang: Lang, tz: str) -> bytes:
    """The first line, with the BOM: labels (time columns naming the park's zone) or names."""
    if lang == "en":
        return csv_rows_bytes([[c.name for c in columns]])
    zone = f"（{tz}）"
    return csv_rows_bytes([[c.label + (zone if c.type == "timestamp" else "") for c in columns]])


def csv_affixes(device_id: str, metric: str, unit: str) -> tuple[str, str]:
    """What comes between a reading's time and its value (``,device,metric,``) and after the
    value (``,unit``), as CSV cells: the same on every line of a series."""
    middle = csv_rows_bytes([["", device_id, metric, ""]], bom=False).decode().rstrip("\r\n")
    suffix = csv_rows_bytes([["", unit]], bom=False).decode().rstrip("\r\n")
    return middle, suffix


def csv_rows(rows: Sequence[Sequence[Any]], lang: Lang, tz: str) -> bytes:
    """Data lines (no BOM): times as the language has them (park-local or RFC 3339 UTC)."""
    return csv_rows_bytes([[cell(v, lang, tz) for v in row] for row in rows], bom=False)


class _Drain:
    """A write-only file for pyarrow whose bytes are taken out after each row group."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


class ParquetStream:
    """A Parquet file made row group by row group: :meth:`write` returns the bytes ready to
    send, :meth:`close` the rest (the footer)."""

    def __init__(self, columns: tuple[Column, ...]) -> None:
        self.schema = arrow_schema(columns)
        self._sink = _Drain()
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")

    def write(self, data: dict[str, list[Any]]) -> bytes:
        """One row group from columns of Python values (``{name: values}``)."""
        table = pa.Table.from_pydict(data, schema=self.schema)
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))
        return self._sink.take()

    def close(self) -> bytes:
        self._writer.close()
        return self._sink.take()
