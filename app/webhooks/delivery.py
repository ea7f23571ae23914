"""The webhook job of ``parktwin worker``: fan out, claim, POST, record.

Each run fans new outbox events out to the matching subscriptions and claims due deliveries in
one short transaction of its own, which commits before any HTTP request is made; the other
deliverers (``also``: notifications to people) get the events fanned out in a second
transaction, once the POSTs have started, so a webhook never waits for their work. The claim is
fair (per webhook, round-robin, critical events first; see ``queue.CLAIM``), at most
``PARKTWIN_WEBHOOK_CONCURRENCY`` attempts per webhook are in flight, and a webhook whose
circuit is open gets none. Each claimed
delivery is then POSTed in a background task (so a slow receiver never holds the worker's loop
or a row lock) and its answer recorded in another short transaction. At most
``PARKTWIN_WEBHOOK_BATCH`` attempts are in flight per worker. A worker killed mid-delivery
loses nothing: the claim's lease runs out and another run sends the event again, with the same
``webhook-id``.

Latency: besides its turns in the worker's loop (which also catch retries as they fall due),
the dispatcher runs a pump of its own that dispatches the moment an event is committed (the
loop's LISTEN tells it of every ``NOTIFY parktwin_outbox`` through :meth:`notified`), so a
safety event never waits behind a long rollup round.

Lifecycle (called by the worker's loop): :meth:`start` takes the loop's sessionmaker (for the
short transactions that commit before a POST), opens the HTTP clients and starts the pump;
:meth:`aclose` stops the pump, lets attempts in flight finish and closes the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.pumps import close_pump
from app.webhooks import queue
from app.webhooks.clients import Clients, send
from app.webhooks.guard import Policy, Resolver, Target, UnsafeUrl, pin, redact, resolve
from app.webhooks.outbox import event_body
from app.webhooks.queue import Claimed, Result
from app.webhooks.signing import headers

logger = logging.getLogger(__name__)

RESPONSE_KEEP = 1024  # bytes of an answer read, at most
DRAIN_S = 1.0  # longest wait for a 2xx answer's body (its connection is then kept)
DRAIN_MARGIN_S = 0.05  # the drain ends this long before the attempt's timeout
EXCERPT = 256  # printable characters of a failed answer kept in the attempt log
LEASE_MARGIN = timedelta(seconds=5)
FAN_OUT_BATCH = 500


def body_of(claimed: Claimed) -> bytes:
    """The JSON body: ``{"id", "type", "created_at", "park_id", "data"}``."""
    return event_body(
        event_id=claimed.event_id,
        type=claimed.type,
        created_at=claimed.created_at,
        park_id=claimed.park_id,
        data=claimed.data,
    )


def lease_for(settings: Settings) -> timedelta:
    """The claim's lease: never shorter than the timeout plus a margin."""
    return max(settings.webhook_lease, settings.webhook_timeout + LEASE_MARGIN)


async def post(
    clients: Clients, claimed: Claimed, settings: Settings, resolver: Resolver = resolve
) -> Result:
    """One signed POST to the checked address; any error is returned as a Result, never raised.

    The error is a class (:data:`ERRORS`), never the exception's text: what the worker's network
    looks like is none of the receiver's business, nor of whoever reads the attempt log.
    """
    started = time.perf_counter()
    status: int | None = None
    answer: str | None = None
    error: str | None = None
    try:
        body = body_of(claimed)
        sent = headers(claimed.secrets, str(claimed.event_id), int(time.time()), body)
        async with asyncio.timeout(settings.webhook_timeout.total_seconds()) as budget:
            target = await pin(claimed.url, Policy.of(settings), resolver)
            response = await send_pinned(clients, target, body, sent)
            try:
                status = response.status_code
                if not 200 <= status < 300:
                    answer = excerpt(await head(response))
                else:
                    await drain(response, budget.when())
            finally:
                await response.aclose()
    except Exception as exc:  # any failure of this attempt is the receiver's: log it, retry
        error = error_class(exc)
    duration_ms = (time.perf_counter() - started) * 1000
    return Result(status, error, answer, duration_ms)


