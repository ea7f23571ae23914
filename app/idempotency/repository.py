"""SQL for ``idempotency_key``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession


async def try_lock(session: AsyncSession, api_key_id: str, scope: str, key: str) -> bool:
    """Take the key's transaction-level advisory lock, or False when another transaction holds
    it: a request with that key is in flight. PostgreSQL releases it at commit or rollback,
    after the commit is visible, so the next holder sees what the first one stored."""
    result = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock, 0))"),
        {"lock": f"idempotency {api_key_id} {scope} {key}"},
    )
    return bool(result.scalar_one())


async def find(
    session: AsyncSession, api_key_id: str, scope: str, key: str
) -> Row[tuple[bytes, int, str | None, bytes | None, str | None]] | None:
    """The unexpired answer stored for the key, if any."""
    result = await session.execute(
        text(
            "SELECT fingerprint, status, content_type, body, resource_id FROM idempotency_key "
            "WHERE api_key_id = :api_key_id AND scope = :scope AND key = :key "
            "AND expires_at > now()"
        ),
        {"api_key_id": api_key_id, "scope": scope, "key": key},
    )
    return result.one_or_none()


async def insert(
    session: AsyncSession,
    *,
    api_key_id: str,
    scope: str,
    key: str,
    fingerprint: bytes,
    status: int,
    content_type: str | None,
    body: bytes | None,
    resource_id: str | None,
    retention: timedelta,
) -> None:
    """Store the answer; an expired row with the same key (not yet pruned) is replaced."""
    await session.execute(
        text(
            "INSERT INTO idempotency_key (api_key_id, scope, key, fingerprint, status, "
            "content_type, body, resource_id, expires_at) VALUES (:api_key_id, :scope, :key, "
            ":fingerprint, :status, :content_type, :body, :resource_id, now() + :retention) "
            "ON CONFLICT (api_key_id, scope, key) DO UPDATE SET fingerprint = "
            "excluded.fingerprint, status = excluded.status, content_type = "
            "excluded.content_type, body = excluded.body, resource_id = excluded.resource_id, "
            "created_at = now(), expires_at = excluded.expires_at "
            "WHERE idempotency_key.expires_at <= now()"
        ),
        {
            "api_key_id": api_key_id,
            "scope": scope,
            "key": key,
            "fingerprint": fingerprint,
            "status": status,
            "content_type": content_type,
            "body": body,
            "resource_id": resource_id,
            "retention": retention,
        },
    )


async def delete_expired(session: AsyncSession, limit: int) -> int:
    """Delete up to ``limit`` expired keys; the count deleted."""
    result = await session.execute(
        text(
            "DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY("
            "SELECT ctid FROM idempotency_key WHERE expires_at <= now() LIMIT :limit))"
        ),
        {"limit": limit},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
