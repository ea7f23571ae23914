"""Event stream fixtures: the API under a real uvicorn on a free port (in a thread), an SSE
reader over httpx streaming, and events written into ``event_outbox`` as the writers do
(``enqueue_sync``, in a transaction of its own)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import uvicorn

from app.core.config import Settings
from app.embedded.process import free_port
from app.main import create_app
from app.webhooks.outbox import enqueue_sync
from tests.conftest import ServiceEnv

READ_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def stream_settings(services: ServiceEnv, database_url: str) -> Settings:
    return services.settings(
        database_url,
        api_events_heartbeat=timedelta(seconds=1),
        api_events_max_streams_per_key=2,
        api_cors_origins="https://screen.example.cn",
    )


@pytest.fixture(scope="module")
def server(stream_settings: Settings) -> Iterator[str]:
    """A real uvicorn serving the app; its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(stream_settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@dataclass
class Message:
    """One SSE message as a browser assembles it (comments kept apart)."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def body(self) -> Any:
        return orjson.loads("\n".join(self.data))


class Reader:
    """Reads an open ``text/event-stream`` response message by message."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next(self) -> Message:
        message = Message()
        for line in self._lines:
            if line == "":
                if message.comments and not (message.data or message.id or message.retry):
                    return message
                if message.data or message.id is not None or message.retry is not None:
                    return message
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                message.comments.append(value)
            elif name == "data":
                message.data.append(value)
            elif name in ("id", "event"):
                setattr(message, name, value)
            elif name == "retry":
                message.retry = int(value)
        raise AssertionError("the stream ended")

    def rest(self) -> list[str]:
        """Every line until the server ends the stream."""
        return list(self._lines)

    def next_event(self) -> Message:
        """The next message with data, skipping pings."""
        while True:
            message = self.next()
            if message.data:
                return message


def open_stream(client: httpx.Client, park_id: str, headers: dict[str, str], **params: str) -> Any:
    return client.stream(
        "GET",
        f"/api/v1/parks/{park_id}/events",
        headers={"Accept": "text/event-stream", **headers},
        params=params,
    )


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_S)
    with httpx.Client(base_url=server, timeout=timeout) as client:
        yield client


def emit(database_url: str, park_id: str, type_: str, data: dict[str, Any]) -> str:
    """Commit one outbox event, as the alarm code does; its id."""
    with psycopg.connect(database_url) as conn:
        event_id = enqueue_sync(conn, park_id=park_id, type=type_, severity=None, data=data)
    return str(event_id)
