"""The event stream of one park: ``id`` / ``event`` / ``data`` messages from the outbox.

Wire format (what the cockpit and other ``EventSource`` clients rely on):

- first, ``id: <position>`` and ``retry: 2000`` with no data: it dispatches nothing but sets the
  browser's last event id, so a stream dropped before its first event still resumes from where
  it began;
- then per event ``id: <event_outbox.seq>`` (commit order, increasing), ``event: <type>``
  (``alarm.raised``, ``device.offline``, ``incident.opened``, ...) and ``data: <the webhook
  body>`` (``{"id", "type", "created_at", "park_id", "data"}``);
- ``: ping`` every ``PARKTWIN_API_EVENTS_HEARTBEAT`` (sent by the response, not here); with
  ``?heartbeat=true`` an ``event: heartbeat`` instead (``data: {"every_s": 15}``, no ``id``,
  so the resume position stays), which a browser's ``EventSource`` can see (it never sees a
  comment): the cockpit reopens a stream that has been silent for three of them, which is how
  it finds a connection that died without a reset (a host gone, a NAT's state dropped).

Memory is bounded: events are read ``BATCH`` at a time and the next batch is read only once the
previous one was handed to the client (a slow client holds back its own reads, and is closed
after ``PARKTWIN_API_EVENTS_SEND_TIMEOUT``). Each read takes a pooled connection for one
statement: an open stream holds no database connection while it waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette import ServerSentEvent

from app.events import repository
from app.events.hub import EventHub
from app.events.repository import StoredEvent
from app.webhooks.outbox import event_body

logger = logging.getLogger(__name__)

BATCH = 200
RETRY_MS = 2000
SEP = "\n"
RETRY_MAX_S = 10.0


def encode(event: StoredEvent) -> bytes:
    body = event_body(
        event_id=event.id,
        type=event.type,
        created_at=event.created_at,
        park_id=event.park_id,
        data=event.data,
    )
    message = ServerSentEvent(body.decode(), event=event.type, id=str(event.seq), sep=SEP)
    return message.encode()


def opening(position: int) -> bytes:
    return ServerSentEvent(id=str(position), retry=RETRY_MS, sep=SEP).encode()


def ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep=SEP)


def heartbeat(every_s: float) -> ServerSentEvent:
    """The ping as an event a browser's ``EventSource`` dispatches (``?heartbeat=true``)."""
    return ServerSentEvent(f'{{"every_s": {every_s:g}}}', event="heartbeat", sep=SEP)


async def park_events(
    maker: async_sessionmaker[AsyncSession],
    hub: EventHub,
    park_id: str,
    after: int | None,
    poll_interval: float,
) -> AsyncIterator[bytes]:
    """The park's events numbered above ``after`` (None: from now on), until the hub closes."""
    if after is None:
        async with hub.reads, maker() as session:
            after = await repository.head(session, park_id)
    yield opening(after)
    delay = poll_interval
    while not hub.closing.is_set():
        changed = hub.changed()  # before reading: a commit during the read wakes the next wait
        try:
            async with hub.reads, maker() as session:
                events = await repository.after(session, park_id, after, BATCH)
        except (DBAPIError, PoolTimeout, OSError) as exc:
            logger.warning("event stream of %s: read failed (%s); retrying", park_id, exc)
            await hub.wait(asyncio.Event(), delay)
            delay = min(delay * 2, RETRY_MAX_S)
            continue
        delay = poll_interval
        for event in events:
            yield encode(event)
            after = event.seq
        if len(events) < BATCH:
            await hub.wait(changed, poll_interval)
