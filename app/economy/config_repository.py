"""SQL of the module's figures: parameters, 亩均 benchmarks and grade cut-offs.

Each is looked up for a park and a date or year: the park's own rows when it has any, else
the defaults (``park_id`` NULL); among those, the newest version in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from psycopg.sql import Identifier
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict
from app.core.sqlcompose import Fixed, statement

IN_FORCE = """{p}valid_from <= {on} DESC, {p}park_id IS NULL,
         CASE WHEN {p}valid_from <= {on} THEN {p}valid_from END DESC, {p}valid_from"""
"""The ORDER BY that puts first the version of a parameter in force on ``on`` (the park's own
before the default); before the first version of a name, its first one. ``p`` is the table
alias with its dot, or empty."""

PARAMETERS = statement(
    """
SELECT DISTINCT ON (name) name, value, valid_from, unit, source, verify, park_id
FROM economy_parameter
WHERE park_id = :park OR park_id IS NULL
ORDER BY name, {in_force}
""",
    in_force=Fixed(IN_FORCE.format(p="", on=":on")),
)
"""Every parameter's version in force on ``on``."""

BY_YEAR = """
WITH scope AS (
    SELECT CASE WHEN EXISTS (SELECT 1 FROM {table} WHERE park_id = :park)
                THEN CAST(:park AS text) END AS park
), pick AS (
    SELECT coalesce(max(year) FILTER (WHERE year <= :year), min(year)) AS year
    FROM {table}, scope WHERE park_id IS NOT DISTINCT FROM scope.park
)
SELECT t.* FROM {table} t, scope, pick
WHERE t.park_id IS NOT DISTINCT FROM scope.park AND t.year = pick.year
ORDER BY {order}
"""


async def parameters(session: AsyncSession, park_id: str, on: date) -> dict[str, RowMapping]:
    rows = await session.execute(PARAMETERS, {"park": park_id, "on": on})
    return {r["name"]: r for r in rows.mappings()}


async def benchmarks(session: AsyncSession, park_id: str, year: int) -> Sequence[RowMapping]:
    query = statement(
        BY_YEAR, table=Identifier("economy_benchmark"), order=Fixed("t.firm_class, t.id")
    )
    rows = await session.execute(query, {"park": park_id, "year": year})
    return rows.mappings().all()


async def cutoffs(session: AsyncSession, park_id: str, year: int) -> Sequence[RowMapping]:
    query = statement(BY_YEAR, table=Identifier("economy_grade_cutoff"), order=Fixed("t.upper_pct"))
    rows = await session.execute(query, {"park": park_id, "year": year})
    return rows.mappings().all()


def value(params: dict[str, RowMapping], name: str) -> Any:
    """A parameter's value (its JSON); 409 naming it when the table has none."""
    if name not in params:
        raise Conflict(f"the economy parameter {name!r} is not configured (economy_parameter)")
    return params[name]["value"]


async def insert_parameter(session: AsyncSession, park_id: str, values: dict[str, Any]) -> bool:
    """Add a park's version of a parameter; False when that version date is taken."""
    result = await session.execute(
        text(
            "INSERT INTO economy_parameter (park_id, name, valid_from, value, unit, source) "
            "VALUES (:park, :name, :valid_from, CAST(:value AS jsonb), :unit, :source) "
            "ON CONFLICT (park_id, name, valid_from) DO NOTHING RETURNING id"
        ),
        {"park": park_id, **values},
    )
    return result.first() is not None


async def replace_benchmarks(
    session: AsyncSession,
    park_id: str,
    year: int,
    region: str,
    items: list[dict[str, Any]],
    cutoffs: list[dict[str, Any]],
) -> None:
    """The park's benchmark set and grade cut-offs for ``year``, replacing any before."""
    params = {"park": park_id, "year": year}
    await session.execute(
        text("DELETE FROM economy_benchmark WHERE park_id = :park AND year = :year"), params
    )
    await session.execute(
        text("DELETE FROM economy_grade_cutoff WHERE park_id = :park AND year = :year"), params
    )
    await session.execute(
        text(
            "INSERT INTO economy_benchmark (park_id, year, region, firm_class, indicator, "
            "benchmark, weight, when_missing, unit, source) VALUES (:park, :year, :region, "
            ":firm_class, :indicator, :benchmark, :weight, :when_missing, :unit, :source)"
        ),
        [{**params, "region": region, **item} for item in items],
    )
    await session.execute(
        text(
            "INSERT INTO economy_grade_cutoff (park_id, year, grade, upper_pct, source) "
            "VALUES (:park, :year, :grade, :upper_pct, :source)"
        ),
        [{**params, **c} for c in cutoffs],
    )


SCHEME = """
SELECT code, year, park_id, definition FROM economy_scheme
WHERE code = :code AND (park_id = :park OR park_id IS NULL)
ORDER BY year <= :year DESC, park_id IS NULL,
         CASE WHEN year <= :year THEN year END DESC, year
LIMIT 1
"""
"""The version of scheme ``code`` for ``year``: the newest from that year back, the park's
own before the default; before the first version, the first one."""

SCHEMES = """
SELECT DISTINCT ON (code) code, year, park_id, definition FROM economy_scheme
WHERE park_id = :park OR park_id IS NULL
ORDER BY code, year <= :year DESC, park_id IS NULL,
         CASE WHEN year <= :year THEN year END DESC, year
"""


async def scheme(session: AsyncSession, park_id: str, code: str, year: int) -> RowMapping | None:
    params = {"park": park_id, "code": code, "year": year}
    return (await session.execute(text(SCHEME), params)).mappings().one_or_none()


async def schemes(session: AsyncSession, park_id: str, year: int) -> Sequence[RowMapping]:
    params = {"park": park_id, "year": year}
    return (await session.execute(text(SCHEMES), params)).mappings().all()


async def put_scheme(
    session: AsyncSession, park_id: str, code: str, year: int, definition: str, by: str
) -> None:
    """The park's own version of a scheme for ``year`` (replacing its earlier one)."""
    await session.execute(
        text(
            "INSERT INTO economy_scheme (park_id, code, year, definition, updated_by) "
            "VALUES (:park, :code, :year, CAST(:definition AS jsonb), :by) "
            "ON CONFLICT (park_id, code, year) DO UPDATE SET definition = excluded.definition, "
            "updated_at = now(), updated_by = excluded.updated_by"
        ),
        {"park": park_id, "code": code, "year": year, "definition": definition, "by": by},
    )


async def events(session: AsyncSession, park_id: str, year: int) -> Sequence[RowMapping]:
    """Every firm's scored items of ``year``."""
    result = await session.execute(
        text(
            "SELECT enterprise_id, item, note FROM economy_permu_event "
            "WHERE park_id = :park AND year = :year ORDER BY enterprise_id, item"
        ),
        {"park": park_id, "year": year},
    )
    return result.mappings().all()


async def replace_events(
    session: AsyncSession,
    key: tuple[str, str, int],
    items: list[dict[str, Any]],
    by: str,
) -> None:
    park_id, enterprise_id, year = key
    params = {"park": park_id, "e": enterprise_id, "year": year}
    await session.execute(
        text(
            "DELETE FROM economy_permu_event "
            "WHERE park_id = :park AND enterprise_id = :e AND year = :year"
        ),
        params,
    )
    if items:
        await session.execute(
            text(
                "INSERT INTO economy_permu_event (park_id, enterprise_id, year, item, note, "
                "created_by) VALUES (:park, :e, :year, :item, :note, :by)"
            ),
            [{**params, **i, "by": by} for i in items],
        )
