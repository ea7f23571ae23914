"""SQL for ``enterprise`` and ``lease``, occupancy (出租率) at a date and expiring leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from psycopg.sql import Identifier
from sqlalchemy import RowMapping, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import bindparam

from app.core.errors import AppError, Conflict
from app.core.integrity import constraint_name, integrity_error
from app.core.sqlcompose import (
    Fixed,
    assignments,
    binds,
    compose,
    identifiers,
    statement,
)

ENTERPRISE_COLUMNS = (
    "id", "name", "credit_code", "industry_code", "above_scale", "founded_on", "contacts",
    "attributes",
)  # fmt: skip
LEASE_COLUMNS = (
    "id", "enterprise_id", "space_id", "building_id", "parcel_id", "area_m2", "start_date",
    "end_date", "rent_yuan", "attributes",
)  # fmt: skip
JSON_COLUMNS = ("contacts", "attributes")


def _integrity_error(exc: IntegrityError, what: str) -> AppError:
    """The database's refusal as the API's: 409 for duplicates and overlaps, else 422."""
    constraint = constraint_name(exc)
    if constraint.endswith("_no_overlap"):
        column = constraint.removeprefix("lease_").removesuffix("_no_overlap")
        return Conflict(f"{what} overlaps another lease of the same {column[:-3]}", field=column)
    if constraint == "enterprise_credit_code_key":
        return Conflict(
            f"{what}: another enterprise of this park has this credit code", field="credit_code"
        )
    return integrity_error(exc, what)


async def write_row(session: AsyncSession, sql: str, values: dict[str, Any], what: str) -> None:
    statement = text(sql)
    for column in JSON_COLUMNS:
        if column in values:
            statement = statement.bindparams(bindparam(column, type_=JSONB))
    try:
        async with session.begin_nested():
            await session.execute(statement, values)
    except IntegrityError as exc:
        raise _integrity_error(exc, what) from exc


async def insert_row(session: AsyncSession, table: str, values: dict[str, Any], what: str) -> None:
    columns = ["park_id", *values.keys() - {"park_id"}]
    sql = compose(
        "INSERT INTO {table} ({columns}) VALUES ({values})",
        table=Identifier(table),
        columns=identifiers(columns),
        values=binds(columns),
    )
    await write_row(session, sql, values, what)


async def update_row(
    session: AsyncSession,
    table: str,
    allowed: Sequence[str],
    key: tuple[str, str],
    changes: dict[str, Any],
    what: str,
) -> None:
    changes = {c: v for c, v in changes.items() if c in allowed and c != "id"}
    sql = compose(
        "UPDATE {table} SET {sets}updated_at = now() WHERE park_id = :park AND id = :id",
        table=Identifier(table),
        sets=assignments(changes) + Fixed(", ") if changes else Fixed(""),
    )
    await write_row(session, sql, {**changes, "park": key[0], "id": key[1]}, what)


async def get_row(
    session: AsyncSession, table: str, park_id: str, row_id: str
) -> RowMapping | None:
    result = await session.execute(
        statement(
            "SELECT * FROM {table} WHERE park_id = :park AND id = :id", table=Identifier(table)
        ),
        {"park": park_id, "id": row_id},
    )
    return result.mappings().one_or_none()


async def delete_row(session: AsyncSession, table: str, park_id: str, row_id: str) -> None:
    await session.execute(
        statement(
            "DELETE FROM {table} WHERE park_id = :park AND id = :id", table=Identifier(table)
        ),
        {"park": park_id, "id": row_id},
    )


# --- enterprises -------------------------------------------------------------------------


async def get_enterprise(session: AsyncSession, park_id: str, ent_id: str) -> RowMapping | None:
    return await get_row(session, "enterprise", park_id, ent_id)


async def existing_ids(session: AsyncSession, table: str, park_id: str, ids: list[str]) -> set[str]:
    """Which of ``ids`` are rows of ``table`` (enterprise, lease, equipment) in the park."""
    assert table in ("enterprise", "lease", "equipment")
    result = await session.execute(
        statement(
            "SELECT id FROM {table} WHERE park_id = :park AND id = ANY(:ids)",
            table=Identifier(table),
        ),
        {"park": park_id, "ids": ids},
    )
    return set(result.scalars().all())


async def list_enterprises(
    session: AsyncSession, park_id: str, filters: dict[str, Any], after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            "SELECT * FROM enterprise WHERE park_id = :park "
            "AND (CAST(:above_scale AS boolean) IS NULL OR above_scale = :above_scale) "
            "AND (CAST(:industry_code AS text) IS NULL "
            "OR starts_with(industry_code, :industry_code)) "
            "AND (CAST(:after AS text) IS NULL OR id > :after) ORDER BY id LIMIT :limit"
        ),
        {"park": park_id, "after": after, "limit": limit, **filters},
    )
    return result.mappings().all()


async def insert_enterprise(session: AsyncSession, values: dict[str, Any]) -> None:
    await insert_row(session, "enterprise", values, f"enterprise {values['id']!r}")


async def update_enterprise(
    session: AsyncSession, park_id: str, ent_id: str, changes: dict[str, Any]
) -> None:
    what = f"enterprise {ent_id!r}"
    await update_row(session, "enterprise", ENTERPRISE_COLUMNS, (park_id, ent_id), changes, what)


async def delete_enterprise(session: AsyncSession, park_id: str, ent_id: str) -> None:
    await delete_row(session, "enterprise", park_id, ent_id)


async def lease_ids_of_enterprise(
    session: AsyncSession, park_id: str, ent_id: str, limit: int = 5
) -> list[str]:
    result = await session.execute(
        text(
            "SELECT id FROM lease WHERE park_id = :park AND enterprise_id = :ent "
            "ORDER BY id LIMIT :limit"
        ),
        {"park": park_id, "ent": ent_id, "limit": limit},
    )
    return list(result.scalars().all())


# --- leases --------------------------------------------------------------------------------


async def get_lease(session: AsyncSession, park_id: str, lease_id: str) -> RowMapping | None:
    return await get_row(session, "lease", park_id, lease_id)


async def list_leases(
    session: AsyncSession, park_id: str, filters: dict[str, Any], after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            "SELECT l.* FROM lease l WHERE l.park_id = :park "
            "AND (CAST(:enterprise_id AS text) IS NULL OR l.enterprise_id = :enterprise_id) "
            "AND (CAST(:space_id AS text) IS NULL OR l.space_id = :space_id) "
            "AND (CAST(:parcel_id AS text) IS NULL OR l.parcel_id = :parcel_id) "
            "AND (CAST(:building_id AS text) IS NULL OR l.building_id = :building_id "
            "OR l.space_id IN (SELECT id FROM space WHERE park_id = :park "
            "AND building_id = :building_id)) "
            "AND (CAST(:active_on AS date) IS NULL "
            "OR CAST(:active_on AS date) BETWEEN l.start_date AND l.end_date) "
            "AND (CAST(:after AS text) IS NULL OR l.id > :after) ORDER BY l.id LIMIT :limit"
        ),
        {"park": park_id, "after": after, "limit": limit, **filters},
    )
    return result.mappings().all()


async def insert_lease(session: AsyncSession, values: dict[str, Any]) -> None:
    await insert_row(session, "lease", values, f"lease {values['id']!r}")


async def update_lease(
    session: AsyncSession, park_id: str, lease_id: str, changes: dict[str, Any]
) -> None:
    what = f"lease {lease_id!r}"
    await update_row(session, "lease", LEASE_COLUMNS, (park_id, lease_id), changes, what)


async def delete_lease(session: AsyncSession, park_id: str, lease_id: str) -> None:
    await delete_row(session, "lease", park_id, lease_id)


async def lock_leases(session: AsyncSession, park_id: str) -> None:
    """Serialise lease writes of a park until the transaction ends: the check that a
    building lease and its spaces' leases do not overlap spans rows no constraint covers."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('parktwin.lease:' || :park))"),
        {"park": park_id},
    )


