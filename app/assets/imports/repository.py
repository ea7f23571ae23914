"""Which of an import's keys are rows already (they are updated, the rest created)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

TABLES = ("parcel", "building", "floor", "space", "enterprise", "lease", "equipment", "device")


async def existing_keys(
    session: AsyncSession,
    table: str,
    key: tuple[str, ...],
    park_id: str,
    keys: list[tuple[Any, ...]],
) -> set[tuple[Any, ...]]:
    assert table in TABLES
    if key == ("id",):
        sql = f"SELECT id FROM {table} WHERE park_id = :park AND id = ANY(:a)"
        params = {"park": park_id, "a": [k[0] for k in keys]}
    else:
        assert key == ("building_id", "number")
        sql = (
            "SELECT building_id, number FROM floor WHERE park_id = :park "
            "AND (building_id, number) IN (SELECT * FROM unnest("
            "CAST(:a AS text[]), CAST(:b AS integer[])))"
        )
        params = {"park": park_id, "a": [k[0] for k in keys], "b": [k[1] for k in keys]}
    result = await session.execute(text(sql), params)
    return {tuple(row) for row in result.all()}


async def stored_values(
    session: AsyncSession, table: str, park_id: str, row_id: str, columns: list[str]
) -> dict[str, Any]:
    """Some columns of a row keyed by ``id`` (the columns are schema field names)."""
    assert table in TABLES and all(c.isidentifier() for c in columns)
    result = await session.execute(
        text(f"SELECT {', '.join(columns)} FROM {table} WHERE park_id = :park AND id = :id"),
        {"park": park_id, "id": row_id},
    )
    row = result.mappings().one_or_none()
    return dict(row) if row else {}
