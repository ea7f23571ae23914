"""The event hub without a server: admission caps, release, wake-ups, a second start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message

from app.core.config import Settings
from app.events.hub import EventHub, TooManyStreams
from app.events.router import EventStream

# Nothing listens there: the hub's LISTEN task retries in the background, harmlessly.
NOWHERE = "postgresql://parktwin@127.0.0.1:1/parktwin"


def hub_with(per_key: int, total: int) -> EventHub:
    return EventHub(
        Settings(
            database_url=NOWHERE,
            api_events_max_streams_per_key=per_key,
            api_events_max_streams=total,
        )
    )


def test_caps_per_key_and_per_process_and_release_once() -> None:
    async def run() -> None:
        hub = hub_with(per_key=2, total=3)
        hub.open()
        first, _second = hub.admit("k1"), hub.admit("k1")
        with pytest.raises(TooManyStreams, match="PER_KEY"):
            hub.admit("k1")
        hub.admit("k2")
        with pytest.raises(TooManyStreams, match="MAX_STREAMS"):
            hub.admit("k3")
        first.release()
        first.release()  # a second release gives nothing back twice
        assert hub.open_streams == 2
        hub.admit("k3")
        await hub.aclose()
        with pytest.raises(TooManyStreams, match="shutting down"):
            hub.admit("k4")

    asyncio.run(run())


def test_a_notification_wakes_waiters_and_a_restart_on_another_loop_works() -> None:
    hub = hub_with(per_key=1, total=1)

    async def run() -> None:
        hub.open()
        changed = hub.changed()
        waiting = asyncio.create_task(hub.wait(changed, 60))
        await asyncio.sleep(0)
        hub._notified()  # what the LISTEN fan-out calls on NOTIFY parktwin_outbox
        await waiting
        assert changed.is_set() and not hub.changed().is_set()
        await hub.aclose()

    asyncio.run(run())
    asyncio.run(run())  # the app started again (a second TestClient): a new loop


def test_a_client_that_stops_reading_is_closed_and_its_place_given_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The ASGI server's ``send`` never completes, as when a client's socket buffer is full."""

    async def run() -> None:
        hub = hub_with(per_key=1, total=1)
        hub.open()
        admission = hub.admit("slow")

        async def content() -> AsyncIterator[bytes]:
            yield b"id: 1\n\n"
            yield b"id: 2\nevent: alarm.raised\ndata: {}\n\n"
            await asyncio.Event().wait()

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                await asyncio.Event().wait()  # the write never completes

        async def receive() -> Message:
            await asyncio.Event().wait()  # the client never hangs up either
            return {"type": "http.disconnect"}

        stream = EventStream(admission, content=content(), ping=3600, send_timeout=0.2)
        scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
        await stream(scope, receive, send)
        assert hub.open_streams == 0
        hub.admit("slow")  # the place is free again
        await hub.aclose()

    with caplog.at_level("WARNING", logger="app.events.router"):
        asyncio.run(run())
    assert "took over" in caplog.text
