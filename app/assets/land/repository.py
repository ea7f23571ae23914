"""SQL for ``parcel``, ``building``, ``floor`` and ``space``.

The four tables share one shape (key columns, data columns, ``updated_at``), so inserts,
updates and deletes are built from a small description of each; values are always bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import TextClause, bindparam

from app.core.errors import Conflict
from app.core.integrity import integrity_error


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    json: tuple[str, ...]
    order: str

    def select(self) -> str:
        columns = ", ".join(self.columns)
        return f"SELECT park_id, {columns}, created_at, updated_at FROM {self.name} "

    def bind(self, statement: TextClause, names: Sequence[str]) -> TextClause:
        json = [bindparam(c, type_=JSONB) for c in self.json if c in names]
        return statement.bindparams(*json) if json else statement


PARCEL = Table(
    "parcel",
    ("park_id", "id"),
    ("id", "name", "land_use", "geometry", "area_m2", "attributes"),
    ("geometry", "attributes"),
    "id",
)
BUILDING = Table(
    "building",
    ("park_id", "id"),
    ("id", "name", "parcel_id", "footprint", "floors", "use", "area_m2", "attributes"),
    ("footprint", "attributes"),
    "id",
)
FLOOR = Table(
    "floor",
    ("park_id", "building_id", "number"),
    ("building_id", "number", "name", "area_m2"),
    (),
    "number",
)
SPACE = Table(
    "space",
    ("park_id", "id"),
    ("id", "building_id", "floor", "name", "area_m2", "status", "attributes"),
    ("attributes",),
    "id",
)


def _where(table: Table) -> str:
    return " AND ".join(f"{k} = :{k}" for k in table.keys)


async def get(session: AsyncSession, table: Table, key: dict[str, Any]) -> RowMapping | None:
    result = await session.execute(text(table.select() + "WHERE " + _where(table)), key)
    return result.mappings().one_or_none()


async def list_(
    session: AsyncSession,
    table: Table,
    key: dict[str, Any],
    filters: dict[str, Any],
    after: Any,
    limit: int,
) -> Sequence[RowMapping]:
    """Rows matching ``key`` (a prefix of the table's key) and the non-null ``filters``,
    after the cursor value of the ordering column."""
    where = [f"{k} = :{k}" for k in key]
    where += [f"{c} = :{c}" for c, v in filters.items() if v is not None]
    if after is not None:
        where.append(f"{table.order} > :after")
    statement = text(
        table.select() + "WHERE " + " AND ".join(where) + f" ORDER BY {table.order} LIMIT :limit"
    )
    result = await session.execute(statement, {**key, **filters, "after": after, "limit": limit})
    return result.mappings().all()


async def list_all(
    session: AsyncSession, table: Table, park_id: str, **filters: Any
) -> Sequence[RowMapping]:
    """Every row of the park matching the given column values, in key order."""
    where = "".join(f" AND {c} = :{c}" for c in filters)
    result = await session.execute(
        text(table.select() + "WHERE park_id = :park_id" + where + f" ORDER BY {table.order}"),
        {"park_id": park_id, **filters},
    )
    return result.mappings().all()


async def insert(session: AsyncSession, table: Table, values: dict[str, Any], what: str) -> None:
    names = [c for c in ("park_id", *table.columns) if c in values]
    statement = table.bind(
        text(
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join(':' + n for n in names)})"
        ),
        names,
    )
    try:
        async with session.begin_nested():
            await session.execute(statement, values)
    except IntegrityError as exc:
        raise integrity_error(exc, what) from exc


async def update(
    session: AsyncSession, table: Table, key: dict[str, Any], changes: dict[str, Any]
) -> None:
    names = [c for c in changes if c in table.columns and c not in table.keys]
    sets = "".join(f"{c} = :{c}, " for c in names)
    statement = table.bind(
        text(f"UPDATE {table.name} SET {sets}updated_at = now() WHERE {_where(table)}"), names
    )
    await session.execute(statement, {**changes, **key})


async def delete(session: AsyncSession, table: Table, key: dict[str, Any], what: str) -> None:
    """Delete the row, or Conflict when something still refers to it (a lease, say)."""
    try:
        async with session.begin_nested():
            await session.execute(text(f"DELETE FROM {table.name} WHERE {_where(table)}"), key)
    except IntegrityError as exc:
        diag = getattr(exc.orig, "diag", None)
        table_name = getattr(diag, "table_name", None) or "another table"
        raise Conflict(f"{what} is still referred to by rows of {table_name}") from exc


async def lock_parcels(session: AsyncSession, park_id: str) -> None:
    """Serialise parcel writes of one park until the transaction ends, so that two parcels
    written at once cannot both pass the overlap check."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('parktwin.parcel:' || :park))"),
        {"park": park_id},
    )


async def count_buildings_on(session: AsyncSession, park_id: str, parcel_id: str) -> int:
    result = await session.execute(
        text("SELECT count(*) FROM building WHERE park_id = :park AND parcel_id = :parcel"),
        {"park": park_id, "parcel": parcel_id},
    )
    return int(result.scalar_one())


async def unlink_devices(session: AsyncSession, park_id: str, building_id: str) -> None:
    """Devices of a deleted building keep existing, in no building."""
    await session.execute(
        text(
            "UPDATE device SET building_id = NULL, updated_at = now() "
            "WHERE park_id = :park AND building_id = :building"
        ),
        {"park": park_id, "building": building_id},
    )


async def park_boundary(session: AsyncSession, park_id: str) -> dict[str, Any] | None:
    result = await session.execute(
        text("SELECT boundary FROM park WHERE id = :park"), {"park": park_id}
    )
    boundary: dict[str, Any] | None = result.scalar_one_or_none()
    return boundary
