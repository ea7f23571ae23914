"""SQL composed safely for SQLAlchemy's ``text()``: the statement is a fixed template, the
identifiers in it are quoted by ``psycopg.sql.Identifier``, a fragment chosen from a closed set
of the module's own constants goes in as ``psycopg.sql.SQL``, and values are always bound
parameters (``:name``), never text.

Templates use ``psycopg.sql.SQL``'s ``{name}`` placeholders, so a literal brace of the SQL
itself (an array literal ``'{}'``) is written doubled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import LiteralString

from psycopg import sql
from sqlalchemy import TextClause, text

_BIND_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Fixed = sql.SQL
"""A fixed fragment: one of the module's own constants, never input."""


def compose(template: LiteralString, /, **parts: sql.Composable) -> str:
    """The SQL text of ``template`` with ``parts`` composed in (placeholders ``{name}``)."""
    return sql.SQL(template).format(**parts).as_string()


def statement(template: LiteralString, /, **parts: sql.Composable) -> TextClause:
    """``text()`` of :func:`compose`."""
    return text(compose(template, **parts))


def identifiers(names: Iterable[str], qualifier: str | None = None) -> sql.Composed:
    """``"a", "b"`` (with ``qualifier``: ``q."a", q."b"``)."""
    prefix = (qualifier,) if qualifier else ()
    return sql.SQL(", ").join(sql.Identifier(*prefix, name) for name in names)


def bind(name: str) -> sql.SQL:
    """The bound parameter ``:name`` (``name`` must be a plain identifier)."""
    if not _BIND_NAME.fullmatch(name):
        raise ValueError(f"not a parameter name: {name!r}")
    return sql.SQL(":" + name)  # checked just above


def binds(names: Iterable[str]) -> sql.Composed:
    """``:a, :b``."""
    return sql.SQL(", ").join(bind(name) for name in names)


def assignments(names: Iterable[str]) -> sql.Composed:
    """``"a" = :a, "b" = :b``: an UPDATE's SET list, each value bound under its column's name."""
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), bind(name)) for name in names
    )


def equals(names: Iterable[str], qualifier: str | None = None) -> sql.Composed:
    """``"a" = :a AND "b" = :b``: each column equal to the value bound under its name."""
    prefix = (qualifier,) if qualifier else ()
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(*prefix, name), bind(name)) for name in names
    )


def fragment(template: LiteralString, /, **parts: sql.Composable) -> sql.Composed:
    """A part of a statement: ``template`` with ``parts`` composed in, to compose further."""
    return sql.SQL(template).format(**parts)
