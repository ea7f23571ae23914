"""SQL of the green and low-carbon module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from psycopg.sql import Identifier
from sqlalchemy import RowMapping, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon.sql import energy_sql, gaps_sql
from app.core.fetch import fetch_all
from app.core.sqlcompose import statement
from app.telemetry.consumption import holds_a_month


async def region(session: AsyncSession, park_id: str) -> str:
    result = await session.execute(
        text("SELECT grid_region FROM carbon_setting WHERE park_id = :park"), {"park": park_id}
    )
    return str(result.scalar_one_or_none() or "national")


async def set_region(session: AsyncSession, park_id: str, grid_region: str) -> None:
    await session.execute(
        text(
            "INSERT INTO carbon_setting (park_id, grid_region) VALUES (:park, :region) "
            "ON CONFLICT (park_id) DO UPDATE SET grid_region = excluded.grid_region, "
            "updated_at = now()"
        ),
        {"park": park_id, "region": grid_region},
    )


async def quantities(
    session: AsyncSession,
    *,
    park_id: str,
    tz: str,
    span: tuple[datetime, datetime, date, date],
    group_by: str,
    step: str,
    grid_region: str,
    only: str | None = None,
    carrier: str | None = None,
) -> Sequence[RowMapping]:
    lo, hi, lo_day, hi_day = span
    # The best plan depends on the park's meters; psycopg prepares a statement run five times
    # on a connection, and PostgreSQL's generic plan for it took 25-30 s instead of 1-2 s
    # (bench/carbon): plan each run for its own values, for the rest of the transaction.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    params = {"park": park_id, "tz": tz, "lo": lo, "hi": hi, "lo_day": lo_day,
              "hi_day": hi_day, "region": grid_region, "only": only,
              "carrier": carrier}  # fmt: skip
    whole_months = step == "month" and holds_a_month(lo, hi, tz)
    return await fetch_all(session, text(energy_sql(group_by, step, whole_months)), params)


async def gaps(
    session: AsyncSession, *, park_id: str, tz: str, lo: datetime, hi: datetime
) -> Sequence[RowMapping]:
    params = {"park": park_id, "tz": tz, "lo": lo, "hi": hi, "only": None, "carrier": None}
    return await fetch_all(session, text(gaps_sql(holds_a_month(lo, hi, tz))), params)


# One fixed statement per table a manual entry may name.
_EXISTS = {
    "enterprise": text("SELECT 1 FROM enterprise WHERE park_id = :park AND id = :id"),
    "building": text("SELECT 1 FROM building WHERE park_id = :park AND id = :id"),
}


async def exists(session: AsyncSession, table: str, park_id: str, row_id: str) -> bool:
    result = await session.execute(_EXISTS[table], {"park": park_id, "id": row_id})
    return result.first() is not None


async def carriers(session: AsyncSession) -> Sequence[RowMapping]:
    return await fetch_all(session, text("SELECT * FROM carbon_carrier ORDER BY carrier"))


async def coefficients(
    session: AsyncSession, park_id: str, ids: list[int] | None = None
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT id, park_id, carrier, basis, valid_from, value, source, verify, document, "
            "issuer, issued_on, table_ref FROM carbon_coefficient "
            "WHERE (park_id = :park OR park_id IS NULL) "
            "AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(:ids)) "
            "ORDER BY carrier, basis, valid_from, park_id NULLS FIRST"
        ),
        {"park": park_id, "ids": ids},
    )


async def factors(
    session: AsyncSession, park_id: str, ids: list[int] | None = None
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT id, park_id, carrier, method, region, valid_from, value, ncv, "
            "carbon_content, oxidation, source, verify, document, issuer, issued_on, "
            "table_ref, data_year, parameters FROM carbon_factor "
            "WHERE (park_id = :park OR park_id IS NULL) "
            "AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(:ids)) "
            "ORDER BY carrier, method, region, valid_from, park_id NULLS FIRST"
        ),
        {"park": park_id, "ids": ids},
    )


async def insert_coefficient(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """The new row's id, or None when the park already has one for that key and date."""
    return await _insert(
        session,
        "INSERT INTO carbon_coefficient (park_id, carrier, basis, valid_from, value, source, "
        "verify, document, issuer, issued_on, table_ref) VALUES (:park_id, :carrier, :basis, "
        ":valid_from, :value, :source, :verify, :document, :issuer, :issued_on, :table_ref) "
        "RETURNING id",
        {"document": None, "issuer": None, "issued_on": None, "table_ref": None, **values},
    )


