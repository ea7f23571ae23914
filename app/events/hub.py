"""One per API process: the wake-ups of every open event stream, and the streams' admission.

Wake-ups: one ``LISTEN parktwin_outbox`` connection per process (opened with the first stream,
through app/core/listen.py's reconnecting listener), whatever the number of streams; each
notification wakes every stream, which then reads its park's new events. The outbox trigger
notifies on commit (migration 0013), so an event reaches the screen one query after its commit.
Streams also read every ``PARKTWIN_API_EVENTS_POLL_INTERVAL``, so a lost notification (the
LISTEN connection reconnecting) costs latency, never an event.

Other readers of the same notifications: :meth:`EventHub.on_notify` adds a callback (the twin
and map cache forgets its answers, app/main.py), and :meth:`EventHub.listen` starts listening
before any stream opens (when that cache is on).

Admission: at most ``PARKTWIN_API_EVENTS_MAX_STREAMS`` streams per process and
``PARKTWIN_API_EVENTS_MAX_STREAMS_PER_KEY`` per API key; one more is a 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from app.core.config import Settings
from app.core.errors import AppError
from app.core.listen import Fanout, listen

logger = logging.getLogger(__name__)

CHANNEL = "parktwin_outbox"
READ_SLOTS = 4
"""Outbox reads of this process's streams at once. A notification wakes every stream together:
with 50 screens, 50 reads asked for the pool's connections at the same moment and the screens'
other reads waited behind them (bench/cockpit: every route's p99 at 300 ms while the p50s
stayed near 15 ms). Queued here, the streams use at most this many connections."""


class TooManyStreams(AppError):
    status, slug, title = 429, "too-many-streams", "Too many event streams"


class Admission:
    """One admitted stream; :meth:`release` gives its place back (once, however often called)."""

    def __init__(self, hub: EventHub, key_id: str) -> None:
        self._hub, self.key_id, self._released = hub, key_id, False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._hub._release(self.key_id)


class EventHub:
    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self._settings = settings  # the LISTEN URL is resolved when the first stream opens
        self._max_streams = settings.api_events_max_streams
        self._max_per_key = settings.api_events_max_streams_per_key
        self._open: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._callbacks: list[Callable[[], None]] = []
        self.closing = asyncio.Event()
        self.reads = asyncio.Semaphore(READ_SLOTS)
        if registry is not None:
            streams = Gauge(
                "parktwin_api_event_streams",
                "server-sent event streams open in this API process",
                registry=registry,
            )
            streams.set_function(lambda: self.open_streams)

    def open(self) -> None:
        """Admit streams again (the app starts, perhaps for a second time, on another event
        loop: the events and the listener are made anew)."""
        self.closing, self._changed, self._listener = asyncio.Event(), asyncio.Event(), None
        self.reads = asyncio.Semaphore(READ_SLOTS)

    @property
    def open_streams(self) -> int:
        return self._open.total()

    def admit(self, key_id: str) -> Admission:
        """A place for one more stream of ``key_id``, or :class:`TooManyStreams`."""
        if self.closing.is_set():
            raise TooManyStreams("the API is shutting down")
        if self._open.total() >= self._max_streams:
            raise TooManyStreams(
                f"this API process already serves {self._max_streams} event streams "
                "(PARKTWIN_API_EVENTS_MAX_STREAMS)"
            )
        if self._open[key_id] >= self._max_per_key:
            raise TooManyStreams(
                f"this API key already holds {self._max_per_key} event streams "
                "(PARKTWIN_API_EVENTS_MAX_STREAMS_PER_KEY): close one first"
            )
        self._open[key_id] += 1
        self.listen()
        return Admission(self, key_id)

    def _release(self, key_id: str) -> None:
        self._open[key_id] -= 1
        if self._open[key_id] <= 0:
            del self._open[key_id]

    def on_notify(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on each notification too (on the event loop; it must not block)."""
        self._callbacks.append(callback)

    def listen(self) -> None:
        """Listen from now on, if not already (the first stream starts it; so does the app's
        start when a callback needs every notification)."""
        if self._listener is None or self._listener.done():
            fanout = Fanout()
            fanout.subscribe(CHANNEL, self._notified)
            for callback in self._callbacks:
                fanout.subscribe(CHANNEL, callback)
            url = self._settings.database_url_for("api")
            self._listener = asyncio.create_task(listen(url, fanout), name="events-listen")

    def _notified(self) -> None:
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    def changed(self) -> asyncio.Event:
        """Set by the next notification (take it before reading, then wait on it)."""
        return self._changed

    async def wait(self, changed: asyncio.Event, within: float) -> None:
        """Until ``changed`` is set, the hub closes, or ``within`` seconds pass."""
        waits = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(self.closing.wait())]
        try:
            await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def aclose(self) -> None:
        """Tell every stream to end, and stop listening."""
        self.closing.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
