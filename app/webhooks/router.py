"""``/api/v1/parks/{park_id}/webhooks``: subscriptions, secrets, test pings, deliveries (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.core.db import SessionDep
from app.core.http import PROBLEMS, SettingsDep
from app.core.pagination import Page, PageDep
from app.idempotency.route import IDEMPOTENT_SECRET, IdempotentRoute
from app.parks.deps import ParkAdmin
from app.webhooks import service
from app.webhooks.schemas import (
    AttemptRead,
    DeliveryStatus,
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

router = APIRouter(
    prefix="/api/v1/parks/{park_id}/webhooks",
    tags=["webhooks"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
)

WebhookIdPath = Annotated[uuid.UUID, Path(description="the webhook's id")]
EventIdPath = Annotated[uuid.UUID, Path(description="the event's id (its `webhook-id`)")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to events (admin)",
    dependencies=[IDEMPOTENT_SECRET],
    description="The answer holds the signing secret, shown only here. 422 when the URL's port "
    "is not in PARKTWIN_WEBHOOK_ALLOWED_PORTS, when its host resolves to a non-public address "
    "outside PARKTWIN_WEBHOOK_ALLOWED_NETWORKS, or when the park has "
    "PARKTWIN_WEBHOOK_MAX_PER_PARK webhooks already.",
)
async def create_webhook(
    data: WebhookCreate, session: SessionDep, ctx: ParkAdmin, settings: SettingsDep
) -> WebhookCreated:
    return await service.create(session, ctx=ctx, data=data, settings=settings)


@router.get("", summary="The park's webhooks (admin)")
async def list_webhooks(session: SessionDep, ctx: ParkAdmin, page: PageDep) -> Page[WebhookRead]:
    return await service.list_(session, ctx=ctx, page=page)


@router.get("/{webhook_id}", summary="One webhook (admin)")
async def get_webhook(
    webhook_id: WebhookIdPath, session: SessionDep, ctx: ParkAdmin
) -> WebhookRead:
    return await service.get(session, ctx=ctx, webhook_id=webhook_id)


@router.patch("/{webhook_id}", summary="Change a webhook (admin)")
async def update_webhook(
    webhook_id: WebhookIdPath,
    data: WebhookUpdate,
    session: SessionDep,
    ctx: ParkAdmin,
    settings: SettingsDep,
) -> WebhookRead:
    return await service.update(
        session, ctx=ctx, webhook_id=webhook_id, data=data, settings=settings
    )


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook and its delivery log (admin)",
)
async def delete_webhook(
    webhook_id: WebhookIdPath, session: SessionDep, ctx: ParkAdmin
) -> Response:
    await service.delete(session, ctx=ctx, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/secret",
    summary="Rotate the signing secret (admin)",
    description="The new secret is shown only here. With `previous_valid_for_s`, messages carry "
    "a signature with each secret until the old one expires.",
)
async def rotate_secret(
    webhook_id: WebhookIdPath,
    session: SessionDep,
    ctx: ParkAdmin,
    data: SecretRotate | None = None,
) -> SecretRotated:
    return await service.rotate_secret(
        session, ctx=ctx, webhook_id=webhook_id, data=data or SecretRotate()
    )


@router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a `webhook.test` event to this webhook (admin)",
    description="Queued and delivered like any event; follow it in the deliveries log. "
    "At most PARKTWIN_WEBHOOK_TEST_LIMIT per park per minute, then 429.",
)
async def send_test(
    webhook_id: WebhookIdPath, session: SessionDep, ctx: ParkAdmin, settings: SettingsDep
) -> EventQueued:
    return await service.send_test(session, ctx=ctx, webhook_id=webhook_id, settings=settings)


@router.get(
    "/{webhook_id}/deliveries",
    summary="The delivery attempts of this webhook, newest first (admin)",
)
async def list_deliveries(
    webhook_id: WebhookIdPath,
    session: SessionDep,
    ctx: ParkAdmin,
    page: PageDep,
    event_id: Annotated[uuid.UUID | None, Query(description="one event's attempts")] = None,
    delivery_status: Annotated[
        DeliveryStatus | None, Query(description="attempts of deliveries in this state")
    ] = None,
) -> Page[AttemptRead]:
    return await service.attempts(
        session,
        ctx=ctx,
        webhook_id=webhook_id,
        event_id=event_id,
        delivery_status=delivery_status,
        page=page,
    )


@router.post(
    "/{webhook_id}/events/{event_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send an event to this webhook again (admin)",
    description="Delivered, dead or pending: queued now with a fresh retry schedule and the "
    "same `webhook-id`.",
)
async def redeliver(
    webhook_id: WebhookIdPath, event_id: EventIdPath, session: SessionDep, ctx: ParkAdmin
) -> EventQueued:
    return await service.redeliver(session, ctx=ctx, webhook_id=webhook_id, event_id=event_id)


@router.post(
    "/{webhook_id}/redeliver",
    summary="Queue every dead delivery of this webhook again (admin)",
)
async def redeliver_dead(
    webhook_id: WebhookIdPath,
    session: SessionDep,
    ctx: ParkAdmin,
    data: RedeliverAll | None = None,
) -> Requeued:
    return await service.redeliver_dead(
        session, ctx=ctx, webhook_id=webhook_id, data=data or RedeliverAll()
    )
