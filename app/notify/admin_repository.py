"""SQL of the notification settings a park admin manages: channels, people, routes, the
on-call chain, and the message log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_channel(session: AsyncSession, park_id: str, values: dict[str, Any]) -> RowMapping:
    sql = text(
        "INSERT INTO notify_channel (park_id, name, kind, url, secret, recipients, language,"
        " rate_per_min) VALUES (:park, :name, :kind, :url, :secret, :recipients, :language,"
        " :rate_per_min) RETURNING *"
    )
    return (await session.execute(sql, {**values, "park": park_id})).mappings().one()


async def channels(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    sql = text("SELECT * FROM notify_channel WHERE park_id = :park ORDER BY created_at, id")
    return (await session.execute(sql, {"park": park_id})).mappings().all()


async def delete_channel(session: AsyncSession, park_id: str, channel_id: uuid.UUID) -> bool:
    sql = text("DELETE FROM notify_channel WHERE park_id = :park AND id = :id RETURNING id")
    return (await session.execute(sql, {"park": park_id, "id": channel_id})).first() is not None


async def count_owned(
    session: AsyncSession, table: str, park_id: str, ids: Sequence[uuid.UUID]
) -> int:
    """How many of ``ids`` are rows of ``table`` (notify_channel or notify_person) of the park."""
    sql = {
        "notify_channel": "SELECT count(*) FROM notify_channel WHERE park_id = :park"
        " AND id = ANY (CAST(:ids AS uuid[]))",
        "notify_person": "SELECT count(*) FROM notify_person WHERE park_id = :park"
        " AND id = ANY (CAST(:ids AS uuid[]))",
    }[table]
    params = {"park": park_id, "ids": list(set(ids))}
    return int((await session.execute(text(sql), params)).scalar_one())


async def insert_person(session: AsyncSession, park_id: str, values: dict[str, Any]) -> RowMapping:
    sql = text(
        "INSERT INTO notify_person (park_id, name, mobile, email, wecom_userid)"
        " VALUES (:park, :name, :mobile, :email, :wecom_userid) RETURNING *"
    )
    return (await session.execute(sql, {**values, "park": park_id})).mappings().one()


async def people(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    sql = text("SELECT * FROM notify_person WHERE park_id = :park ORDER BY created_at, id")
    return (await session.execute(sql, {"park": park_id})).mappings().all()


async def insert_route(session: AsyncSession, park_id: str, values: dict[str, Any]) -> RowMapping:
    sql = text(
        "INSERT INTO notify_route (park_id, channel_id, event_types, min_severity, building_id,"
        " device_type, person_ids, quiet_start, quiet_end) VALUES (:park, :channel_id,"
        " :event_types, :min_severity, :building_id, :device_type, CAST(:person_ids AS uuid[]),"
        " :quiet_start, :quiet_end) RETURNING *"
    )
    return (await session.execute(sql, {**values, "park": park_id})).mappings().one()


async def routes(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    sql = text("SELECT * FROM notify_route WHERE park_id = :park ORDER BY id")
    return (await session.execute(sql, {"park": park_id})).mappings().all()


async def delete_routes(session: AsyncSession, park_id: str) -> None:
    await session.execute(text("DELETE FROM notify_route WHERE park_id = :park"), {"park": park_id})


async def replace_chain(
    session: AsyncSession, park_id: str, steps: Sequence[dict[str, Any]]
) -> None:
    await session.execute(
        text("DELETE FROM notify_escalation_step WHERE park_id = :park"), {"park": park_id}
    )
    for position, step in enumerate(steps, start=1):
        await session.execute(
            text(
                "INSERT INTO notify_escalation_step (park_id, position, person_id, channel_id,"
                " wait_s) VALUES (:park, :position, :person_id, :channel_id, :wait_s)"
            ),
            {**step, "park": park_id, "position": position},
        )


async def chain(session: AsyncSession, park_id: str) -> Sequence[RowMapping]:
    sql = text(
        "SELECT person_id, channel_id, wait_s FROM notify_escalation_step WHERE park_id = :park"
        " ORDER BY position"
    )
    return (await session.execute(sql, {"park": park_id})).mappings().all()


async def messages(
    session: AsyncSession, park_id: str, status: str | None, before: int | None, limit: int
) -> Sequence[RowMapping]:
    sql = text(
        "SELECT * FROM notify_message WHERE park_id = :park"
        " AND (CAST(:status AS text) IS NULL OR status = :status)"
        " AND (CAST(:before AS bigint) IS NULL OR id < :before) ORDER BY id DESC LIMIT :limit"
    )
    params = {"park": park_id, "status": status, "before": before, "limit": limit}
    return (await session.execute(sql, params)).mappings().all()


async def insert_test(
    session: AsyncSession, park_id: str, channel_id: uuid.UUID, context: dict[str, Any]
) -> RowMapping:
    sql = text(
        "INSERT INTO notify_message (park_id, channel_id, kind, type, urgent, context)"
        " VALUES (:park, :channel, 'test', 'notify.test', false, CAST(:context AS jsonb))"
        " RETURNING *"
    )
    params = {"park": park_id, "channel": channel_id, "context": orjson.dumps(context).decode()}
    return (await session.execute(sql, params)).mappings().one()
