"""``GET /api/v1/parks/{park_id}/events``: the park's events as server-sent events."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from app.core.auth import ApiKey, Role, bearer, current_key
from app.core.db import SessionDep
from app.core.errors import Unprocessable, problem
from app.core.http import PROBLEMS, SettingsDep
from app.events.hub import Admission, EventHub, TooManyStreams
from app.events.stream import heartbeat, park_events, ping
from app.parks.deps import ParkContext, park_access

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/parks/{park_id}", tags=["events"], responses=PROBLEMS)

POSITION = re.compile(r"[0-9]{1,18}")
RETRY_AFTER_S = 10  # a refused stream: try again this much later

QUERY_KEY_DOC = (
    "the API key, for clients that cannot send headers (a browser's EventSource); accepted on "
    "this endpoint only, and redacted from the access log. Prefer the Authorization header"
)


async def stream_key(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    access_token: Annotated[str | None, Query(max_length=200, description=QUERY_KEY_DOC)] = None,
) -> ApiKey:
    """The key of the ``Authorization`` header, else of ``?access_token=``."""
    if credentials is None and access_token:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=access_token)
    return await current_key(request, session, credentials)


StreamViewer = Annotated[ParkContext, Depends(park_access(Role.viewer, stream_key))]


def parse_position(header: str | None, query: str | None) -> int | None:
    """The position to resume after: ``Last-Event-ID`` (what a browser sends on reconnect),
    else ``?last_event_id=``; None: from now on."""
    value = header if header not in (None, "") else query
    if value in (None, ""):
        return None
    if not POSITION.fullmatch(value):
        raise Unprocessable(f"Last-Event-ID {value[:40]!r} is not an event id of this stream")
    return int(value)


class EventStream(EventSourceResponse):
    """The response; gives its admission back however it ends (also if never iterated)."""

    def __init__(self, admission: Admission, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:  # the client stopped reading: it resumes from its last id
            logger.warning(
                "event stream closed: the client took over %.0f s to take a write (key %s)",
                self.send_timeout or 0,
                self._admission.key_id,
            )
        finally:
            self._admission.release()


@router.get(
    "/events",
    summary="The park's events as server-sent events (alarms, incidents, device status)",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the event stream"}},
)
async def events(
    request: Request,
    ctx: StreamViewer,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(
            alias="last_event_id",
            max_length=40,
            description="resume after this event id, when the client cannot send Last-Event-ID",
        ),
    ] = None,
    heartbeat_events: Annotated[
        bool,
        Query(
            alias="heartbeat",
            description='send the heartbeat as `event: heartbeat` (`data: {"every_s": 15}`) '
            "instead of a `: ping` comment, for a client that must see it to tell a silent "
            "stream from a dead one (a browser's EventSource never sees comments)",
        ),
    ] = False,
) -> Response:
    """Each event: ``id`` (its position, increasing in commit order), ``event`` (its type) and
    ``data`` (the webhook body: ``{"id", "type", "created_at", "park_id", "data"}``); a
    ``: ping`` comment every 15 s (``?heartbeat=true``: an ``event: heartbeat`` instead).
    Reconnecting with ``Last-Event-ID`` (browsers do it by themselves) sends exactly the events
    committed since that one. Authenticate with the ``Authorization`` header, or with
    ``?access_token=`` where the client cannot set headers."""
    after = parse_position(last_event_id, last_event_id_query)
    hub: EventHub = request.app.state.events
    try:
        admission = hub.admit(ctx.key.id)
    except TooManyStreams as exc:
        response = problem(exc.status, exc.slug, exc.title, exc.detail)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    every_s = settings.api_events_heartbeat.total_seconds()
    content = park_events(
        request.app.state.sessionmaker,
        hub,
        ctx.park_id,
        after,
        settings.api_events_poll_interval.total_seconds(),
    )
    return EventStream(
        admission,
        content=content,
        ping=every_s,
        ping_message_factory=partial(heartbeat, every_s) if heartbeat_events else ping,
        sep="\n",
        send_timeout=settings.api_events_send_timeout.total_seconds(),
    )
