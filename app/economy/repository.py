"""SQL of the monthly reports, their revisions and the derived 规上 status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from psycopg import sql
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import binds, identifiers, statement

FIELDS = (
    "output_value",
    "value_added",
    "revenue",
    "tax",
    "employees",
    "rd_spend",
    "emissions",
    "energy_tce",
    "digital_transformed",
    "digital_services",
)
KEY = ("park_id", "enterprise_id", "month")
READ = sql.SQL(
    "enterprise_id, to_char(month, 'YYYY-MM') AS month, {fields}, "
    "created_at, created_by, updated_at, updated_by"
).format(fields=identifiers(FIELDS))
UPSERT_REPORT = statement(
    "INSERT INTO economy_report ({columns}, created_by, updated_by) "
    "VALUES ({values}, :by, :by) "
    "ON CONFLICT (park_id, enterprise_id, month) DO UPDATE SET "
    "{updates}, updated_at = now(), updated_by = excluded.updated_by",
    columns=identifiers((*KEY, *FIELDS)),
    values=binds((*KEY, *FIELDS)),
    updates=sql.SQL(", ").join(
        sql.SQL("{field} = excluded.{field}").format(field=sql.Identifier(f)) for f in FIELDS
    ),
)


async def enterprise_ids(session: AsyncSession, park_id: str, ids: list[str]) -> set[str]:
    rows = await session.execute(
        text("SELECT id FROM enterprise WHERE park_id = :park AND id = ANY(:ids)"),
        {"park": park_id, "ids": ids},
    )
    return {r[0] for r in rows}


async def ids_by_credit_code(
    session: AsyncSession, park_id: str, codes: list[str]
) -> dict[str, str]:
    rows = await session.execute(
        text(
            "SELECT credit_code, id FROM enterprise "
            "WHERE park_id = :park AND credit_code = ANY(:codes)"
        ),
        {"park": park_id, "codes": codes},
    )
    return {str(r[0]): str(r[1]) for r in rows}


async def lock_report(
    session: AsyncSession, park_id: str, enterprise_id: str, month: date
) -> RowMapping | None:
    """The stored report, locked for the change (None when there is none yet)."""
    result = await session.execute(
        statement(
            "SELECT {fields} FROM economy_report WHERE park_id = :park "
            "AND enterprise_id = :e AND month = :m FOR UPDATE",
            fields=identifiers(FIELDS),
        ),
        {"park": park_id, "e": enterprise_id, "m": month},
    )
    return result.mappings().one_or_none()


async def upsert_report(
    session: AsyncSession, key: tuple[str, str, date], values: dict[str, Any], by: str
) -> None:
    params = {"park_id": key[0], "enterprise_id": key[1], "month": key[2], "by": by, **values}
    await session.execute(UPSERT_REPORT, params)


async def add_revisions(
    session: AsyncSession,
    key: tuple[str, str, date],
    changes: list[tuple[str, Any, Any]],
    by: str,
    source: str,
) -> None:
    if not changes:
        return
    await session.execute(
        text(
            "INSERT INTO economy_report_revision (park_id, enterprise_id, month, field, "
            "old_value, new_value, source, changed_by) VALUES (:park, :e, :m, :field, "
            "CAST(:old AS jsonb), CAST(:new AS jsonb), :source, :by)"
        ),
        [
            {
                "park": key[0],
                "e": key[1],
                "m": key[2],
                "field": f,
                "old": orjson.dumps(old).decode(),
                "new": orjson.dumps(new).decode(),
                "source": source,
                "by": by,
            }
            for f, old, new in changes
        ],
    )


async def get_report(
    session: AsyncSession, park_id: str, enterprise_id: str, month: date
) -> RowMapping | None:
    result = await session.execute(
        statement(
            "SELECT {read} FROM economy_report "
            "WHERE park_id = :park AND enterprise_id = :e AND month = :m",
            read=READ,
        ),
        {"park": park_id, "e": enterprise_id, "m": month},
    )
    return result.mappings().one_or_none()


async def list_reports(
    session: AsyncSession,
    park_id: str,
    filters: dict[str, Any],
    after: tuple[str, str] | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Reports by month then enterprise, optionally of one month, year or enterprise."""
    result = await session.execute(
        statement(
            "SELECT {read} FROM economy_report WHERE park_id = :park "
            "AND (CAST(:month AS date) IS NULL OR month = :month) "
            "AND (CAST(:year AS integer) IS NULL OR extract(year FROM month) = :year) "
            "AND (CAST(:enterprise_id AS text) IS NULL OR enterprise_id = :enterprise_id) "
            "AND (CAST(:after_month AS text) IS NULL "
            "OR (to_char(month, 'YYYY-MM'), enterprise_id) > (:after_month, :after_e)) "
            "ORDER BY month, enterprise_id LIMIT :limit",
            read=READ,
        ),
        {
            "park": park_id,
            **filters,
            "after_month": after[0] if after else None,
            "after_e": after[1] if after else None,
            "limit": limit,
        },
    )
    return result.mappings().all()