async def send_pinned(
    clients: Clients, target: Target, body: bytes, sent: dict[str, str]
) -> httpx.Response:
    """POST to the checked addresses in turn until one takes the connection (a dual-stack
    name whose IPv6 address is unreachable from here still gets its webhooks over IPv4), each
    on its origin's kept-alive connections (app/webhooks/clients.py)."""
    for n, address in enumerate(target.addresses, start=1):
        client = clients.client(target, address)
        request = client.build_request(
            "POST",
            target.request_url(address),
            content=body,
            headers={**sent, **target.headers()},
            extensions=target.extensions(),
        )
        try:
            return await send(client, request)
        except httpx.ConnectError as exc:
            if n == len(target.addresses) or error_class(exc) != "connect_failed":
                raise
    raise AssertionError("pin() returns at least one address")


ERRORS = (
    "timeout",
    "dns_failed",
    "connect_failed",
    "tls_error",
    "refused_url",
    "refused_port",
    "refused_address",
    "protocol_error",
    "internal_error",
)


def error_class(exc: BaseException) -> str:
    """The class of an attempt's failure, one of :data:`ERRORS`."""
    if isinstance(exc, UnsafeUrl):
        return exc.reason
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if any(isinstance(cause, ssl.SSLError) for cause in _chain(exc)):
        return "tls_error"
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return "connect_failed"
    if isinstance(exc, httpx.TransportError):
        return "protocol_error"
    logger.warning("webhook attempt failed unexpectedly", exc_info=exc)
    return "internal_error"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def excerpt(raw: bytes) -> str:
    """At most :data:`EXCERPT` printable characters of a failed answer, control chars removed."""
    text = raw.decode("utf-8", errors="replace")
    return "".join(ch for ch in text if ch.isprintable())[:EXCERPT]


