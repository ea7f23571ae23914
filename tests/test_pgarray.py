"""app.core.pgarray: batch arrays as PostgreSQL reads them back, and wrong elements refused."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from app.core.pgarray import Float8s, Int4s, Int8s, Texts, Timestamptzs

SHANGHAI = timezone(timedelta(hours=8))


def back(db: psycopg.Connection, cast: str, value: object) -> object:
    row = db.execute(f"SELECT %s::{cast}", (value,)).fetchone()
    assert row is not None
    return row[0]


def test_int_arrays_read_back(db: psycopg.Connection) -> None:
    values = [0, 1, -1, 2_147_483_647, -2_147_483_648, 7]
    assert back(db, "int4[]", Int4s(values)) == values
    big = [0, 9_223_372_036_854_775_807, -9_223_372_036_854_775_808, 1_733_369_600_000_000]
    assert back(db, "int8[]", Int8s(big)) == big


def test_float_array_keeps_every_bit(db: psycopg.Connection) -> None:
    values = [0.1, -0.0, 1e-308, 5e-324, 1.7976931348623157e308, 41.5, 3.141592653589793]
    got = back(db, "float8[]", Float8s(values))
    assert isinstance(got, list)
    assert [struct.pack(">d", v) for v in got] == [struct.pack(">d", v) for v in values]
    # ints among the floats (a JSON 41 rather than 41.0) are numbers too
    assert back(db, "float8[]", Float8s([41, 0.5])) == [41.0, 0.5]
    special = back(db, "float8[]", Float8s([math.inf, -math.inf, math.nan]))
    assert isinstance(special, list)
    assert special[:2] == [math.inf, -math.inf] and math.isnan(special[2])


def test_nulls_and_empty_arrays(db: psycopg.Connection) -> None:
    assert back(db, "int4[]", Int4s([1, None, 3])) == [1, None, 3]
    assert back(db, "float8[]", Float8s([None, 2.5])) == [None, 2.5]
    assert back(db, "text[]", Texts(["a", None])) == ["a", None]
    assert back(db, "timestamptz[]", Timestamptzs([None])) == [None]
    for cls, cast in ((Int4s, "int4[]"), (Int8s, "int8[]"), (Float8s, "float8[]"),
                      (Texts, "text[]"), (Timestamptzs, "timestamptz[]")):  # fmt: skip
        assert back(db, cast, cls([])) == []
        assert db.execute(f"SELECT cardinality(%s::{cast})", (cls([]),)).fetchone() == (0,)


def test_texts_are_quoted_whatever_they_hold(db: psycopg.Connection) -> None:
    # NULL unquoted in an array literal is SQL NULL; a device may well be called that
    hostile = ["NULL", "null", "", " padded ", 'say "hi"', "back\\slash", "{x,y}", "a,b", "设备"]
    assert back(db, "text[]", Texts(hostile)) == hostile
    assert back(db, "text[]", Texts(["plain", "b04-gd0230"])) == ["plain", "b04-gd0230"]


def test_times_keep_the_instant_to_the_microsecond(db: psycopg.Connection) -> None:
    values = [
        datetime(2026, 12, 5, 2, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 5, 10, 0, 0, 123457, tzinfo=SHANGHAI),  # 02:00:00.123457 UTC
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before PostgreSQL's epoch
    ]
    got = back(db, "timestamptz[]", Timestamptzs(values))
    assert got == values  # aware datetimes compare as instants
    us = db.execute(
        "SELECT array_agg((extract(epoch FROM t) * 1000000)::int8 ORDER BY o) "
        "FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS u(t, o)",
        (Timestamptzs(values),),
    ).fetchone()
    # 2026-12-05T02:00Z: 56 years since 1970 with 14 leap days (1972-2024) = 20,454 days, then
    # 334 days to 1 December and 4 more = 20,792 days = 1,796,428,800 s, + 7,200 s (02:00) =
    # 1,796,436,000 s; 2000-01-01: 30 years with 7 leap days = 10,957 days = 946,684,800 s
    assert us == ([1_796_436_000_123_456, 1_796_436_000_123_457, 946_684_799_999_999],)


def test_unnest_of_several_arrays_lines_them_up(db: psycopg.Connection) -> None:
    rows = db.execute(
        "SELECT * FROM unnest(%s::text[], %s::int4[], %s::int8[], %s::float8[])",
        (Texts(["a", "b"]), Int4s([1, 2]), Int8s([10, 20]), Float8s([0.5, 1.5])),
    ).fetchall()
    assert rows == [("a", 1, 10, 0.5), ("b", 2, 20, 1.5)]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (Int4s([1, 2.5]), struct.error),  # a float among integers
        (Int4s([2_147_483_648]), struct.error),  # out of int4's range
        (Int8s(["1"]), struct.error),
        (Float8s([1.0, "2"]), struct.error),
        (Texts(["a", 1]), TypeError),
        (Texts([None, 1]), TypeError),
        (Timestamptzs([datetime(2026, 12, 5)]), TypeError),  # naive: whose midnight?
        (Timestamptzs([datetime(2026, 12, 5, tzinfo=UTC).date()]), TypeError),
    ],
)
def test_a_wrong_element_fails_before_anything_is_sent(
    db: psycopg.Connection, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        db.execute("SELECT %s", (value,))
    assert db.execute("SELECT 1").fetchone() == (1,)  # the connection is still usable