async def insert_factor(session: AsyncSession, values: dict[str, Any]) -> int | None:
    return await _insert(
        session,
        "INSERT INTO carbon_factor (park_id, carrier, method, region, valid_from, value, ncv, "
        "carbon_content, oxidation, source, verify, document, issuer, issued_on, table_ref, "
        "data_year, parameters) VALUES (:park_id, :carrier, :method, :region, :valid_from, "
        ":value, :ncv, :carbon_content, :oxidation, :source, :verify, :document, :issuer, "
        ":issued_on, :table_ref, :data_year, CAST(:parameters AS jsonb)) RETURNING id",
        {**FACTOR_DEFAULTS, **values, "parameters": _json(values.get("parameters"))},
    )


FACTOR_DEFAULTS = dict.fromkeys(("document", "issuer", "issued_on", "table_ref", "data_year"))


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


async def _insert(session: AsyncSession, statement: str, values: dict[str, Any]) -> int | None:
    try:
        async with session.begin_nested():
            return int((await session.execute(text(statement), values)).scalar_one())
    except IntegrityError:
        return None


async def insert_manual(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    result = await session.execute(
        text(
            "INSERT INTO carbon_manual_entry (park_id, enterprise_id, building_id, carrier, day, "
            "quantity, note) VALUES (:park_id, :enterprise_id, :building_id, :carrier, :day, "
            ":quantity, :note) RETURNING *"
        ),
        values,
    )
    return result.mappings().one()


async def list_manual(
    session: AsyncSession, park_id: str, after: tuple[date, str] | None, limit: int
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT * FROM carbon_manual_entry WHERE park_id = :park "
            "AND (CAST(:day AS date) IS NULL OR (day, id::text) > (:day, :id)) "
            "ORDER BY day, id::text LIMIT :limit"
        ),
        {
            "park": park_id,
            "day": after[0] if after else None,
            "id": after[1] if after else None,
            "limit": limit,
        },
    )


async def insert_green(session: AsyncSession, rows: list[dict[str, Any]]) -> bool:
    """Insert every row or none; False when a certificate id was used already."""
    try:
        async with session.begin_nested():
            for row in rows:
                await session.execute(
                    text(
                        "INSERT INTO carbon_green_power (id, park_id, enterprise_id, kind, "
                        "certificate_id, month, kwh, reference) VALUES (:id, :park_id, "
                        ":enterprise_id, :kind, :certificate_id, :month, coalesce(:kwh, "
                        "(SELECT value FROM carbon_constant WHERE name = 'certificate_kwh')), "
                        ":reference)"
                    ),
                    row,
                )
    except IntegrityError:
        return False
    return True


async def used_certificates(session: AsyncSession, ids: list[str]) -> list[str]:
    result = await session.execute(
        text(
            "SELECT certificate_id FROM carbon_green_power WHERE certificate_id = ANY(:ids) "
            "ORDER BY 1"
        ),
        {"ids": ids},
    )
    return [str(r[0]) for r in result]


async def list_green(
    session: AsyncSession, park_id: str, after: tuple[date, str] | None, limit: int
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT * FROM carbon_green_power WHERE park_id = :park "
            "AND (CAST(:month AS date) IS NULL OR (month, id::text) > (:month, :id)) "
            "ORDER BY month, id::text LIMIT :limit"
        ),
        {
            "park": park_id,
            "month": after[0] if after else None,
            "id": after[1] if after else None,
            "limit": limit,
        },
    )


async def green_by_ids(session: AsyncSession, park_id: str, ids: list[Any]) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT * FROM carbon_green_power WHERE park_id = :park AND id = ANY(:ids) "
            "ORDER BY certificate_id NULLS FIRST"
        ),
        {"park": park_id, "ids": ids},
    )


async def green_records(
    session: AsyncSession, park_id: str, group_by: str, months: tuple[date, date]
) -> Sequence[RowMapping]:
    """Green-power records of ``[lo, hi)`` months (a 绿证's month is its vintage), per group:
    the park gets all, an enterprise its own, a building none (green power is bought by
    enterprises or the park)."""
    if group_by == "building":
        return []
    key = Identifier("park_id" if group_by in ("park", "carrier") else "enterprise_id")
    return await fetch_all(
        session,
        statement(
            "SELECT {key} AS group_key, kind, month, kwh, certificate_id "
            "FROM carbon_green_power WHERE park_id = :park AND month >= :lo AND month < :hi "
            "AND {key} IS NOT NULL ORDER BY 1, month, certificate_id NULLS FIRST",
            key=key,
        ),
        {"park": park_id, "lo": months[0], "hi": months[1]},
    )


async def value_added(
    session: AsyncSession, park_id: str, months: tuple[date, date]
) -> Sequence[RowMapping]:
    """Value added (10⁴ yuan) per enterprise and month, from the economy module's reports."""
    return await fetch_all(
        session,
        text(
            "SELECT enterprise_id, month, value_added FROM economy_report "
            "WHERE park_id = :park AND month >= :lo AND month < :hi"
        ),
        {"park": park_id, "lo": months[0], "hi": months[1]},
    )


