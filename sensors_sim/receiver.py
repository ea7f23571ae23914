"""A local webhook receiver for the demo: verifies each event's signature and logs it.

A small ``http.server`` in a thread. It checks the Standard Webhooks signature with the
subscription's secret and answers 204, or 401 when no signature matches (parktwin then
retries, as it would with any receiver).
"""

from __future__ import annotations

import hmac
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from app.webhooks.signing import sign

logger = logging.getLogger("parktwin.demo.webhooks")


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit():
        return False
    expected = sign(secret, msg_id, int(timestamp), body)
    offered = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def describe(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    parts = [str(event.get("type")), str(event.get("park_id"))]
    for key in ("severity", "device_id", "metric", "value"):
        if data.get(key) is not None:
            parts.append(f"{key}={data[key]}")
    return " ".join(parts)


class Receiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.secret: str | None = None
        self.events: list[dict[str, Any]] = []
        self.rejected = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                self.send_response(receiver.accept(headers, body))
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # each event is logged by accept()

        return Handler

    def accept(self, headers: dict[str, str], body: bytes) -> int:
        if self.secret is None or not verify(self.secret, headers, body):
            with self._lock:
                self.rejected += 1
            logger.warning("webhook with a bad signature refused (%d bytes)", len(body))
            return 401
        event = orjson.loads(body)
        with self._lock:
            self.events.append(event)
        logger.info("webhook received: %s", describe(event))
        return 204

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
