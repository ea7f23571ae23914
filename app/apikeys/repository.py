"""SQL for ``api_key``."""

from __future__ import annotations

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession


async def find_active(
    session: AsyncSession, key_id: str
) -> Row[tuple[str, bytes, str, str | None]] | None:
    """The unrevoked key ``key_id``; touches ``last_used_at`` at most once a minute."""
    row = (
        await session.execute(
            text(
                "SELECT id, secret_hash, role, park_id, "
                "last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale "
                "FROM api_key WHERE id = :id AND revoked_at IS NULL"
            ),
            {"id": key_id},
        )
    ).one_or_none()
    if row is not None and row.stale:
        # SKIP LOCKED: concurrent requests with the same key never queue behind each other.
        await session.execute(
            text(
                "UPDATE api_key SET last_used_at = now() WHERE id = ("
                "SELECT id FROM api_key WHERE id = :id FOR UPDATE SKIP LOCKED)"
            ),
            {"id": key_id},
        )
    return row


async def insert(
    session: AsyncSession,
    key_id: str,
    secret_hash: bytes,
    role: str,
    park_id: str | None,
    name: str | None,
) -> None:
    await session.execute(
        text(
            "INSERT INTO api_key (id, secret_hash, role, park_id, name) "
            "VALUES (:id, :hash, :role, :park, :name)"
        ),
        {"id": key_id, "hash": secret_hash, "role": role, "park": park_id, "name": name},
    )


async def park_exists(session: AsyncSession, park_id: str) -> bool:
    row = await session.execute(text("SELECT 1 FROM park WHERE id = :id"), {"id": park_id})
    return row.first() is not None
