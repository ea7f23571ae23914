"""SQL for ``parcel``, ``building``, ``floor`` and ``space``.

The four tables share one shape (key columns, data columns, ``updated_at``), so inserts,
updates and deletes are built from a small description of each; values are always bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from sqlalchemy import RowMapping, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import TextClause, bindparam

from app.core.errors import Conflict
from app.core.integrity import integrity_error
from app.core.sqlcompose import assignments, binds, equals, identifiers, statement


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    json: tuple[str, ...]
    order: str

    def select(self) -> sql.Composed:
        return sql.SQL("SELECT park_id, {columns}, created_at, updated_at FROM {table} ").format(
            columns=identifiers(self.columns), table=sql.Identifier(self.name)
        )

    def bind(self, statement: TextClause, names: Sequence[str]) -> TextClause:
        json = [bindparam(c, type_=JSONB) for c in self.json if c in names]
        return statement.bindparams(*json) if json else statement


PARCEL = Table(
    "parcel",
    ("park_id", "id"),
    (
        "id",
        "name",
        "land_use",
        "geometry",
        "area_m2",
        "certificate_area_m2",
        "certificate_no",
        "tenure",
        "tenure_start",
        "tenure_end",
        "investment_10k_yuan",
        "attributes",
    ),
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


async def get(session: AsyncSession, table: Table, key: dict[str, Any]) -> RowMapping | None:
    query = statement("{select}WHERE {where}", select=table.select(), where=equals(table.keys))
    result = await session.execute(query, key)
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
    where = equals([*key, *(c for c, v in filters.items() if v is not None)])
    order = sql.Identifier(table.order)
    if after is not None:
        where = sql.SQL("{} AND {} > :after").format(where, order)
    query = statement(
        "{select}WHERE {where} ORDER BY {order} LIMIT :limit",
        select=table.select(),
        where=where,
        order=order,
    )
    result = await session.execute(query, {**key, **filters, "after": after, "limit": limit})
    return result.mappings().all()


async def list_all(
    session: AsyncSession, table: Table, park_id: str, **filters: Any
) -> Sequence[RowMapping]:
    """Every row of the park matching the given column values, in key order."""
    query = statement(
        "{select}WHERE {where} ORDER BY {order}",
        select=table.select(),
        where=equals(["park_id", *filters]),
        order=sql.Identifier(table.order),
    )
    result = await session.execute(query, {"park_id": park_id, **filters})
    return result.mappings().all()


async def insert(session: AsyncSession, table: Table, values: dict[str, Any], what: str) -> None:
    names = [c for c in ("park_id", *table.columns) if c in values]
    query = statement(
        "INSERT INTO {table} ({names}) VALUES ({values})",
        table=sql.Identifier(table.name),
        names=identifiers(names),
        values=binds(names),
    )
    try:
        async with session.begin_nested():
            await session.execute(table.bind(query, names), values)
    except IntegrityError as exc:
        raise integrity_error(exc, what) from exc


async def update(
    session: AsyncSession, table: Table, key: dict[str, Any], changes: dict[str, Any]
) -> None:
    names = [c for c in changes if c in table.columns and c not in table.keys]
    query = statement(
        "UPDATE {table} SET {sets}updated_at = now() WHERE {where}",
        table=sql.Identifier(table.name),
        sets=assignments(names) + sql.SQL(", ") if names else sql.SQL(""),
        where=equals(table.keys),
    )
    await session.execute(table.bind(query, names), {**changes, **key})


async def delete(session: AsyncSession, table: Table, key: dict[str, Any], what: str) -> None:
    """Delete the row, or Conflict when something still refers to it (a lease, say)."""
    try:
        async with session.begin_nested():
            query = statement(
                "DELETE FROM {table} WHERE {where}",
                table=sql.Identifier(table.name),
                where=equals(table.keys),
            )
            await session.execute(query, key)
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


PARCEL_BUILDINGS = """
SELECT parcel_id, count(*) AS buildings, sum(footprint_m2) AS footprint_m2,
       sum(floor_area_m2) AS floor_area_m2
FROM building_floor_area
WHERE park_id = :park AND parcel_id = ANY(:parcels)
GROUP BY parcel_id
"""


async def parcel_buildings(
    session: AsyncSession, park_id: str, parcel_ids: list[str]
) -> dict[str, RowMapping]:
    """Per parcel: its buildings' count, footprint and floor area (view building_floor_area)."""
    result = await session.execute(text(PARCEL_BUILDINGS), {"park": park_id, "parcels": parcel_ids})
    return {row["parcel_id"]: row for row in result.mappings()}


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