async def head(response: httpx.Response, keep: int = RESPONSE_KEEP) -> bytes:
    """At most ``keep`` bytes of an answer's body (the rest is never read)."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= keep:
            break
    return kept[:keep]


async def drain(response: httpx.Response, deadline: float | None) -> None:
    """Read a 2xx answer's body, so that its connection can carry the next request: at most
    :data:`RESPONSE_KEEP` bytes and :data:`DRAIN_S` seconds, and ending before the attempt's
    ``deadline`` (the loop's clock), else the connection is closed. The status stands either
    way."""
    until = asyncio.get_running_loop().time() + DRAIN_S
    if deadline is not None:
        until = min(until, deadline - DRAIN_MARGIN_S)
    with contextlib.suppress(Exception):
        async with asyncio.timeout_at(until):
            await head(response)


def new_client(settings: Settings) -> Clients:
    """The worker's HTTP connections: a client per pinned origin (app/webhooks/clients.py),
    no redirects, no proxies from the environment."""
    return Clients(settings.webhook_timeout.total_seconds())


HoldBack = Callable[[AsyncSession, Sequence[uuid.UUID], Settings], Awaitable[None]]
Also = HoldBack
"""Called with each batch of events fanned out (``held_back`` already marked) and not yet
routed, in a transaction of its own that marks them routed: other deliverers queue their own
work from the same events (app/notify/routing.py queues notifications to people). It runs after
the fan-out's transaction has committed and its POSTs have started; a worker stopped in between
leaves the events unrouted, and the next run routes them."""


async def _send_everything(
    _session: AsyncSession, _event_ids: Sequence[uuid.UUID], _settings: Settings
) -> None:
    return None


class WebhookDispatcher:
    """The ``webhooks`` job. One per worker process: it owns the HTTP client and the tasks.

    Who is told what is not decided here: ``hold_back`` (the alarm module's policy, wired in by
    the worker) marks the events of each batch that must not go out (``held_back``) before they
    are fanned out, in the same transaction.
    """

    channels = ("parktwin_outbox",)

    def __init__(self, hold_back: HoldBack | None = None, also: Sequence[Also] = ()) -> None:
        self._hold_back = hold_back or _send_everything
        self._also = tuple(also)
        self._client: Clients | None = None
        self._maker: async_sessionmaker[AsyncSession] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        """Hold ``maker`` (its engine is the worker's pool), the HTTP client and the pump."""
        self._maker = maker
        self._client = new_client(settings)
        self._pump = asyncio.create_task(self._run_pump(settings))

    def notified(self, _channel: str) -> None:
        """An event was committed to the outbox: the pump dispatches at once."""
        self._wake.set()

    async def __call__(self, _session: AsyncSession, settings: Settings) -> int:
        """Fan out and claim (in a transaction that commits now), then POST in the background.

        Returns the events fanned out and routed plus the attempts started: nonzero keeps the
        loop busy. The loop's turn also routes what a stopped worker left unrouted.
        """
        return await self._dispatch(settings, sweep=True)

    async def _run_pump(self, settings: Settings) -> None:
        """Dispatch on every NOTIFY from the outbox, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await self._dispatch(settings):
                    pass
            except Exception:
                logger.exception("webhook dispatch failed; the worker's loop carries on")

    async def _dispatch(self, settings: Settings, sweep: bool = False) -> int:
        if self._maker is None:
            raise RuntimeError("the webhook dispatcher runs only after start()")
        maker = self._maker
        room = settings.webhook_batch - len(self._tasks)
        limits = queue.Limits(room, settings.webhook_concurrency, lease_for(settings))
        async with maker() as own, own.begin():
            taken = await queue.take(own, FAN_OUT_BATCH)
            if taken:
                await self._hold_back(own, taken, settings)
            events, _queued = await queue.fan_out(own, taken) if taken else (0, 0)
            claimed = await queue.claim(own, limits) if room > 0 else []
        for item in claimed:
            task = asyncio.create_task(self._deliver(item, settings))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if claimed:
            await asyncio.sleep(0)  # each POST gets as far as its first wait before the routing
        routed = await self._route(maker, settings) if events or sweep else 0
        return events + len(claimed) + routed

    async def _route(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
        """Hand the events fanned out and not yet routed to the other deliverers (``also``)."""
        if not self._also:
            return 0
        async with maker() as own, own.begin():
            unrouted = await queue.take_unrouted(own, FAN_OUT_BATCH)
            if unrouted:
                for also in self._also:
                    await also(own, unrouted, settings)
        return len(unrouted)

    async def _deliver(self, claimed: Claimed, settings: Settings) -> None:
        assert self._client is not None  # set by start(), before any claim
        result = await post(self._client, claimed, settings)
        log = logger.info if result.ok else logger.warning
        log(
            "webhook %s event %s attempt %d: %s",
            redact(claimed.url),
            claimed.event_id,
            claimed.attempt,
            result.status_code if result.error is None else result.error,
        )
        breaker = queue.Breaker(
            settings.webhook_breaker_threshold, settings.webhook_breaker_cooldown
        )
        try:
            assert self._maker is not None
            async with self._maker() as own, own.begin():
                await queue.record(own, claimed, result, settings.webhook_retry_schedule, breaker)
        except Exception:
            # The lease runs out and the event is sent again: at least once, never lost.
            logger.exception("could not record attempt %d of %s", claimed.attempt, claimed.id)

    async def aclose(self) -> None:
        """Let attempts in flight finish (each is bounded by the timeout), then close."""
        await close_pump(self._pump, self._tasks, self._client)
        self._pump, self._client = None, None


async def backlog(session: AsyncSession, _settings: Settings) -> int:
    """The ``webhooks`` job's backlog: deliveries due now (at most ``queue.BACKLOG_CAP``)."""
    return await queue.due_count(session)


async def purge(session: AsyncSession, settings: Settings) -> int:
    """The ``webhook_retention`` job: forget settled events past ``PARKTWIN_WEBHOOK_RETENTION``."""
    count = await queue.purge(session, settings.webhook_retention)
    if count:
        logger.info("webhook retention: deleted %d settled event(s)", count)
    return 0
