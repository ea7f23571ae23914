"""SQL of the enterprise view: its premises (what its leases hold) and the counts of its
overview. Everything else is read through the owning domain's services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

# One row per lease: the space, building or parcel it holds, with names, the space's floor and
# the building it is in (a space's building, or the leased building itself).
PREMISES = text(
    """
    SELECT l.id AS lease_id, l.start_date, l.end_date, l.area_m2,
           CASE WHEN l.space_id IS NOT NULL THEN 'space'
                WHEN l.building_id IS NOT NULL THEN 'building' ELSE 'parcel' END AS kind,
           coalesce(l.space_id, l.building_id, l.parcel_id) AS id,
           coalesce(s.name, b.name, pa.name) AS name,
           s.floor, coalesce(s.building_id, l.building_id) AS building_id,
           b.name AS building_name,
           coalesce(l.parcel_id, b.parcel_id) AS parcel_id
    FROM lease l
    LEFT JOIN space s ON s.park_id = l.park_id AND s.id = l.space_id
    LEFT JOIN building b ON b.park_id = l.park_id AND b.id = coalesce(s.building_id, l.building_id)
    LEFT JOIN parcel pa ON pa.park_id = l.park_id AND pa.id = l.parcel_id
    WHERE l.park_id = :park AND l.enterprise_id = :enterprise
      AND (CAST(:on AS date) IS NULL OR CAST(:on AS date) BETWEEN l.start_date AND l.end_date)
      AND (CAST(:after AS text) IS NULL OR l.id > :after)
    ORDER BY l.id LIMIT :limit
    """
)


async def premises(
    session: AsyncSession,
    park_id: str,
    enterprise_id: str,
    on: date | None,
    after: str | None,
    limit: int,
) -> Sequence[RowMapping]:
    params = {"park": park_id, "enterprise": enterprise_id, "on": on, "after": after}
    result = await session.execute(PREMISES, {**params, "limit": limit})
    return result.mappings().all()


async def device_counts(session: AsyncSession, park_id: str, enterprise_id: str) -> dict[str, int]:
    """The enterprise's devices per status (online, offline, unknown)."""
    sql = text(
        "SELECT status, count(*) AS n FROM device WHERE park_id = :park "
        "AND enterprise_id = :enterprise GROUP BY status"
    )
    rows = await session.execute(sql, {"park": park_id, "enterprise": enterprise_id})
    return {str(r.status): int(r.n) for r in rows}


async def active_alarm_counts(
    session: AsyncSession, park_id: str, enterprise_id: str
) -> dict[str, int]:
    """Active alarms on the enterprise's devices, per severity."""
    sql = text(
        "SELECT a.severity, count(*) AS n FROM alarm a JOIN device d "
        "ON d.park_id = a.park_id AND d.id = a.device_id "
        "WHERE a.park_id = :park AND d.enterprise_id = :enterprise AND a.active "
        "GROUP BY a.severity"
    )
    rows = await session.execute(sql, {"park": park_id, "enterprise": enterprise_id})
    return {str(r.severity): int(r.n) for r in rows}
