"""The worker's one ``LISTEN`` connection, fanned out to whoever subscribed to a channel.

Writers of queued work send ``NOTIFY`` from a trigger (``parktwin_outbox``: a new webhook event;
``parktwin_registry``: a park, device or alarm rule changed); the notification arrives when
their transaction commits. The loop subscribes its idle sleep, and a job its own callback
(the webhook pump, the alarm timers' rule cache), through :class:`Fanout`; no job opens a
LISTEN of its own. The connection is reopened with backoff if it drops, and every subscriber
is called once on each (re)connect, since notifications sent meanwhile are lost; the loop still
polls every ``PARKTWIN_WORKER_INTERVAL``, so a lost notification only costs latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql

from app.core.db import libpq_url

logger = logging.getLogger(__name__)

RETRY_MAX_S = 5.0

Callback = Callable[[], None]


class Fanout:
    """Channel → callbacks. A callback runs on the event loop and must not block or raise."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, list[Callback]] = defaultdict(list)

    def subscribe(self, channel: str, callback: Callback) -> None:
        self._subscribers[channel].append(callback)

    @property
    def channels(self) -> list[str]:
        return sorted(self._subscribers)

    def notify(self, channel: str) -> None:
        for callback in self._subscribers.get(channel, ()):
            try:
                callback()
            except Exception:
                logger.exception("a subscriber of %s failed", channel)


async def listen(database_url: str, fanout: Fanout) -> None:
    """Call ``fanout`` on every notification of its channels, until cancelled."""
    channels: Sequence[str] = fanout.channels
    delay = 0.2
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True
            ) as conn:
                for channel in channels:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                delay = 0.2
                for channel in channels:  # anything queued while we were not listening
                    fanout.notify(channel)
                async for notify in conn.notifies():
                    fanout.notify(notify.channel)
        except psycopg.Error as exc:
            logger.warning("LISTEN connection lost (%s); retrying in %.1f s", exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)
