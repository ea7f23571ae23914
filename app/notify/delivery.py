"""The ``notify`` job of ``parktwin worker``: claim per channel, send, record.

Each run claims, in a short transaction of its own that commits before anything is sent, the
channels with due messages (``repository.CLAIM_CHANNELS``: circuit not open, nothing in flight,
under the vendor's rate for the last minute) and, per channel, its due messages: one message
goes out as it is, several (a burst, or what waited for a rate slot or the end of quiet hours)
as one digest, so nothing is dropped when a robot's ~20 a minute runs out. Each send runs in a
task of its own with the webhook timeout, so a dead robot holds back nothing but itself; its
answer is recorded in another short transaction: sent, or retried on
``PARKTWIN_WEBHOOK_RETRY_SCHEDULE`` until ``dead`` (listed by the API), with the channel's
circuit breaker (``PARKTWIN_WEBHOOK_BREAKER_THRESHOLD`` / ``_COOLDOWN``). A worker killed mid-send
loses nothing: the lease runs out and the messages are sent again (at least once).

A pump dispatches the moment messages are committed (``NOTIFY parktwin_notify`` from the
``notify_message`` insert trigger, through the loop's LISTEN).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.pumps import close_pump
from app.notify import repository
from app.notify.send import Channel, Outcome, compose, mail, post
from app.webhooks.clients import Clients
from app.webhooks.delivery import lease_for, new_client

logger = logging.getLogger(__name__)

CHANNELS_PER_RUN = 50


def first_group(rows: Sequence[Mapping[Any, Any]], kind: str) -> list[Mapping[Any, Any]]:
    """The messages one send carries: every due one for a robot or webhook (mentions are
    merged); for email, those to the same recipient as the oldest."""
    if kind != "email" or not rows:
        return list(rows)
    return [r for r in rows if r["recipient"] == rows[0]["recipient"]]


class NotifyDispatcher:
    """One per worker process: it owns the HTTP client, the send tasks and the pump."""

    channels = ("parktwin_notify",)

    def __init__(self) -> None:
        self._maker: async_sessionmaker[AsyncSession] | None = None
        self._client: Clients | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._maker = maker
        self._client = new_client(settings)
        self._pump = asyncio.create_task(self._run_pump(settings))

    def notified(self, _channel: str) -> None:
        self._wake.set()

    async def __call__(self, _session: AsyncSession, settings: Settings) -> int:
        return await self.dispatch(settings)

    async def _run_pump(self, settings: Settings) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await self.dispatch(settings):
                    pass
            except Exception:
                logger.exception("notification dispatch failed; the worker's loop carries on")

    async def dispatch(self, settings: Settings) -> int:
        """Claim and start sends; return how many started."""
        if self._maker is None:
            raise RuntimeError("the notification dispatcher runs only after start()")
        lease_s = lease_for(settings).total_seconds()
        started: list[tuple[Channel, int, list[Mapping[Any, Any]]]] = []
        async with self._maker() as own, own.begin():
            for row in await repository.claim_channels(own, CHANNELS_PER_RUN, lease_s):
                channel = Channel.of(row)
                due = await repository.due_messages(own, channel.id, settings.notify_digest_max)
                group = first_group(due, channel.kind)
                if group:
                    ids = [int(m["id"]) for m in group]
                    started.append(
                        (channel, await repository.take(own, channel.id, ids, lease_s), group)
                    )
        for channel, attempt, group in started:
            task = asyncio.create_task(self._send(channel, attempt, group, settings))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(started)

    async def _send(
        self, channel: Channel, attempt: int, group: list[Mapping[Any, Any]], settings: Settings
    ) -> None:
        outcome = await self.send(channel, group, settings)
        log = logger.info if outcome.error is None else logger.warning
        log(
            "notify channel %s (%s) attempt %d, %d message(s): %s",
            channel.id,
            channel.kind,
            attempt,
            len(group),
            outcome.error or outcome.status,
        )
        schedule = [s.total_seconds() for s in settings.webhook_retry_schedule]
        breaker = (
            settings.webhook_breaker_threshold,
            settings.webhook_breaker_cooldown.total_seconds(),
        )
        try:
            assert self._maker is not None
            async with self._maker() as own, own.begin():
                await repository.record(
                    own,
                    channel=channel.id,
                    attempt=attempt,
                    status=outcome.status,
                    error=outcome.error,
                    answer=outcome.answer,
                    schedule=schedule,
                    breaker=breaker,
                )
        except Exception:
            logger.exception("could not record notify attempt %d", attempt)

    async def send(
        self, channel: Channel, group: list[Mapping[Any, Any]], settings: Settings
    ) -> Outcome:
        contexts = [m["context"] for m in group]
        try:
            rendered = compose(channel, contexts, settings)
        except Exception:
            logger.exception("could not render a notification for channel %s", channel.id)
            return Outcome(None, "render_failed", None)
        if channel.kind == "email":
            return await mail(channel, rendered, str(group[0]["recipient"]), settings)
        assert self._client is not None
        key = ",".join(str(m["id"]) for m in group)
        return await post(self._client, channel, rendered, contexts, settings, key)

    async def aclose(self) -> None:
        await close_pump(self._pump, self._tasks, self._client)
        self._pump, self._client = None, None


async def backlog(session: AsyncSession, _settings: Settings) -> int:
    """The ``notify`` job's backlog: messages due now."""
    return await repository.due_count(session)


async def purge(session: AsyncSession, settings: Settings) -> int:
    """The ``notify_retention`` job: settled messages, attempts and ended escalation timers
    older than ``PARKTWIN_WEBHOOK_RETENTION`` go (pending messages stay, whatever their age)."""
    count = await repository.purge(session, settings.webhook_retention.total_seconds())
    if count:
        logger.info("notify retention: deleted %d row(s)", count)
    return 0
