"""Webhook subscriptions: create, get, list, update, delete; secrets; test pings; redelivery."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import AppError, NotFound, Unprocessable
from app.core.pagination import Page, PageParams, paginate
from app.parks.deps import ParkContext
from app.webhooks import repository
from app.webhooks.guard import Policy, UnsafeUrl, check_url
from app.webhooks.schemas import (
    AttemptRead,
    EventQueued,
    RedeliverAll,
    Requeued,
    SecretRotate,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookUpdate,
)
from app.webhooks.signing import new_secret

TEST_WINDOW_S = 60.0


class TooManyTests(AppError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


async def _check_url(url: str, settings: Settings) -> None:
    try:
        await check_url(url, Policy.of(settings))
    except UnsafeUrl as exc:
        raise Unprocessable(f"url: {exc}", reason=exc.reason) from exc


async def create(
    session: AsyncSession, *, ctx: ParkContext, data: WebhookCreate, settings: Settings
) -> WebhookCreated:
    await _check_url(data.url, settings)
    if await repository.count(session, ctx.park_id) >= settings.webhook_max_per_park:
        raise Unprocessable(
            f"the park has {settings.webhook_max_per_park} webhooks already, the most it may "
            "have (PARKTWIN_WEBHOOK_MAX_PER_PARK)"
        )
    secret = new_secret()
    row = await repository.insert(
        session, {**data.model_dump(), "park_id": ctx.park_id, "secret": secret}
    )
    return WebhookCreated.model_validate({**row, "secret": secret})


async def get(session: AsyncSession, *, ctx: ParkContext, webhook_id: uuid.UUID) -> WebhookRead:
    row = await repository.get(session, ctx.park_id, webhook_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return WebhookRead.model_validate(dict(row))


async def list_(session: AsyncSession, *, ctx: ParkContext, page: PageParams) -> Page[WebhookRead]:
    after = page.after(1)
    rows = await repository.list_(
        session, ctx.park_id, after=str(after[0]) if after else None, limit=page.fetch_limit
    )
    items, cursor = paginate(rows, page, lambda r: [str(r["id"])])
    return Page[WebhookRead](
        items=[WebhookRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )


async def update(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    webhook_id: uuid.UUID,
    data: WebhookUpdate,
    settings: Settings,
) -> WebhookRead:
    values: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "active"):
        if name in values and values[name] is None:
            raise Unprocessable(f"{name}: may be changed but not cleared")
    if "url" in values:
        await _check_url(values["url"], settings)
    if not values:
        return await get(session, ctx=ctx, webhook_id=webhook_id)
    row = await repository.update(session, ctx.park_id, webhook_id, values)
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    if values.get("active") is False:
        await repository.cancel_pending(session, webhook_id)
    return WebhookRead.model_validate(dict(row))


async def delete(session: AsyncSession, *, ctx: ParkContext, webhook_id: uuid.UUID) -> None:
    if not await repository.delete(session, ctx.park_id, webhook_id):
        raise NotFound(f"webhook {webhook_id} not found")


async def rotate_secret(
    session: AsyncSession, *, ctx: ParkContext, webhook_id: uuid.UUID, data: SecretRotate
) -> SecretRotated:
    await get(session, ctx=ctx, webhook_id=webhook_id)
    secret = new_secret()
    expires = await repository.rotate_secret(session, webhook_id, secret, data.previous_valid_for_s)
    return SecretRotated(secret=secret, previous_secret_expires_at=expires)


async def send_test(
    session: AsyncSession, *, ctx: ParkContext, webhook_id: uuid.UUID, settings: Settings
) -> EventQueued:
    """Queue a test event, at most ``PARKTWIN_WEBHOOK_TEST_LIMIT`` per park per minute."""
    await get(session, ctx=ctx, webhook_id=webhook_id)
    recent = await repository.count_tests(session, ctx.park_id, TEST_WINDOW_S)
    if recent >= settings.webhook_test_limit:
        raise TooManyTests(
            f"at most {settings.webhook_test_limit} test events per park per minute "
            "(PARKTWIN_WEBHOOK_TEST_LIMIT); try again later",
            retry_after_s=TEST_WINDOW_S,
        )
    event_id = await repository.queue_test_event(session, ctx.park_id, webhook_id)
    return EventQueued(event_id=event_id)


async def redeliver(
    session: AsyncSession, *, ctx: ParkContext, webhook_id: uuid.UUID, event_id: uuid.UUID
) -> EventQueued:
    await get(session, ctx=ctx, webhook_id=webhook_id)
    if not await repository.redeliver(session, webhook_id, event_id):
        raise NotFound(f"event {event_id} was never queued for webhook {webhook_id}")
    return EventQueued(event_id=event_id)


async def redeliver_dead(
    session: AsyncSession, *, ctx: ParkContext, webhook_id: uuid.UUID, data: RedeliverAll
) -> Requeued:
    await get(session, ctx=ctx, webhook_id=webhook_id)
    return Requeued(requeued=await repository.redeliver_dead(session, webhook_id, data.since))


async def attempts(
    session: AsyncSession,
    *,
    ctx: ParkContext,
    webhook_id: uuid.UUID,
    event_id: uuid.UUID | None,
    delivery_status: str | None,
    page: PageParams,
) -> Page[AttemptRead]:
    await get(session, ctx=ctx, webhook_id=webhook_id)
    before = page.after(1, (int,))
    rows = await repository.attempts(
        session,
        webhook_id,
        event_id=event_id,
        delivery_status=delivery_status,
        before=before[0] if before else None,
        limit=page.fetch_limit,
    )
    items, cursor = paginate(rows, page, lambda r: [r["id"]])
    return Page[AttemptRead](
        items=[AttemptRead.model_validate(dict(r)) for r in items], next_cursor=cursor
    )