OVERLAPS = """
SELECT l.id, l.start_date, l.end_date,
       CASE WHEN l.space_id IS NOT NULL THEN 'space ' || l.space_id
            WHEN l.building_id IS NOT NULL THEN 'building ' || l.building_id
            ELSE 'parcel ' || l.parcel_id END AS target
FROM lease l
WHERE l.park_id = :park AND l.id <> :id
  AND l.start_date <= :end_date AND l.end_date >= :start_date
  AND ({condition})
ORDER BY l.start_date, l.id LIMIT 1
"""

# A space is in a building, a building stands on a parcel: a lease of any of them takes the
# others for its days, so the same floor area, or the same 亩 of land, never serves two leases.
OVERLAP_CONDITIONS = {
    # the same space, the whole building it is in, or the parcel under that building
    "space_id": "l.space_id = :target "
    "OR l.building_id = (SELECT building_id FROM space WHERE park_id = :park AND id = :target) "
    "OR l.parcel_id = (SELECT b.parcel_id FROM space s JOIN building b "
    "ON b.park_id = s.park_id AND b.id = s.building_id "
    "WHERE s.park_id = :park AND s.id = :target)",
    # the same building, any of its spaces, or the parcel it stands on
    "building_id": "l.building_id = :target "
    "OR l.space_id IN (SELECT id FROM space WHERE park_id = :park AND building_id = :target) "
    "OR l.parcel_id = (SELECT parcel_id FROM building WHERE park_id = :park AND id = :target)",
    # the same parcel, or any building (or space of one) that stands on it
    "parcel_id": "l.parcel_id = :target "
    "OR l.building_id IN (SELECT id FROM building WHERE park_id = :park AND parcel_id = :target) "
    "OR l.space_id IN (SELECT s.id FROM space s JOIN building b "
    "ON b.park_id = s.park_id AND b.id = s.building_id "
    "WHERE s.park_id = :park AND b.parcel_id = :target)",
}


