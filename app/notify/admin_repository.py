"""SQL of the notification settings a park admin manages: channels, people, routes, the
on-call chain, and the message log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
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


async def channel(session: AsyncSession, park_id: str, channel_id: uuid.UUID) -> RowMapping | None:
    sql = text("SELECT * FROM notify_channel WHERE park_id = :park AND id = :id FOR UPDATE")
    return (
        (await session.execute(sql, {"park": park_id, "id": channel_id})).mappings().one_or_none()
    )


async def update_channel(
    session: AsyncSession, channel_id: uuid.UUID, values: dict[str, Any], reset_breaker: bool
) -> RowMapping:
    """Set the channel's fields; ``reset_breaker``: close its circuit (a new URL or secret, or
    the channel switched back on, is worth trying at once)."""
    sql = text(
        "UPDATE notify_channel SET name = :name, url = :url, secret = :secret,"
        " recipients = :recipients, language = :language, rate_per_min = :rate_per_min,"
        " active = :active,"
        " consecutive_failures = CASE WHEN :reset THEN 0 ELSE consecutive_failures END,"
        " circuit_open_until = CASE WHEN :reset THEN NULL ELSE circuit_open_until END"
        " WHERE id = :id RETURNING *"
    )
    params = {**values, "id": channel_id, "reset": reset_breaker}
    return (await session.execute(sql, params)).mappings().one()


# Dead messages due again now with a fresh retry schedule (as webhook redelivery does); the
# worker's delivery loop wakes on the notification.
RESEND_DEAD = text(
    "WITH requeued AS (UPDATE notify_message SET status = 'pending', failures = 0,"
    " next_attempt_at = now(), attempt_id = NULL WHERE park_id = :park AND status = 'dead'"
    " AND (CAST(:channel AS uuid) IS NULL OR channel_id = :channel)"
    " AND (CAST(:message AS bigint) IS NULL OR id = :message)"
    " AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since) RETURNING 1)"
    " SELECT count(*) FROM requeued"
)
WAKE = text("SELECT pg_notify('parktwin_notify', '')")


async def resend_dead(
    session: AsyncSession,
    park_id: str,
    *,
    channel_id: uuid.UUID | None = None,
    message_id: int | None = None,
    since: datetime | None = None,
) -> int:
    params = {"park": park_id, "channel": channel_id, "message": message_id, "since": since}
    count = int((await session.execute(RESEND_DEAD, params)).scalar_one())
    if count:
        await session.execute(WAKE)
    return count


async def message_status(session: AsyncSession, park_id: str, message_id: int) -> str | None:
    sql = text("SELECT status FROM notify_message WHERE park_id = :park AND id = :id")
    row = (await session.execute(sql, {"park": park_id, "id": message_id})).first()
    return None if row is None else str(row[0])


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


async def update_person(
    session: AsyncSession, park_id: str, person_id: uuid.UUID, values: dict[str, Any]
) -> RowMapping | None:
    sql = text(
        "UPDATE notify_person SET name = :name, mobile = :mobile, email = :email,"
        " wecom_userid = :wecom_userid WHERE park_id = :park AND id = :id RETURNING *"
    )
    params = {**values, "park": park_id, "id": person_id}
    return (await session.execute(sql, params)).mappings().one_or_none()


async def lock_person(session: AsyncSession, park_id: str, person_id: uuid.UUID) -> bool:
    """Lock the person's row (False: no such person): a chain being replaced at the same time
    holds a key-share lock on it, so the chain check after this sees that chain."""
    sql = text("SELECT 1 FROM notify_person WHERE park_id = :park AND id = :id FOR UPDATE")
    return (await session.execute(sql, {"park": park_id, "id": person_id})).first() is not None


async def chain_positions(session: AsyncSession, park_id: str, person_id: uuid.UUID) -> list[int]:
    """The positions of the on-call chain that are this person's."""
    sql = text(
        "SELECT position FROM notify_escalation_step WHERE park_id = :park AND person_id = :id"
        " ORDER BY position"
    )
    return list((await session.execute(sql, {"park": park_id, "id": person_id})).scalars())


# A removed person's contact details leave the message log; the name stays (the log and the
# alarm's trail say who was told). An escalation message still waiting for them is not sent
# (dead, "person removed"): it was theirs alone (app/notify/escalation.py).
FORGET_PERSON = [
    "UPDATE notify_route SET person_ids = array_remove(person_ids, CAST(:id AS uuid))"
    " WHERE park_id = :park AND CAST(:id AS uuid) = ANY (person_ids)",
    """
    UPDATE notify_message m SET
        context = jsonb_set(m.context, '{people}', (
            SELECT jsonb_agg(CASE WHEN x.p->>'id' = :id
                                  THEN jsonb_build_object('id', x.p->'id', 'name', x.p->'name')
                                  ELSE x.p END ORDER BY x.i)
            FROM jsonb_array_elements(m.context->'people') WITH ORDINALITY AS x(p, i))),
        recipient = CASE WHEN m.kind = 'escalation' THEN '' ELSE m.recipient END,
        status = CASE WHEN m.kind = 'escalation' AND m.status = 'pending' THEN 'dead'
                      ELSE m.status END,
        last_error = CASE WHEN m.kind = 'escalation' AND m.status = 'pending'
                          THEN 'person removed' ELSE m.last_error END
    WHERE m.park_id = :park
      AND m.context->'people' @> jsonb_build_array(jsonb_build_object('id', CAST(:id AS text)))
    """,
]


async def delete_person(session: AsyncSession, park_id: str, person_id: uuid.UUID) -> None:
    """Remove the person, out of every route's @-list and the message log (above)."""
    params = {"park": park_id, "id": str(person_id)}
    await session.execute(
        text("DELETE FROM notify_person WHERE park_id = :park AND id = CAST(:id AS uuid)"), params
    )
    for statement in FORGET_PERSON:
        await session.execute(text(statement), params)


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
