"""SQL for ``device_type`` and ``device_type_metric``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession


async def list_(session: AsyncSession, *, park_id: str | None) -> Sequence[RowMapping]:
    """Built-in types plus those of ``park_id`` (every park's when None), metrics as JSON."""
    result = await session.execute(
        text(
            "SELECT t.type, t.domain, t.park_id, t.reporting_timeout_s, "
            "COALESCE(jsonb_agg(jsonb_build_object('name', m.name, 'unit', m.unit, "
            "'kind', m.kind) ORDER BY m.name) FILTER (WHERE m.name IS NOT NULL), '[]') AS metrics "
            "FROM device_type t LEFT JOIN device_type_metric m ON m.device_type = t.type "
            "WHERE t.park_id IS NULL OR CAST(:park AS text) IS NULL OR t.park_id = :park "
            "GROUP BY t.type ORDER BY t.type"
        ),
        {"park": park_id},
    )
    return result.mappings().all()
