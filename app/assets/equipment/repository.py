"""SQL for ``equipment``, the device links (space, parent meter) and the meter tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.tenancy.repository import delete_row, get_row, insert_row, update_row

EQUIPMENT_COLUMNS = (
    "id", "name", "category", "model", "installed_on", "maintenance_status", "building_id",
    "space_id", "lon", "lat", "device_id", "attributes",
)  # fmt: skip


async def get(session: AsyncSession, park_id: str, equipment_id: str) -> RowMapping | None:
    return await get_row(session, "equipment", park_id, equipment_id)


async def list_(
    session: AsyncSession, park_id: str, filters: dict[str, Any], after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            "SELECT * FROM equipment WHERE park_id = :park "
            "AND (CAST(:category AS text) IS NULL OR category = :category) "
            "AND (CAST(:maintenance_status AS text) IS NULL "
            "OR maintenance_status = :maintenance_status) "
            "AND (CAST(:building_id AS text) IS NULL OR building_id = :building_id) "
            "AND (CAST(:space_id AS text) IS NULL OR space_id = :space_id) "
            "AND (CAST(:after AS text) IS NULL OR id > :after) ORDER BY id LIMIT :limit"
        ),
        {"park": park_id, "after": after, "limit": limit, **filters},
    )
    return result.mappings().all()


async def insert(session: AsyncSession, values: dict[str, Any]) -> None:
    await insert_row(session, "equipment", values, f"equipment {values['id']!r}")


async def update(
    session: AsyncSession, park_id: str, equipment_id: str, changes: dict[str, Any]
) -> None:
    key, what = (park_id, equipment_id), f"equipment {equipment_id!r}"
    await update_row(session, "equipment", EQUIPMENT_COLUMNS, key, changes, what)


async def delete(session: AsyncSession, park_id: str, equipment_id: str) -> None:
    await delete_row(session, "equipment", park_id, equipment_id)


TREE = """
SELECT d.id AS device_id, d.name, d.type, d.parent_meter_id, d.building_id, d.space_id,
       (SELECT array_agg(m.name ORDER BY m.name) FROM device_type_metric m
        WHERE m.device_type = d.type AND m.kind = 'counter') AS counters,
       (SELECT array_agg(m.unit ORDER BY m.name) FROM device_type_metric m
        WHERE m.device_type = d.type AND m.kind = 'counter') AS units
FROM device d
WHERE d.park_id = :park AND {where}
ORDER BY d.id
"""
IN_A_TREE = (
    "(d.parent_meter_id IS NOT NULL OR EXISTS ("
    "SELECT 1 FROM device c WHERE c.park_id = d.park_id AND c.parent_meter_id = d.id))"
)


async def tree_members(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    """Every meter that has a parent meter or sub-meters, with its counter metrics."""
    sql = TREE.format(where=IN_A_TREE)
    return (await session.execute(text(sql), {"park": park_id})).mappings().all()


async def lone_meter(session: AsyncSession, park_id: str, device_id: str) -> RowMapping | None:
    """One device in the shape of ``tree_members``' rows."""
    sql = TREE.format(where="d.id = :id")
    result = await session.execute(text(sql), {"park": park_id, "id": device_id})
    return result.mappings().one_or_none()