async def revisions(
    session: AsyncSession, park_id: str, enterprise_id: str, month: date
) -> Sequence[RowMapping]:
    result = await session.execute(
        text(
            "SELECT id, field, old_value, new_value, source, changed_at, changed_by "
            "FROM economy_report_revision WHERE park_id = :park AND enterprise_id = :e "
            "AND month = :m ORDER BY id"
        ),
        {"park": park_id, "e": enterprise_id, "m": month},
    )
    return result.mappings().all()


async def scale_inputs(
    session: AsyncSession, park_id: str, ids: list[str]
) -> tuple[Sequence[RowMapping], Sequence[RowMapping], Sequence[RowMapping]]:
    """The reports' main revenue by month, the enterprises' code and founding date, and the
    thresholds that apply to the park (its own rows and the defaults)."""
    params = {"park": park_id, "ids": ids}
    revenue = await session.execute(
        text(
            "SELECT enterprise_id, month, revenue FROM economy_report "
            "WHERE park_id = :park AND enterprise_id = ANY(:ids) ORDER BY enterprise_id, month"
        ),
        params,
    )
    firms = await session.execute(
        text(
            "SELECT id, industry_code, founded_on FROM enterprise "
            "WHERE park_id = :park AND id = ANY(:ids)"
        ),
        params,
    )
    thresholds = await session.execute(
        text(
            "SELECT sector, prefixes, valid_from, revenue, source, park_id IS NOT NULL AS own "
            "FROM economy_scale_threshold WHERE park_id = :park OR park_id IS NULL"
        ),
        params,
    )
    return (revenue.mappings().all(), firms.mappings().all(), thresholds.mappings().all())


SYNC_FLAG = """
UPDATE enterprise e SET above_scale = s.above_scale, updated_at = now()
FROM (
    SELECT DISTINCT ON (enterprise_id) enterprise_id, above_scale FROM economy_scale_status
    WHERE park_id = :park AND enterprise_id = ANY(:ids) ORDER BY enterprise_id, month DESC
) s
WHERE e.park_id = :park AND e.id = s.enterprise_id AND e.above_scale <> s.above_scale
"""
"""The enterprise's 规上 flag follows the status of its latest reported month."""


async def replace_scale(
    session: AsyncSession, park_id: str, ids: list[str], rows: list[dict[str, Any]]
) -> None:
    """Replace the monthly 规上 status of ``ids`` by ``rows`` and sync the enterprise flag."""
    params = {"park": park_id, "ids": ids}
    await session.execute(
        text(
            "DELETE FROM economy_scale_status WHERE park_id = :park AND enterprise_id = ANY(:ids)"
        ),
        params,
    )
    if rows:
        await session.execute(
            text(
                "INSERT INTO economy_scale_status (park_id, enterprise_id, month, "
                "trailing_revenue, months_reported, above_scale, basis, threshold, sector, "
                "source) VALUES (:park, :enterprise_id, :month, :revenue, :months_reported, "
                ":above_scale, :basis, :threshold, :sector, :source)"
            ),
            [{"park": park_id, **r} for r in rows],
        )
    await session.execute(text(SYNC_FLAG), params)


async def scale_history(
    session: AsyncSession, park_id: str, enterprise_id: str
) -> Sequence[RowMapping]:
    """The months where the 规上 status is first known or differs from the month before."""
    result = await session.execute(
        text(
            "SELECT to_char(month, 'YYYY-MM') AS month, above_scale, trailing_revenue, "
            "months_reported, previous, basis, threshold, sector, source FROM (SELECT *, "
            "lag(above_scale) OVER (ORDER BY month) "
            "AS previous FROM economy_scale_status WHERE park_id = :park AND enterprise_id = :e"
            ") s WHERE previous IS DISTINCT FROM above_scale ORDER BY month"
        ),
        {"park": park_id, "e": enterprise_id},
    )
    return result.mappings().all()
