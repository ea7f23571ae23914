"""SQL of authentication: the one query that turns a presented key id into its row.
Managing keys (create, list, revoke, rotate) is ``app/apikeys``'s."""

from __future__ import annotations

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession


async def find_active(
    session: AsyncSession, key_id: str, *, touch: bool = True
) -> Row[tuple[str, bytes, str, str | None, str | None, bool, float | None]] | None:
    """The unrevoked, unexpired key ``key_id`` with ``expires_in`` (seconds, None: never);
    touches ``last_used_at`` at most once a minute (``touch=False``: a read-only session)."""
    row = (
        await session.execute(
            text(
                "SELECT id, secret_hash, role, park_id, enterprise_id, "
                "last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale, "
                "EXTRACT(EPOCH FROM expires_at - now())::float8 AS expires_in "
                "FROM api_key WHERE id = :id AND revoked_at IS NULL "
                "AND (expires_at IS NULL OR expires_at > now())"
            ),
            {"id": key_id},
        )
    ).one_or_none()
    if touch and row is not None and row.stale:
        # SKIP LOCKED: concurrent requests with the same key never queue behind each other.
        await session.execute(
            text(
                "UPDATE api_key SET last_used_at = now() WHERE id = ("
                "SELECT id FROM api_key WHERE id = :id FOR UPDATE SKIP LOCKED)"
            ),
            {"id": key_id},
        )
    return row
