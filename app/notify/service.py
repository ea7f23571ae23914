"""Notification settings (admin) and the message log. Routes and the on-call chain refer only
to channels and people of the same park; robot URLs pass the same SSRF checks as webhooks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.document import rfc3339
from app.core.config import Settings
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.notify import admin_repository as repository
from app.notify import routing, vendors
from app.notify.schemas import (
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    EscalationChain,
    MessageRead,
    PersonCreate,
    PersonRead,
    Resend,
    RouteCreate,
    RouteRead,
)
from app.parks.deps import ParkContext
from app.webhooks.guard import Policy, UnsafeUrl, check_url, redact
from app.webhooks.schemas import Requeued  # the same answer as webhook redelivery

MAX_CHANNELS = 100
MAX_ROUTES = 200


async def _check_url(kind: str, url: str, settings: Settings) -> None:
    """The vendor's URL shape, then the same SSRF checks as a webhook's."""
    problem = vendors.url_problem(kind, url)
    if problem:
        raise Unprocessable(f"url: {problem}", field="url")
    try:
        await check_url(url, Policy.of(settings))
    except UnsafeUrl as exc:
        raise Unprocessable(f"url: {exc}", reason=exc.reason) from exc


def _channel(row: Any) -> ChannelRead:
    url = redact(row["url"]) if row["url"] else None
    return ChannelRead.model_validate({**row, "url": url, "has_secret": bool(row["secret"])})


async def create_channel(
    session: AsyncSession, *, ctx: ParkContext, data: ChannelCreate, settings: Settings
) -> ChannelRead:
    if data.url is not None:
        await _check_url(data.kind, data.url, settings)
    if len(await repository.channels(session, ctx.park_id)) >= MAX_CHANNELS:
        raise Unprocessable(f"the park has {MAX_CHANNELS} channels already, the most it may have")
    values = data.model_dump()
    values["rate_per_min"] = data.rate_per_min or vendors.RATE_PER_MIN[data.kind]
    return _channel(await repository.insert_channel(session, ctx.park_id, values))


async def list_channels(session: AsyncSession, *, ctx: ParkContext) -> list[ChannelRead]:
    return [_channel(r) for r in await repository.channels(session, ctx.park_id)]


async def update_channel(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    channel_id: uuid.UUID,
    data: ChannelUpdate,
    settings: Settings,
) -> ChannelRead:
    """Change some of a channel's fields (a robot's new token, a paused channel), checked as a
    new channel would be; its routes, chain steps and queued messages stay with it."""
    row = await repository.channel(session, ctx.park_id, channel_id)
    if row is None:
        raise NotFound(f"no notification channel {channel_id} in park {ctx.park_id!r}")
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "recipients", "language", "rate_per_min", "active"):
        if name in changes and changes[name] is None:
            raise Unprocessable(f"{name}: may not be null", field=name)
    fields = tuple(ChannelCreate.model_fields)  # all but ``active``
    merged = {**{k: row[k] for k in fields}, **{k: changes[k] for k in fields if k in changes}}
    try:  # the whole channel as it would be, through the same checks as a new one
        ChannelCreate.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise Unprocessable(f"{field or 'channel'}: {first['msg']}", field=field) from exc
    if changes.get("url") is not None:
        await _check_url(str(row["kind"]), changes["url"], settings)
    reset = "url" in changes or "secret" in changes or changes.get("active") is True
    values = {**merged, "active": changes.get("active", row["active"])}
    del values["kind"]
    return _channel(await repository.update_channel(session, channel_id, values, reset))


async def delete_channel(session: AsyncSession, *, ctx: ParkContext, channel_id: uuid.UUID) -> None:
    if not await repository.delete_channel(session, ctx.park_id, channel_id):
        raise NotFound(f"no notification channel {channel_id} in park {ctx.park_id!r}")


async def create_person(
    session: AsyncSession, *, ctx: ParkContext, data: PersonCreate
) -> PersonRead:
    row = await repository.insert_person(session, ctx.park_id, data.model_dump())
    return PersonRead.model_validate(dict(row))


async def list_people(session: AsyncSession, *, ctx: ParkContext) -> list[PersonRead]:
    return [
        PersonRead.model_validate(dict(r)) for r in await repository.people(session, ctx.park_id)
    ]


async def update_person(
    session: AsyncSession, *, ctx: ParkContext, person_id: uuid.UUID, data: PersonCreate
) -> PersonRead:
    """New details for a person; routes, the chain and messages not yet composed use them."""
    row = await repository.update_person(session, ctx.park_id, person_id, data.model_dump())
    if row is None:
        raise NotFound(f"no person {person_id} in park {ctx.park_id!r}")
    return PersonRead.model_validate(dict(row))


async def delete_person(session: AsyncSession, *, ctx: ParkContext, person_id: uuid.UUID) -> None:
    """Remove a person (someone who left): refused while they hold a step of the on-call chain
    (the chain must not lose a step unseen); otherwise out of every route's @-list, their
    contact details out of the message log, their acknowledge links void."""
    if not await repository.lock_person(session, ctx.park_id, person_id):
        raise NotFound(f"no person {person_id} in park {ctx.park_id!r}")
    positions = await repository.chain_positions(session, ctx.park_id, person_id)
    if positions:
        steps = ", ".join(map(str, positions))
        raise Conflict(
            f"person {person_id} holds step {steps} of the on-call chain: replace the chain "
            "without them first (PUT .../notify/escalation)",
            steps=positions,
        )
    await repository.delete_person(session, ctx.park_id, person_id)


async def _owned(
    session: AsyncSession, park_id: str, channels: Sequence[uuid.UUID], people: Sequence[uuid.UUID]
) -> None:
    if await repository.count_owned(session, "notify_channel", park_id, channels) != len(
        set(channels)
    ):
        raise Unprocessable(f"channel_id: not a notification channel of park {park_id!r}")
    if await repository.count_owned(session, "notify_person", park_id, people) != len(set(people)):
        raise Unprocessable(f"person_id: not a person of park {park_id!r}")


async def replace_routes(
    session: AsyncSession, *, ctx: ParkContext, routes: list[RouteCreate]
) -> list[RouteRead]:
    """The park's routing table, replaced as a whole (in the request's transaction)."""
    if len(routes) > MAX_ROUTES:
        raise Unprocessable(f"at most {MAX_ROUTES} routes per park")
    channels = [r.channel_id for r in routes]
    people = [p for r in routes for p in r.person_ids]
    await _owned(session, ctx.park_id, channels, people)
    await repository.delete_routes(session, ctx.park_id)
    for route in routes:
        await repository.insert_route(session, ctx.park_id, route.model_dump())
    return await list_routes(session, ctx=ctx)


async def list_routes(session: AsyncSession, *, ctx: ParkContext) -> list[RouteRead]:
    return [
        RouteRead.model_validate(dict(r)) for r in await repository.routes(session, ctx.park_id)
    ]


async def replace_chain(
    session: AsyncSession, *, ctx: ParkContext, data: EscalationChain
) -> EscalationChain:
    await _owned(
        session,
        ctx.park_id,
        [s.channel_id for s in data.steps],
        [s.person_id for s in data.steps],
    )
    await repository.replace_chain(session, ctx.park_id, [s.model_dump() for s in data.steps])
    return await get_chain(session, ctx=ctx)


async def get_chain(session: AsyncSession, *, ctx: ParkContext) -> EscalationChain:
    rows = await repository.chain(session, ctx.park_id)
    return EscalationChain.model_validate({"steps": [dict(r) for r in rows]})


async def list_messages(
    session: AsyncSession, *, ctx: ParkContext, status: str | None, page: PageParams
) -> Page[MessageRead]:
    after = page.after(1, (int,))
    before = int(after[0]) if after else None
    rows = await repository.messages(session, ctx.park_id, status, before, page.fetch_limit)
    items, cursor = paginate(rows, page, lambda r: [int(r["id"])])
    return Page[MessageRead](
        items=[MessageRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def test_channel(
    session: AsyncSession, *, ctx: ParkContext, channel_id: uuid.UUID
) -> MessageRead:
    """Queue a test message to the channel (sent by the worker like any other)."""
    if await repository.count_owned(session, "notify_channel", ctx.park_id, [channel_id]) != 1:
        raise NotFound(f"no notification channel {channel_id} in park {ctx.park_id!r}")
    facts = (await routing.facts_of(session, [(ctx.park_id, None, None, None)]))[0]
    context = {
        **facts,
        "type": "notify.test",
        "severity": None,
        "park_id": ctx.park_id,
        "at": rfc3339(datetime.now(UTC)),
        "alarm_id": None,
        "people": [],
    }
    row = await repository.insert_test(session, ctx.park_id, channel_id, context)
    return MessageRead.model_validate(dict(row))


async def resend_channel(
    session: AsyncSession, *, ctx: ParkContext, channel_id: uuid.UUID, data: Resend
) -> Requeued:
    """Every dead message of the channel due again now (after its URL or secret was mended)."""
    if await repository.channel(session, ctx.park_id, channel_id) is None:
        raise NotFound(f"no notification channel {channel_id} in park {ctx.park_id!r}")
    count = await repository.resend_dead(
        session, ctx.park_id, channel_id=channel_id, since=data.since
    )
    return Requeued(requeued=count)


async def resend_message(session: AsyncSession, *, ctx: ParkContext, message_id: int) -> Requeued:
    """One dead message due again now; a message that is not dead is refused (409)."""
    status = await repository.message_status(session, ctx.park_id, message_id)
    if status is None:
        raise NotFound(f"no notification message {message_id} in park {ctx.park_id!r}")
    if status != "dead":
        raise Conflict(f"message {message_id} is {status}: only a dead message is sent again")
    return Requeued(
        requeued=await repository.resend_dead(session, ctx.park_id, message_id=message_id)
    )
