"""SQL for ``api_key``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession


async def insert(
    session: AsyncSession,
    key_id: str,
    secret_hash: bytes,
    role: str,
    park_id: str | None,
    name: str | None,
    *,
    expires_at: datetime | None = None,
    created_by: str | None = None,
    enterprise_id: str | None = None,
) -> None:
    await session.execute(
        text(
            "INSERT INTO api_key (id, secret_hash, role, park_id, name, expires_at, created_by, "
            "enterprise_id) "
            "VALUES (:id, :hash, :role, :park, :name, :expires_at, :created_by, :enterprise)"
        ),
        {
            "id": key_id,
            "hash": secret_hash,
            "role": role,
            "park": park_id,
            "name": name,
            "expires_at": expires_at,
            "created_by": created_by,
            "enterprise": enterprise_id,
        },
    )


async def list_(session: AsyncSession) -> list[RowMapping]:
    """Every key without its secret hash, newest first."""
    result = await session.execute(
        text(
            "SELECT id, role, park_id, enterprise_id, name, created_by, created_at, last_used_at, "
            "expires_at, revoked_at FROM api_key ORDER BY created_at DESC, id"
        )
    )
    return list(result.mappings())


async def revoke(session: AsyncSession, key_id: str) -> bool:
    """Revoke ``key_id``; False when there is no such key (revoking twice is not an error)."""
    result = await session.execute(
        text(
            "UPDATE api_key SET revoked_at = coalesce(revoked_at, now()) WHERE id = :id "
            "RETURNING id"
        ),
        {"id": key_id},
    )
    return result.first() is not None


async def revoke_created_by(session: AsyncSession, created_by: str) -> list[str]:
    """Revoke every live key made by ``created_by`` (``demo``); their ids."""
    result = await session.execute(
        text(
            "UPDATE api_key SET revoked_at = now() "
            "WHERE created_by = :created_by AND revoked_at IS NULL RETURNING id"
        ),
        {"created_by": created_by},
    )
    return [str(r[0]) for r in result]


async def set_secret(session: AsyncSession, key_id: str, secret_hash: bytes) -> bool:
    """Replace the live key's secret; False when there is no live key ``key_id``."""
    result = await session.execute(
        text(
            "UPDATE api_key SET secret_hash = :hash WHERE id = :id AND revoked_at IS NULL "
            "AND (expires_at IS NULL OR expires_at > now()) RETURNING id"
        ),
        {"id": key_id, "hash": secret_hash},
    )
    return result.first() is not None


async def park_exists(session: AsyncSession, park_id: str) -> bool:
    row = await session.execute(text("SELECT 1 FROM park WHERE id = :id"), {"id": park_id})
    return row.first() is not None


async def lock_bootstrap(session: AsyncSession) -> None:
    """Serialise bootstraps until the transaction ends (two at once make one key)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('parktwin.apikey.bootstrap'))")
    )


async def any_created_by(session: AsyncSession, created_by: str) -> bool:
    """Whether any key, live or not, was made by ``created_by``."""
    result = await session.execute(
        text("SELECT 1 FROM api_key WHERE created_by = :by LIMIT 1"), {"by": created_by}
    )
    return result.first() is not None
