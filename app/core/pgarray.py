"""Array parameters for the statements that pass a batch as arrays (``unnest(%s::int4[], ...)``).

psycopg dumps a Python list element by element in Python (its ``ListDumper`` looks up a dumper
for each element, dumps and escapes it): at 20,000 readings/s that was a fifth of an ingest
worker's CPU with the GIL held (py-spy, bench/park100k; docs/benchmarks.md). A list wrapped in
one of these types says its element type once, and its dumper writes the whole array at once:
numbers and times in PostgreSQL's binary array format with one ``struct`` call, text as the
array literal with one ``str.join`` (480 float8 values: 885 µs through psycopg's list dumper,
19 µs here).

    conn.execute("... unnest(%s::int4[], %s::float8[]) ...", (Int4s(ids), Float8s(values)))

Each dumper sends the array's type oid, so the ``::int4[]`` casts in the SQL stay (they document
the statement) but are not needed. ``None`` is SQL NULL. An element of the wrong type fails in
the dumper, before the statement is sent: a float or str among integers, an integer out of
range (``struct.error``), a naive datetime (its zone would be the session's guess).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

from app.core.clock import to_us


class Int4s(list[int]):
    """A list of ints (or None) sent as ``int4[]``."""


class Int8s(list[int]):
    """A list of ints (or None) sent as ``int8[]``."""


class Float8s(list[float]):
    """A list of floats or ints (or None) sent as ``float8[]``."""


class Timestamptzs(list[datetime]):
    """A list of timezone-aware datetimes (or None) sent as ``timestamptz[]``."""


class Texts(list[str]):
    """A list of str (or None) sent as ``text[]``."""


# Binary array: ndim, has-null flag, element oid, then per dimension its length and lower
# bound; then per element its byte length (-1: NULL) and its bytes, all big-endian.
_HEADER = ">5i"


@lru_cache(maxsize=512)
def _layout(code: str, count: int) -> struct.Struct:
    return struct.Struct(_HEADER + ("i" + code) * count)


def _binary(values: list[Any], code: str, size: int, element_oid: int) -> bytes:
    count = len(values)
    if not count:
        return struct.pack(">3i", 0, 0, element_oid)  # an empty array has no dimension
    if None in values:
        return _binary_with_nulls(values, code, size, element_oid)
    fields = [size] * (2 * count)
    fields[1::2] = values
    return _layout(code, count).pack(1, 0, element_oid, count, 1, *fields)


def _binary_with_nulls(values: list[Any], code: str, size: int, element_oid: int) -> bytes:
    element = struct.Struct(">i" + code)
    parts = [struct.pack(_HEADER, 1, 1, element_oid, len(values), 1)]
    parts += [b"\xff\xff\xff\xff" if v is None else element.pack(size, v) for v in values]
    return b"".join(parts)


PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01 UTC in Unix microseconds: the origin of PostgreSQL's binary timestamps."""


def _micros(value: datetime | None) -> int | None:
    """timestamptz's binary value; ``to_us`` raises TypeError on a naive datetime or a date."""
    return None if value is None else to_us(value) - PG_EPOCH_US


def _texts(values: list[Any]) -> bytes:
    if not values:
        return b"{}"
    if None not in values:
        joined = "".join(values)  # a TypeError for anything that is not a str
        if '"' not in joined and "\\" not in joined:
            # each element quoted: unquoted, a device called NULL would be read as NULL
            return ('{"' + '","'.join(values) + '"}').encode()
    return ("{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}").encode()


def _quoted(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a text array element must be a str, not {type(value).__name__}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dumper(array_type: str, dump: Callable[[Any], bytes], binary: bool) -> type[Dumper]:
    class ArrayDumper(Dumper):
        oid = pg_types.get_oid(array_type)
        format = Format.BINARY if binary else Format.TEXT

        def dump(self, obj: Any) -> bytes:
            return dump(obj)

    ArrayDumper.__qualname__ = f"ArrayDumper[{array_type}]"
    return ArrayDumper


def _numbers(element: str, code: str, size: int) -> Callable[[list[Any]], bytes]:
    element_oid = pg_types.get_oid(element)
    return lambda values: _binary(values, code, size, element_oid)


_timestamps = _numbers("timestamptz", "q", 8)

DUMPERS: dict[type[list[Any]], type[Dumper]] = {
    Int4s: _dumper("int4[]", _numbers("int4", "i", 4), binary=True),
    Int8s: _dumper("int8[]", _numbers("int8", "q", 8), binary=True),
    Float8s: _dumper("float8[]", _numbers("float8", "d", 8), binary=True),
    Timestamptzs: _dumper("timestamptz[]", lambda v: _timestamps([_micros(t) for t in v]), True),
    Texts: _dumper("text[]", _texts, binary=False),
}

for _list_type, _array_dumper in DUMPERS.items():
    psycopg.adapters.register_dumper(_list_type, _array_dumper)
