"""Which of an import's keys are rows already (they are updated, the rest created)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.sql import Identifier
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import compose, identifiers

TABLES = ("parcel", "building", "floor", "space", "enterprise", "lease", "equipment", "device")


async def existing_keys(
    session: AsyncSession,
    table: str,
    key: tuple[str, ...],
    park_id: str,
    keys: list[tuple[Any, ...]],
    columns: Sequence[str] = (),
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The keys among ``keys`` that are stored, each with its stored ``columns`` (rows keyed
    by ``id`` only)."""
    assert table in TABLES and all(c.isidentifier() for c in columns)
    if key == ("id",):
        sql = compose(
            "SELECT {selected} FROM {table} WHERE park_id = :park AND id = ANY(:a)",
            selected=identifiers(["id", *columns]),
            table=Identifier(table),
        )
        params = {"park": park_id, "a": [k[0] for k in keys]}
    else:
        assert key == ("building_id", "number") and not columns
        sql = (
            "SELECT building_id, number FROM floor WHERE park_id = :park "
            "AND (building_id, number) IN (SELECT * FROM unnest("
            "CAST(:a AS text[]), CAST(:b AS integer[])))"
        )
        params = {"park": park_id, "a": [k[0] for k in keys], "b": [k[1] for k in keys]}
    result = await session.execute(text(sql), params)
    width = len(key)
    return {tuple(row[:width]): dict(zip(columns, row[width:], strict=True)) for row in result}
