"""``/api/v1/parks/{park_id}/notify``: channels, people, routes, the on-call chain and the
message log (admin: they hold robot URLs, secrets and phone numbers); and the one-click
acknowledge page ``/notify/ack/{token}`` (no API key: the signed token is the credential)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from app.core.db import SessionDep
from app.core.http import PROBLEMS, SettingsDep
from app.core.pagination import Page, PageDep
from app.notify import ack, service
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
from app.parks.deps import ParkAdmin
from app.webhooks.schemas import Requeued  # the same answer as webhook redelivery

router = APIRouter(prefix="/api/v1/parks/{park_id}/notify", tags=["notify"], responses=PROBLEMS)
ack_router = APIRouter(prefix="/notify/ack", tags=["notify"])

ChannelIdPath = Annotated[uuid.UUID, Path(description="the channel's id")]
PersonIdPath = Annotated[uuid.UUID, Path(description="the person's id")]
MessageIdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="the message's id")]
TokenPath = Annotated[str, Path(max_length=1024, description="the signed token of the link")]


@router.post(
    "/channels",
    status_code=status.HTTP_201_CREATED,
    summary="Add a DingTalk, WeCom or Feishu robot, an email list or a webhook (admin)",
)
async def create_channel(
    data: ChannelCreate, session: SessionDep, ctx: ParkAdmin, settings: SettingsDep
) -> ChannelRead:
    return await service.create_channel(session, ctx=ctx, data=data, settings=settings)


@router.get("/channels", summary="The park's notification channels (admin)")
async def list_channels(session: SessionDep, ctx: ParkAdmin) -> list[ChannelRead]:
    return await service.list_channels(session, ctx=ctx)


@router.delete(
    "/channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a channel, its routes and its queued messages (admin)",
)
async def delete_channel(channel_id: ChannelIdPath, session: SessionDep, ctx: ParkAdmin) -> None:
    await service.delete_channel(session, ctx=ctx, channel_id=channel_id)


@router.patch(
    "/channels/{channel_id}",
    summary="Change a channel: a robot's new URL or secret, its name, pause it (admin)",
    description="Only the fields sent change; the result is checked as a new channel is. A new "
    "URL or secret, or `active: true`, closes the channel's circuit breaker. Its routes, chain "
    "steps and queued messages stay with it.",
)
async def update_channel(
    channel_id: ChannelIdPath,
    data: ChannelUpdate,
    session: SessionDep,
    ctx: ParkAdmin,
    settings: SettingsDep,
) -> ChannelRead:
    return await service.update_channel(
        session, ctx=ctx, channel_id=channel_id, data=data, settings=settings
    )


@router.post(
    "/channels/{channel_id}/resend",
    summary="Send the channel's dead messages again (admin)",
    description="Every dead letter of the channel (`since`: created at or after it) is due "
    "again now with a fresh retry schedule, as composed (what it says is what was true then).",
)
async def resend_channel(
    channel_id: ChannelIdPath, session: SessionDep, ctx: ParkAdmin, data: Resend | None = None
) -> Requeued:
    return await service.resend_channel(
        session, ctx=ctx, channel_id=channel_id, data=data or Resend()
    )


@router.post(
    "/channels/{channel_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a test message to the channel (admin)",
    description="Queued like any notification; `GET .../notify/messages` shows how it went.",
)
async def test_channel(
    channel_id: ChannelIdPath, session: SessionDep, ctx: ParkAdmin
) -> MessageRead:
    return await service.test_channel(session, ctx=ctx, channel_id=channel_id)


@router.post("/people", status_code=status.HTTP_201_CREATED, summary="Add a person (admin)")
async def create_person(data: PersonCreate, session: SessionDep, ctx: ParkAdmin) -> PersonRead:
    return await service.create_person(session, ctx=ctx, data=data)


@router.get("/people", summary="The people notifications reach (admin)")
async def list_people(session: SessionDep, ctx: ParkAdmin) -> list[PersonRead]:
    return await service.list_people(session, ctx=ctx)


@router.put("/people/{person_id}", summary="Replace a person's name and contacts (admin)")
async def update_person(
    person_id: PersonIdPath, data: PersonCreate, session: SessionDep, ctx: ParkAdmin
) -> PersonRead:
    return await service.update_person(session, ctx=ctx, person_id=person_id, data=data)


@router.delete(
    "/people/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a person (admin)",
    description="Refused (409) while the person holds a step of the on-call chain. Otherwise "
    "they leave every route's @-list, their mobile, email and WeCom id leave the message log "
    "(the name stays), an escalation message still waiting for them is not sent (dead, "
    "`person removed`), and their one-click acknowledge links stop working.",
)
async def delete_person(person_id: PersonIdPath, session: SessionDep, ctx: ParkAdmin) -> None:
    await service.delete_person(session, ctx=ctx, person_id=person_id)


@router.put("/routes", summary="Replace the park's routing table (admin)")
async def replace_routes(
    data: list[RouteCreate], session: SessionDep, ctx: ParkAdmin
) -> list[RouteRead]:
    return await service.replace_routes(session, ctx=ctx, routes=data)


@router.get("/routes", summary="The park's routing table (admin)")
async def list_routes(session: SessionDep, ctx: ParkAdmin) -> list[RouteRead]:
    return await service.list_routes(session, ctx=ctx)


@router.put("/escalation", summary="Replace the on-call escalation chain (admin)")
async def replace_chain(
    data: EscalationChain, session: SessionDep, ctx: ParkAdmin
) -> EscalationChain:
    return await service.replace_chain(session, ctx=ctx, data=data)


@router.get("/escalation", summary="The on-call escalation chain (admin)")
async def get_chain(session: SessionDep, ctx: ParkAdmin) -> EscalationChain:
    return await service.get_chain(session, ctx=ctx)


@router.get(
    "/messages",
    summary="Notifications sent, waiting, duplicate or dead (admin)",
    description="`status=dead`: the dead letters, whose retries are spent.",
)
async def list_messages(
    session: SessionDep,
    ctx: ParkAdmin,
    page: PageDep,
    status: Annotated[Literal["pending", "sent", "dead", "duplicate"] | None, Query()] = None,
) -> Page[MessageRead]:
    return await service.list_messages(session, ctx=ctx, status=status, page=page)


@router.post(
    "/messages/{message_id}/resend",
    summary="Send a dead message again (admin)",
    description="Due again now with a fresh retry schedule; a message that is not dead: 409.",
)
async def resend_message(
    message_id: MessageIdPath, session: SessionDep, ctx: ParkAdmin
) -> Requeued:
    return await service.resend_message(session, ctx=ctx, message_id=message_id)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@ack_router.get("/{token}", response_class=HTMLResponse, summary="The acknowledge page")
async def ack_page(
    token: TokenPath, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    return await ack.page(session, token, settings, _wants_html(request))


@ack_router.post("/{token}", response_class=HTMLResponse, summary="Acknowledge the alarm")
async def ack_confirm(
    token: TokenPath, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    return await ack.confirm(session, token, settings, _wants_html(request))
