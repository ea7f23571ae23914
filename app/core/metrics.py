"""Prometheus instrumentation of the HTTP API, on a registry owned by the app.

A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
``BaseHTTPMiddleware`` streams every response body through an extra task and memory channel,
which cost about a tenth of a dashboard read's time in the API (measured with py-spy under
bench/api).
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class Observe:
    """Counts every HTTP request by method, route template and status, and times it."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is answered with a 500
        timed = False  # an event stream is timed to its start (once open), not to its end

        def observe() -> None:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = method_label(scope["method"])
            self.latency.labels(method, template).observe(time.perf_counter() - started)

        async def send_observed(message: Message) -> None:
            nonlocal status, timed
            if message["type"] == "http.response.start":
                status = message["status"]
                if _is_stream(message):
                    observe()
                    timed = True
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if not timed:
                observe()
            template = getattr(scope.get("route"), "path", "unmatched")
            method = method_label(scope["method"])
            self.requests.labels(method, template, str(status)).inc()


def _is_stream(start: Message) -> bool:
    """A ``text/event-stream`` answer: open for hours, so its duration is no latency."""
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/event-stream")
        for name, value in start.get("headers", ())
    )


def method_label(method: str) -> str:
    """The method as a label; any method outside HTTP's standard ones is ``OTHER``, so a
    client inventing methods cannot add series (L18)."""
    return method if method in METHODS else "OTHER"


def instrument(app: FastAPI, registry: CollectorRegistry) -> None:
    requests = Counter(
        "parktwin_http_requests_total",
        "HTTP requests answered",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "parktwin_http_request_duration_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )
    app.add_middleware(Observe, requests=requests, latency=latency)
