"""Webhook test fixtures: an app that allows URLs on 127.0.0.0/8 and any port, a real HTTP
receiver on 127.0.0.1, ``parktwin worker`` as a real process, and events written into
``event_outbox`` with plain SQL, as the alarm code and the ingestor write them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.webhooks import outbox
from app.webhooks.queue import Claimed
from app.webhooks.signing import new_secret
from tests.api.conftest import auth, create_park, make_key
from tests.conftest import ServiceEnv, wait_ready
from tests.ingest_support import ROOT, stop_process
from tests.ingest_support import wait_until as poll_until

WAIT_S = 45.0
# The receivers of these tests listen on 127.0.0.1, on ports the system picks.
LOCAL_RECEIVERS: dict[str, Any] = {
    "webhook_allowed_networks": ["127.0.0.0/8"],
    "webhook_allowed_ports": "1-65535",
}


@pytest.fixture(scope="session")
def wh_settings(services: ServiceEnv, database_url: str) -> Settings:
    # Many webhooks and test pings in one park (the route-access matrix): the limits are tested
    # on their own, in test_guard.py.
    limits = {"webhook_test_limit": 10_000, "webhook_max_per_park": 10_000}
    return services.settings(database_url, **LOCAL_RECEIVERS, **limits)


@pytest.fixture(scope="session")
def wh_client(wh_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(wh_settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture(scope="session")
def wh_admin(database_url: str) -> dict[str, str]:
    return auth(make_key(database_url, "admin"))


@pytest.fixture
def park_id(wh_client: TestClient, wh_admin: dict[str, str]) -> str:
    return create_park(wh_client, wh_admin).id


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    peer: int = 0  # the sender's port: one per connection

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: records every POST, answers from ``responses`` (then 200) with
    ``answer`` as the body (and ``location``, if set), and holds the requests for the ids in
    ``hold`` (every request if ``tarpit``) until ``release`` is set. With ``keep_alive`` it
    speaks HTTP/1.1 and keeps connections open. A status of 0 in ``responses`` reads and
    records the request, then closes the connection without an answer (as a receiver whose
    idle timeout ran out while the request was on its way)."""

    port: int = 0
    host: str = "127.0.0.1"
    answer: bytes = b"ok"
    location: str | None = None
    tarpit: bool = False
    tls: ssl.SSLContext | None = None
    keep_alive: bool = False
    short_body: bool = False  # announce one byte more than the answer and hold the connection
    requests: list[Received] = field(default_factory=list)
    responses: deque[int] = field(default_factory=deque)
    hold: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    cond: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if self.keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request: a real receiver sees no request
                headers = {k.lower(): v for k, v in self.headers.items()}
                item = Received(self.path, headers, body, self.client_address[1])
                with receiver.cond:
                    receiver.requests.append(item)
                    status = receiver.responses.popleft() if receiver.responses else 200
                    receiver.cond.notify_all()
                if status == 0:
                    self.close_connection = True
                    return
                if receiver.tarpit or item.headers.get("webhook-id") in receiver.hold:
                    receiver.release.wait(WAIT_S)
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    if receiver.location is not None:
                        self.send_header("location", receiver.location)
                    announced = len(receiver.answer) + int(receiver.short_body)
                    self.send_header("content-length", str(announced))
                    self.end_headers()
                    self.wfile.write(receiver.answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Callable[[list[Received]], bool], what: str) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.requests), WAIT_S), what

    def ids(self) -> list[str]:
        with self.cond:
            return [r.id for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.release.set()
    receiver.stop()


def create_webhook(
    client: TestClient, admin: dict[str, str], park_id: str, url: str, **body: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/parks/{park_id}/webhooks",
        json={"url": url, "event_types": ["*"], **body},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def insert_event(
    database_url: str,
    park_id: str,
    type_: str = "alarm.raised",
    severity: str | None = "critical",
    data: dict[str, Any] | None = None,
) -> str:
    """Write an event as the alarm code does (the outbox's sync writer), in its own
    transaction."""
    with psycopg.connect(database_url) as conn:
        event_id = outbox.enqueue_sync(
            conn, park_id=park_id, type=type_, severity=severity, data=data or {"n": 1}
        )
    return str(event_id)


def query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def wait_until(check: Callable[[], bool], what: str) -> None:
    """Poll a database condition (the worker is another process: nothing to wait on)."""
    poll_until(check, WAIT_S, what)


def delivery_states(database_url: str, webhook_id: str) -> dict[str, str]:
    rows = query(
        database_url,
        "SELECT event_id::text, status FROM webhook_delivery WHERE webhook_id = %s",
        webhook_id,
    )
    return {str(event_id): str(status) for event_id, status in rows}


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


WORKER_LOGS = ROOT / ".pytest_cache" / "worker-logs"
FAST_SCHEDULE = "[0.2, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]"


def start_worker(database_url: str, **settings: str) -> Worker:
    """``parktwin worker`` as a process, with fast test settings unless overridden."""
    env = {
        **os.environ,
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_WORKER_INTERVAL": "PT0.2S",
        "PARKTWIN_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "PARKTWIN_WEBHOOK_ALLOWED_PORTS": "1-65535",
        "PARKTWIN_WEBHOOK_RETRY_SCHEDULE": FAST_SCHEDULE,
        "PARKTWIN_WEBHOOK_BREAKER_COOLDOWN": "PT0.5S",
        "PARKTWIN_LOG_LEVEL": "INFO",
        "PARKTWIN_WORKER_METRICS_PORT": "0",  # workers run side by side: see test_worker_metrics
        **{f"PARKTWIN_{k.upper()}": v for k, v in settings.items()},
    }
    # beside the ingestors' logs (tests/ingest_support.py): kept for a failure's post-mortem,
    # in the checkout's cache rather than the machine's /tmp
    WORKER_LOGS.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="worker-", suffix=".log", dir=WORKER_LOGS)
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], env=env, stdout=log, stderr=log
        )
    return Worker(process, Path(name))


def claimed(url: str, type_: str = "webhook.test", data: dict[str, Any] | None = None) -> Claimed:
    """A delivery as the worker's claim hands it to ``post()``: one attempt of a new event
    (``data``: its payload, ``{"n": 1}`` by default)."""
    return Claimed(
        id=1,
        webhook_id=uuid.uuid4(),
        attempt=1,
        attempt_id=1,
        url=url,
        secrets=(new_secret(),),
        event_id=uuid.uuid4(),
        type=type_,
        created_at=datetime.now(UTC),
        park_id="p",
        data={"n": 1} if data is None else data,
    )
