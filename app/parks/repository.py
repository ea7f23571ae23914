"""SQL for ``park``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import bindparam

from app.core.fetch import fetch_all
from app.core.integrity import integrity_error
from app.core.sqlcompose import Fixed, assignments, identifiers, statement

COLUMNS = identifiers(("id", "name", "timezone", "boundary", "created_at", "updated_at"))
GET = statement("SELECT {columns} FROM park WHERE id = :id", columns=COLUMNS)
LIST = statement(
    "SELECT {columns} FROM park "
    "WHERE (CAST(:only AS text) IS NULL OR id = :only) "
    "AND (CAST(:after AS text) IS NULL OR id > :after) ORDER BY id LIMIT :limit",
    columns=COLUMNS,
)
INSERT = statement(
    "INSERT INTO park (id, name, timezone, boundary) "
    "VALUES (:id, :name, :timezone, :boundary) RETURNING {columns}",
    columns=COLUMNS,
).bindparams(bindparam("boundary", type_=JSONB))
UPDATABLE = ("name", "boundary")


async def get(session: AsyncSession, park_id: str) -> RowMapping | None:
    result = await session.execute(GET, {"id": park_id})
    return result.mappings().one_or_none()


async def list_(
    session: AsyncSession, *, only: str | None, after: str | None, limit: int
) -> Sequence[RowMapping]:
    return await fetch_all(session, LIST, {"only": only, "after": after, "limit": limit})


async def update(session: AsyncSession, park_id: str, changes: dict[str, Any]) -> None:
    sets = [c for c in UPDATABLE if c in changes]
    update = statement(
        "UPDATE park SET {sets}updated_at = now() WHERE id = :id",
        sets=assignments(sets) + Fixed(", ") if sets else Fixed(""),
    )
    if "boundary" in changes:
        update = update.bindparams(bindparam("boundary", type_=JSONB))
    await session.execute(update, {**changes, "id": park_id})


async def land_polygons(
    session: AsyncSession, park_id: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, id, polygon) of the park's parcels and building footprints."""
    result = await session.execute(
        text(
            "SELECT 'parcel', id, geometry FROM parcel WHERE park_id = :park "
            "UNION ALL SELECT 'building', id, footprint FROM building WHERE park_id = :park "
            "ORDER BY 1 DESC, 2"
        ),
        {"park": park_id},
    )
    return [(str(k), str(i), dict(g)) for k, i, g in result.all()]


async def insert(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    try:
        async with session.begin_nested():
            result = await session.execute(INSERT, values)
    except IntegrityError as exc:
        raise integrity_error(exc, f"park {values['id']!r}", scope=None) from exc
    return result.mappings().one()


async def enterprise_exists(session: AsyncSession, park_id: str, enterprise_id: str) -> bool:
    """Whether the park has the enterprise (the scope check of the enterprise routes)."""
    result = await session.execute(
        text("SELECT 1 FROM enterprise WHERE park_id = :park AND id = :id"),
        {"park": park_id, "id": enterprise_id},
    )
    return result.first() is not None
