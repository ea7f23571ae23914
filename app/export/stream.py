"""The parts of an export stream: readings in time windows, ``chunk_rows`` per query, rollups
a few buckets of every series per query, into the file being written (CSV text, or Parquet
row groups of about ``chunk_rows`` rows).

Readings: each query takes the rows of a time window after the last row sent, in the order
``(ts, device_id, metric)``, at most ``chunk_rows``; a window that held few rows doubles the
next, one that needed several queries halves it. Stored rows arrive minute by minute for all
devices at once, so a window's rows lie together on disk: a window costs one bitmap scan of
``(series_id, time)`` over a few pages, not one page per reading.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.export import repository
from app.export.datasets import READINGS, ROLLUPS
from app.export.repository import Chosen
from app.export.writers import ParquetStream, csv_header, csv_rows
from app.reports.files import Lang
from app.telemetry.intervals import INTERVALS, Level, next_bucket

Maker = async_sessionmaker[AsyncSession]
TICK = timedelta(microseconds=1)  # PostgreSQL's resolution
Key = tuple[datetime, str, str]
"""A row's place in the order: (time, device_id, metric)."""
FIRST_WINDOW = timedelta(hours=1)
WINDOWS = (timedelta(seconds=1), timedelta(days=31))


@dataclass
class Out:
    """The file being written: its header, its rows, its end."""

    fmt: str
    level: Level | None
    lang: Lang
    tz: str
    chunk_rows: int
    _parquet: ParquetStream | None = None
    _buffer: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[Any, ...]:
        return READINGS if self.level is None else ROLLUPS

    @property
    def shape(self) -> str:
        """The raw query's output: CSV lines (``zh``/``en`` times) or Parquet values."""
        return self.lang if self.fmt == "csv" else "parquet"

    def head(self) -> bytes:
        if self.fmt == "csv":
            return csv_header(self.fields, self.lang, self.tz)
        self._parquet = ParquetStream(self.fields)
        self._buffer = {c.name: [] for c in self.fields}
        return b""

    async def rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """Rows in column order: CSV lines, or kept until a row group is full."""
        if self.fmt == "csv":
            return await to_thread.run_sync(csv_rows, rows, self.lang, self.tz)
        transposed = map(list, zip(*rows, strict=True))
        return await self.columns(dict(zip(self._buffer, transposed, strict=True)))

    async def columns(self, data: dict[str, list[Any]]) -> bytes:
        """Parquet: columns kept until a row group is full, then written."""
        for name, values in data.items():
            self._buffer[name].extend(values)
        if len(self._buffer["metric"]) < self.chunk_rows:
            return b""
        return await self._flush()

    async def readings(self, rows: Sequence[Any]) -> bytes:
        """Rows of ``repository.raw_chunk`` in this file's shape."""
        if self.fmt == "csv":
            return ("\r\n".join(r[3] for r in rows) + "\r\n").encode()
        return await self.columns({
            "ts": [r[3] for r in rows], "device_id": [r[1] for r in rows],
            "metric": [r[2] for r in rows], "value": [r[4] for r in rows],
            "unit": [r[5] for r in rows],
        })  # fmt: skip

    async def _flush(self) -> bytes:
        assert self._parquet is not None
        data, self._buffer = self._buffer, {name: [] for name in self._buffer}
        return await to_thread.run_sync(self._parquet.write, data) if data["metric"] else b""

    async def close(self) -> bytes:
        if self._parquet is None:
            return b""
        rest = await self._flush()
        return rest + await to_thread.run_sync(self._parquet.close)


async def raw_parts(
    maker: Maker, chosen: Chosen, span: tuple[datetime, datetime], after: Key, out: Out
) -> AsyncIterator[bytes]:
    """The chosen series' readings of ``[lo, hi)`` after ``after``, window by window."""
    lo, hi = span
    window = FIRST_WINDOW
    while lo < hi:
        end, rows, queries = min(hi, lo + window), 0, 0
        while True:
            async with maker() as session:
                chunk = await repository.raw_chunk(
                    session, chosen=chosen, lo=lo, hi=end, after=after, limit=out.chunk_rows,
                    shape=out.shape, tz=out.tz,
                )  # fmt: skip
            rows, queries = rows + len(chunk), queries + 1
            if chunk:
                yield await out.readings(chunk)
                after = (chunk[-1][0], chunk[-1][1], chunk[-1][2])
            if len(chunk) < out.chunk_rows:
                break
            lo = after[0]  # the rest of the window: from the last row's time, after it
        if queries > 1:
            window = max(WINDOWS[0], window / 2)
        elif rows * 2 < out.chunk_rows:
            window = min(WINDOWS[1], window * 2)
        lo = end


async def rollup_parts(
    maker: Maker, chosen: Chosen, level: Level, span: tuple[datetime, datetime], after: Key,
    out: Out,
) -> AsyncIterator[bytes]:  # fmt: skip
    """The chosen series' rollup rows of the buckets ``[lo, hi)`` after ``after``, as many
    buckets per query as make about ``chunk_rows`` rows (at least one)."""
    lo, hi = span
    interval = INTERVALS["1h" if level == "hour" else "1d"]
    per_query = max(1, out.chunk_rows // max(1, len(chosen.sids)))
    while lo < hi:
        end = lo
        for _ in range(per_query):
            end = next_bucket(end, interval, out.tz)
            if end >= hi:
                end = hi
                break
        async with maker() as session:
            rows = await repository.rollup_window(
                session, chosen=chosen, level=level, lo=lo, hi=end, after=after, tz=out.tz
            )
        if rows:
            yield await out.rows(rows)
        lo = end
