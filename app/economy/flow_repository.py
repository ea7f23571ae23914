"""SQL of the enterprise report workflow: submissions, their events (the audit trail), the
accepted figures they are checked against, the overdue list and the reminders sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from psycopg import sql
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sqlcompose import statement
from app.economy import flow

Key = tuple[str, str, date]  # park, enterprise, month
READ = (
    "enterprise_id, to_char(month, 'YYYY-MM') AS month, state, figures, explanations, comment, "
    "created_at, created_by, updated_at, updated_by, submitted_at, submitted_by, reviewed_at, "
    "reviewed_by"
)
WHERE_KEY = "park_id = :park AND enterprise_id = :e AND month = :m"


def _key(key: Key) -> dict[str, Any]:
    return {"park": key[0], "e": key[1], "m": key[2]}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def lock(session: AsyncSession, key: Key) -> RowMapping | None:
    """The submission, locked for the change (None when there is none yet)."""
    result = await session.execute(
        statement(
            "SELECT {read} FROM economy_report_submission WHERE {key} FOR UPDATE",
            read=sql.SQL(READ),
            key=sql.SQL(WHERE_KEY),
        ),
        _key(key),
    )
    return result.mappings().one_or_none()


async def get(session: AsyncSession, key: Key) -> RowMapping | None:
    result = await session.execute(
        statement(
            "SELECT {read} FROM economy_report_submission WHERE {key}",
            read=sql.SQL(READ),
            key=sql.SQL(WHERE_KEY),
        ),
        _key(key),
    )
    return result.mappings().one_or_none()


SAVE = """
INSERT INTO economy_report_submission (park_id, enterprise_id, month, state, figures,
    explanations, created_by, updated_by)
VALUES (:park, :e, :m, :state, CAST(:figures AS jsonb), CAST(:explanations AS jsonb), :by, :by)
ON CONFLICT (park_id, enterprise_id, month) DO UPDATE SET state = excluded.state,
    figures = excluded.figures, explanations = excluded.explanations, updated_at = now(),
    updated_by = excluded.updated_by
"""


async def save(
    session: AsyncSession,
    key: Key,
    state: str,
    figures: dict[str, Any],
    explanations: dict[str, str],
    by: str,
) -> None:
    params = {**_key(key), "state": state, "by": by}
    params |= {"figures": _json(figures), "explanations": _json(explanations)}
    await session.execute(text(SAVE), params)


MOVE = """
UPDATE economy_report_submission SET state = :state, updated_at = now(), updated_by = :by,
    explanations = CAST(:explanations AS jsonb),
    comment = CASE WHEN :review THEN :comment ELSE comment END,
    submitted_at = CASE WHEN :review THEN submitted_at ELSE now() END,
    submitted_by = CASE WHEN :review THEN submitted_by ELSE :by END,
    reviewed_at = CASE WHEN :review THEN now() ELSE reviewed_at END,
    reviewed_by = CASE WHEN :review THEN :by ELSE reviewed_by END
