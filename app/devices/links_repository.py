"""SQL for the checks of what devices and equipment point at (``app/devices/links.py``):
spaces and their buildings, devices, and the meters up a sub-meter's parent links."""

from __future__ import annotations

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

# One fixed statement per table a link may name.
_EXISTS = {
    "building": text("SELECT 1 FROM building WHERE park_id = :park AND id = :id"),
    "device": text("SELECT 1 FROM device WHERE park_id = :park AND id = :id"),
}


async def exists(session: AsyncSession, table: str, park_id: str, row_id: str) -> bool:
    result = await session.execute(_EXISTS[table], {"park": park_id, "id": row_id})
    return result.first() is not None


async def space_building(session: AsyncSession, park_id: str, space_id: str) -> str | None:
    """The building a space is in, or None when there is no such space."""
    result = await session.execute(
        text("SELECT building_id FROM space WHERE park_id = :park AND id = :id"),
        {"park": park_id, "id": space_id},
    )
    value = result.scalar_one_or_none()
    return None if value is None else str(value)


METER = """
SELECT d.id, d.type, t.domain, d.parent_meter_id,
       coalesce(array_agg(m.name ORDER BY m.name) FILTER (WHERE m.name IS NOT NULL), '{}')
           AS counters,
       coalesce(array_agg(m.unit ORDER BY m.name) FILTER (WHERE m.name IS NOT NULL), '{}')
           AS units
FROM device d
JOIN device_type t ON t.type = d.type
LEFT JOIN device_type_metric m ON m.device_type = d.type AND m.kind = 'counter'
WHERE d.park_id = :park AND d.id = :id
GROUP BY d.id, d.type, t.domain, d.parent_meter_id
"""


async def meter(session: AsyncSession, park_id: str, device_id: str) -> RowMapping | None:
    """A device with its type's domain and counter metrics (names and units)."""
    result = await session.execute(text(METER), {"park": park_id, "id": device_id})
    return result.mappings().one_or_none()


async def ancestors(session: AsyncSession, park_id: str, device_id: str) -> list[str]:
    """``device_id`` and the meters above it, up the parent links (stops at a loop)."""
    result = await session.execute(
        text(
            "WITH RECURSIVE up(id, parent, depth) AS ("
            " SELECT id, parent_meter_id, 0 FROM device WHERE park_id = :park AND id = :id"
            " UNION ALL SELECT d.id, d.parent_meter_id, up.depth + 1 FROM up"
            " JOIN device d ON d.park_id = :park AND d.id = up.parent WHERE up.depth < 1000"
            ") CYCLE id SET looped USING path "
            "SELECT id FROM up WHERE NOT looped ORDER BY depth"
        ),
        {"park": park_id, "id": device_id},
    )
    return [str(v) for v in result.scalars().all()]
