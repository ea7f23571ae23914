"""SQL for ``park``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import bindparam

from app.core.errors import Conflict

COLUMNS = "id, name, timezone, boundary, created_at, updated_at"


async def get(session: AsyncSession, park_id: str) -> RowMapping | None:
    result = await session.execute(
        text(f"SELECT {COLUMNS} FROM park WHERE id = :id"), {"id": park_id}
    )
    return result.mappings().one_or_none()


async def list_(
    session: AsyncSession, *, only: str | None, after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            f"SELECT {COLUMNS} FROM park "
            "WHERE (CAST(:only AS text) IS NULL OR id = :only) "
            "AND (CAST(:after AS text) IS NULL OR id > :after) ORDER BY id LIMIT :limit"
        ),
        {"only": only, "after": after, "limit": limit},
    )
    return result.mappings().all()


async def insert(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    statement = text(
        f"INSERT INTO park (id, name, timezone, boundary) "
        f"VALUES (:id, :name, :timezone, :boundary) RETURNING {COLUMNS}"
    ).bindparams(bindparam("boundary", type_=JSONB))
    try:
        async with session.begin_nested():
            result = await session.execute(statement, values)
    except IntegrityError as exc:
        raise Conflict(f"park {values['id']!r} already exists") from exc
    return result.mappings().one()
