"""Wake the worker loop on ``NOTIFY``: a dedicated psycopg connection that LISTENs.

Writers of queued work (the event outbox) send ``NOTIFY parktwin_outbox`` from a trigger; the
notification arrives when their transaction commits, and ends the loop's idle sleep at once.
The connection is reopened with backoff if it drops; meanwhile the loop still polls every
``PARKTWIN_WORKER_INTERVAL``, so a lost notification only costs latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import psycopg
from psycopg import sql

from app.core.db import libpq_url

logger = logging.getLogger(__name__)

RETRY_MAX_S = 5.0


async def listen(database_url: str, channels: Sequence[str], wake: asyncio.Event) -> None:
    """Set ``wake`` on every notification on ``channels``, until cancelled."""
    delay = 0.2
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True
            ) as conn:
                for channel in channels:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                delay = 0.2
                wake.set()  # anything queued while we were not listening
                async for _notify in conn.notifies():
                    wake.set()
        except psycopg.Error as exc:
            logger.warning("LISTEN connection lost (%s); retrying in %.1f s", exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)