async def first_overlap(
    session: AsyncSession, park_id: str, values: dict[str, Any], target: str
) -> RowMapping | None:
    """The earliest other lease that shares the target (a building shares with its spaces)
    on some day of ``values``' dates."""
    sql = OVERLAPS.format(condition=OVERLAP_CONDITIONS[target])
    params = {
        "park": park_id,
        "id": values["id"],
        "target": values[target],
        "start_date": values["start_date"],
        "end_date": values["end_date"],
    }
    return (await session.execute(text(sql), params)).mappings().first()


TARGET_INFO = {
    "space_id": "SELECT area_m2, status FROM space WHERE park_id = :park AND id = :id",
    "building_id": "SELECT coalesce((SELECT sum(s.area_m2) FROM space s WHERE s.park_id = "
    "b.park_id AND s.building_id = b.id AND s.status <> 'not_leasable'), "
    "(SELECT sum(f.area_m2) FROM floor f WHERE f.park_id = b.park_id AND f.building_id = b.id), "
    "b.area_m2 * b.floors) AS area_m2, NULL AS status "
    "FROM building b WHERE b.park_id = :park AND b.id = :id",
    "parcel_id": "SELECT area_m2, NULL AS status FROM parcel WHERE park_id = :park AND id = :id",
}


async def target_info(
    session: AsyncSession, park_id: str, target: str, target_id: str
) -> RowMapping | None:
    """The leasable area (and a space's status) of a lease target, or None if it is not there."""
    result = await session.execute(text(TARGET_INFO[target]), {"park": park_id, "id": target_id})
    return result.mappings().one_or_none()


EXPIRING = """
SELECT l.*, e.name AS enterprise_name, (l.end_date - CAST(:on AS date)) AS days_left
FROM lease l JOIN enterprise e ON e.park_id = l.park_id AND e.id = l.enterprise_id
WHERE l.park_id = :park AND l.end_date BETWEEN :on AND :until
  AND (CAST(:after_end AS date) IS NULL OR (l.end_date, l.id) > (:after_end, :after_id))
ORDER BY l.end_date, l.id LIMIT :limit
"""


async def expiring(
    session: AsyncSession,
    park_id: str,
    on: date,
    until: date,
    after: tuple[date, str] | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Leases whose last day falls in ``on..until``, soonest first."""
    params = {
        "park": park_id,
        "on": on,
        "until": until,
        "after_end": after[0] if after else None,
        "after_id": after[1] if after else None,
        "limit": limit,
    }
    return (await session.execute(text(EXPIRING), params)).mappings().all()


OCCUPANCY = """
WITH active AS (
    SELECT space_id, building_id, area_m2 FROM lease
    WHERE park_id = :park AND :on BETWEEN start_date AND end_date
      AND (space_id IS NOT NULL OR building_id IS NOT NULL)
), leased_space AS (
    SELECT space_id AS id FROM active WHERE space_id IS NOT NULL
    UNION
    SELECT s.id FROM space s JOIN active a ON a.building_id = s.building_id
    WHERE s.park_id = :park
), spaces AS (
    SELECT s.building_id,
           count(*) FILTER (WHERE s.status <> 'not_leasable') AS n,
           coalesce(sum(s.area_m2) FILTER (WHERE s.status <> 'not_leasable'), 0) AS leasable,
           count(*) FILTER (WHERE s.status <> 'not_leasable' AND l.id IS NOT NULL) AS n_leased,
           coalesce(sum(s.area_m2) FILTER (
               WHERE s.status <> 'not_leasable' AND l.id IS NOT NULL), 0) AS leased
    FROM space s LEFT JOIN leased_space l ON l.id = s.id
    WHERE s.park_id = :park
    GROUP BY s.building_id
), floors AS (
    SELECT building_id, sum(area_m2) AS area FROM floor WHERE park_id = :park
    GROUP BY building_id
), whole AS (
    SELECT building_id, sum(area_m2) AS area FROM active WHERE building_id IS NOT NULL
    GROUP BY building_id
)
SELECT b.id AS building_id, b.name,
       CASE WHEN s.building_id IS NULL THEN 'floor_area' ELSE 'spaces' END AS basis,
       coalesce(s.leasable, f.area, b.area_m2 * b.floors) AS leasable_m2,
       coalesce(s.leased, least(coalesce(w.area, 0), coalesce(f.area, b.area_m2 * b.floors)))
           AS leased_m2,
       coalesce(s.n, 0) AS spaces, coalesce(s.n_leased, 0) AS spaces_leased
FROM building b
LEFT JOIN spaces s ON s.building_id = b.id
LEFT JOIN floors f ON f.building_id = b.id
LEFT JOIN whole w ON w.building_id = b.id
WHERE b.park_id = :park
ORDER BY b.id
"""


async def occupancy(session: AsyncSession, park_id: str, on: date) -> Sequence[RowMapping]:
    """Per building: leasable and leased area at ``on`` (see ``BuildingOccupancy``)."""
    result = await session.execute(text(OCCUPANCY), {"park": park_id, "on": on})
    return result.mappings().all()
