"""A request id for every API request: taken from ``X-Request-ID`` when the client sent a sane
one (1 to 64 characters of ``[A-Za-z0-9._-]``), generated otherwise, echoed in the response's
``X-Request-ID`` header, put on every log record emitted while the request is handled
(``REQUEST_ID`` in app/core/logging.py) and into problem+json bodies as ``request_id``.

A plain ASGI middleware, like app/core/metrics.py, for the same reason: Starlette's
``BaseHTTPMiddleware`` streams every body through an extra task.
"""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.logging import REQUEST_ID

HEADER = b"x-request-id"
SANE = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's id when it is a sane token, else a new one (32 hex digits)."""
    for name, value in headers:
        if name.lower() == HEADER:
            if SANE.fullmatch(value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        echoed = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, echoed)]
            await send(message)

        token = REQUEST_ID.set(request_id)
        # Not reset when the app raises: Starlette's ServerErrorMiddleware, outside this one,
        # then logs the error and answers the 500, and both should carry the id. The variable
        # lives in the request's own task context, so nothing leaks into another request.
        await self.app(scope, receive, send_with_id)
        REQUEST_ID.reset(token)


def install_request_id(app: FastAPI) -> None:
    """Register the middleware; call it after the other ``add_middleware`` calls so it is the
    outermost and every log record of the request carries the id."""
    app.add_middleware(RequestId)