async def upsert_budget(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    result = await session.execute(
        text(
            "INSERT INTO carbon_budget (park_id, enterprise_id, year, metric, cap) "
            "VALUES (:park_id, :enterprise_id, :year, :metric, :cap) "
            "ON CONFLICT (park_id, coalesce(enterprise_id, ''), year, metric) "
            "DO UPDATE SET cap = excluded.cap, updated_at = now() RETURNING *"
        ),
        values,
    )
    return result.mappings().one()


async def budgets(
    session: AsyncSession, park_id: str | None, year: int | None
) -> Sequence[RowMapping]:
    return await fetch_all(
        session,
        text(
            "SELECT b.*, p.timezone, coalesce(array_agg(a.threshold ORDER BY a.threshold) "
            "FILTER (WHERE a.threshold IS NOT NULL), '{}') AS announced "
            "FROM carbon_budget b JOIN park p ON p.id = b.park_id "
            "LEFT JOIN carbon_budget_announcement a ON a.budget_id = b.id "
            "WHERE (CAST(:park AS text) IS NULL OR b.park_id = :park) "
            "AND (CAST(:year AS integer) IS NULL OR b.year = :year) "
            "GROUP BY b.id, p.timezone ORDER BY b.park_id, b.year, b.enterprise_id NULLS FIRST, "
            "b.metric"
        ),
        {"park": park_id, "year": year},
    )


async def announce(session: AsyncSession, budget_id: Any, threshold: int, value: float) -> bool:
    """Record that ``threshold`` was announced for the budget; False if it was already."""
    result = await session.execute(
        text(
            "INSERT INTO carbon_budget_announcement (budget_id, threshold, value) "
            "VALUES (:id, :threshold, :value) ON CONFLICT DO NOTHING RETURNING 1"
        ),
        {"id": budget_id, "threshold": threshold, "value": value},
    )
    return result.scalar_one_or_none() is not None


async def put_process(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    result = await session.execute(
        text(
            "INSERT INTO carbon_process_emission (park_id, enterprise_id, year, co2_t, "
            "description, method) VALUES (:park_id, :enterprise_id, :year, :co2_t, "
            ":description, :method) ON CONFLICT (park_id, enterprise_id, year) DO UPDATE SET "
            "co2_t = excluded.co2_t, description = excluded.description, "
            "method = excluded.method, updated_at = now() RETURNING *"
        ),
        values,
    )
    return result.mappings().one()


async def process_emissions(
    session: AsyncSession,
    park_id: str,
    year: int | None,
    enterprise_id: str | None = None,
    after: tuple[int, str] | None = None,
    limit: int | None = None,
) -> Sequence[RowMapping]:
    """Process emissions entered for the park (or one enterprise), by year and enterprise,
    after the (year, enterprise) key ``after``, at most ``limit`` rows."""
    return await fetch_all(
        session,
        text(
            "SELECT * FROM carbon_process_emission WHERE park_id = :park "
            "AND (CAST(:year AS integer) IS NULL OR year = :year) "
            "AND (CAST(:enterprise AS text) IS NULL OR enterprise_id = :enterprise) "
            "AND (CAST(:after_year AS integer) IS NULL OR (year, enterprise_id) > "
            "(:after_year, :after_id)) ORDER BY year, enterprise_id LIMIT :limit"
        ),
        {
            "park": park_id,
            "year": year,
            "enterprise": enterprise_id,
            "after_year": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    )


async def targets(session: AsyncSession) -> Sequence[RowMapping]:
    return await fetch_all(
        session, text("SELECT * FROM carbon_target ORDER BY indicator, min_tce NULLS FIRST")
    )


async def constants(session: AsyncSession) -> dict[str, RowMapping]:
    result = await session.execute(text("SELECT * FROM carbon_constant ORDER BY name"))
    return {str(r["name"]): r for r in result.mappings().all()}


async def regions(session: AsyncSession, park_id: str) -> set[str]:
    """The grid regions with a location factor (the defaults' and the park's own)."""
    result = await session.execute(
        text(
            "SELECT DISTINCT region FROM carbon_factor WHERE carrier = 'electricity_grid' "
            "AND method = 'location' AND (park_id IS NULL OR park_id = :park)"
        ),
        {"park": park_id},
    )
    return {str(r[0]) for r in result}


async def factor_in_force(
    session: AsyncSession, park_id: str, carrier: str, method: str, on: date
) -> RowMapping | None:
    result = await session.execute(
        text(
            "SELECT * FROM carbon_factor WHERE carrier = :carrier AND method = :method "
            "AND valid_from <= :on AND (park_id = :park OR park_id IS NULL) "
            "ORDER BY park_id NULLS LAST, valid_from DESC LIMIT 1"
        ),
        {"park": park_id, "carrier": carrier, "method": method, "on": on},
    )
    return result.mappings().first()