WHERE park_id = :park AND enterprise_id = :e AND month = :m
"""
"""A submit (``review`` false: who submitted when) or a park's review (who reviewed when,
with its comment)."""


async def move(
    session: AsyncSession,
    key: Key,
    *,
    state: str,
    by: str,
    review: bool,
    explanations: dict[str, str],
    comment: str | None,
) -> None:
    params = {**_key(key), "state": state, "by": by, "review": review, "comment": comment}
    await session.execute(text(MOVE), params | {"explanations": _json(explanations)})


async def add_event(session: AsyncSession, key: Key, event: dict[str, Any]) -> None:
    """One line of the audit trail: ``action``, ``from_state``, ``to_state``, ``figures``,
    ``explanations``, ``comment``, ``by_key``, ``by_role``."""
    params = {**_key(key), **event}
    params |= {"figures": _json(event["figures"]), "explanations": _json(event["explanations"])}
    await session.execute(
        text(
            "INSERT INTO economy_report_submission_event (park_id, enterprise_id, month, "
            "action, from_state, to_state, figures, explanations, comment, by_key, by_role) "
            "VALUES (:park, :e, :m, :action, :from_state, :to_state, CAST(:figures AS jsonb), "
            "CAST(:explanations AS jsonb), :comment, :by_key, :by_role)"
        ),
        params,
    )


async def events(session: AsyncSession, key: Key) -> Sequence[RowMapping]:
    result = await session.execute(
        statement(
            "SELECT id, action, from_state, to_state, figures, explanations, comment, by_key, "
            "by_role, at FROM economy_report_submission_event WHERE {key} ORDER BY id",
            key=sql.SQL(WHERE_KEY),
        ),
        _key(key),
    )
    return result.mappings().all()


async def accepted_figures(
    session: AsyncSession, park_id: str, enterprise_id: str, months: list[date]
) -> dict[date, RowMapping]:
    """The figures that count (``economy_report``) of ``months``, by month."""
    result = await session.execute(
        text(
            "SELECT month, output_value, value_added, revenue, tax, employees, rd_spend, "
            "emissions, energy_tce FROM economy_report "
            "WHERE park_id = :park AND enterprise_id = :e AND month = ANY(:months)"
        ),
        {"park": park_id, "e": enterprise_id, "months": months},
    )
    return {r["month"]: r for r in result.mappings()}


async def list_(
    session: AsyncSession, park_id: str, filters: dict[str, Any], after: Any, limit: int
) -> Sequence[RowMapping]:
    """Submissions by month then enterprise, filtered by ``enterprise_id``, ``state``,
    ``month`` (each may be None)."""
    params = {"park": park_id, **filters, "limit": limit}
    params |= {"after_m": after[0] if after else None, "after_e": after[1] if after else None}
    result = await session.execute(
        statement(
            "SELECT {read} FROM economy_report_submission WHERE park_id = :park "
            "AND (CAST(:enterprise_id AS text) IS NULL OR enterprise_id = :enterprise_id) "
            "AND (CAST(:state AS text) IS NULL OR state = :state) "
            "AND (CAST(:month AS date) IS NULL OR month = :month) "
            "AND (CAST(:after_m AS text) IS NULL "
            "OR (to_char(month, 'YYYY-MM'), enterprise_id) > (:after_m, :after_e)) "
            "ORDER BY month, enterprise_id LIMIT :limit",
            read=sql.SQL(READ),
        ),
        params,
    )
    return result.mappings().all()


NOT_REPORTED = """
FROM enterprise e
LEFT JOIN economy_report_submission s
    ON s.park_id = e.park_id AND s.enterprise_id = e.id AND s.month = :month
WHERE e.park_id = :park
AND coalesce(s.state, 'none') <> ALL(CAST(:reported AS text[]))
AND NOT EXISTS (SELECT FROM economy_report r
                WHERE r.park_id = e.park_id AND r.enterprise_id = e.id AND r.month = :month)
"""
"""The park's enterprises that owe ``month``'s report: none submitted, in review or accepted,
and no figures the park entered itself."""


async def not_reported(
    session: AsyncSession, park_id: str, month: date, after: str | None, limit: int
) -> Sequence[RowMapping]:
    result = await session.execute(
        statement(
            "SELECT e.id AS enterprise_id, e.name, coalesce(s.state, 'none') AS state, "
            "s.comment, s.updated_at {owing} "
            "AND (CAST(:after AS text) IS NULL OR e.id > :after) ORDER BY e.id LIMIT :limit",
            owing=sql.SQL(NOT_REPORTED),
        ),
        {"park": park_id, "month": month, "reported": list(flow.REPORTED), "after": after}
        | {"limit": limit},
    )
    return result.mappings().all()


async def claim_reminders(
    session: AsyncSession, park_id: str, month: date, kind: str
) -> Sequence[RowMapping]:
    """Record ``kind`` for every enterprise that owes ``month``'s report and was not yet told;
    the rows claimed (each once, ever)."""
    result = await session.execute(
        statement(
            "WITH owing AS (SELECT e.id, e.name, coalesce(s.state, 'none') AS state "
            "{owing}), "
            "sent AS (INSERT INTO economy_report_reminder (park_id, enterprise_id, month, kind) "
            "SELECT :park, id, :month, :kind FROM owing ON CONFLICT DO NOTHING "
            "RETURNING enterprise_id) "
            "SELECT o.id AS enterprise_id, o.name, o.state FROM owing o "
            "JOIN sent ON sent.enterprise_id = o.id ORDER BY o.id",
            owing=sql.SQL(NOT_REPORTED),
        ),
        {"park": park_id, "month": month, "kind": kind, "reported": list(flow.REPORTED)},
    )
    return result.mappings().all()
