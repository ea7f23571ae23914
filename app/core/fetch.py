"""The fetch tail of a repository read, written once: run a statement with its bound values
and take its rows as mappings (``fetch_all``), as plain dicts (``fetch_dicts``) or the one row
or none (``fetch_one``).

Statements are ``text()`` or SQLAlchemy constructs (a plain string is taken as ``text()``);
values are always bound parameters, never part of the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

Statement = str | Executable
Params = Mapping[str, Any] | None


def _executable(statement: Statement) -> Executable:
    return text(statement) if isinstance(statement, str) else statement


async def fetch_all(
    session: AsyncSession, statement: Statement, params: Params = None
) -> Sequence[RowMapping]:
    """Every row of ``statement`` as a mapping."""
    return (await session.execute(_executable(statement), params)).mappings().all()


async def fetch_dicts(
    session: AsyncSession, statement: Statement, params: Params = None
) -> list[dict[str, Any]]:
    """Every row of ``statement`` as a plain dict: for loops over thousands of rows, where a
    ``RowMapping``'s key lookup (and, for a missing key, the exception it raises inside) was a
    quarter of the map's time for 2,000 devices (py-spy)."""
    result = await session.execute(_executable(statement), params)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


async def fetch_one(
    session: AsyncSession, statement: Statement, params: Params = None
) -> RowMapping | None:
    """The one row of ``statement`` as a mapping, or None (more than one: an error)."""
    return (await session.execute(_executable(statement), params)).mappings().one_or_none()
