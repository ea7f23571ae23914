"""The ``Idempotency-Key`` dependency and the route class that stores and replays answers.

A route opts in with ``dependencies=[IDEMPOTENT]`` (or ``IDEMPOTENT_SECRET`` when its answer
holds a secret shown once) on a router built with ``route_class=IdempotentRoute``:

1. the dependency (after the API key is known) takes an advisory lock on (key id, route, key)
   in the request's transaction: taken by another transaction means the first request is still
   in flight, 409; then it looks the key up: stored with another fingerprint, 422; stored with
   the same one, the stored answer is replayed (``Idempotent-Replayed: true``) and the handler
   never runs;
2. otherwise the handler runs, and the route class, once the answer is serialised and *before*
   the request's session commits (``SessionDep`` is function-scoped), inserts the answer in the
   same transaction. A failed commit, or an error answer, stores nothing: a retry runs again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.appstate import app_state
from app.core.auth import ApiKey, current_key
from app.core.db import SessionDep
from app.core.errors import Conflict, Unprocessable
from app.idempotency import repository

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
_PENDING = "parktwin.idempotency"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class Pending:
    """A first request with a key: where to store its answer once it has one."""

    session: AsyncSession
    api_key_id: str
    scope: str
    key: str
    fingerprint: bytes
    keep_body: bool
    retention: timedelta


class Replay(Exception):
    """Raised by the dependency to answer with the stored response instead of the handler."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


def fingerprint(query: str, body: bytes) -> bytes:
    """SHA-256 of the query string and the body; a JSON body in canonical form (sorted keys,
    no spaces), so the same object sent with other spacing or key order is the same request."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(query.encode() + b"\0" + canonical).digest()


def _replay(row: Row[tuple[bytes, int, str | None, bytes | None, str | None]]) -> Response:
    if row.body is None:  # the answer held a secret shown once: it was not kept
        raise Conflict(
            f"an earlier request with this {HEADER} already created {row.resource_id!r}; its "
            "answer held a secret shown only once and is not replayed (rotate the secret to "
            "get a new one)",
            resource_id=row.resource_id,
        )
    return Response(
        row.body, status_code=row.status, media_type=row.content_type, headers={REPLAYED: "true"}
    )


def _dependency(keep_body: bool) -> Callable[..., Coroutine[Any, Any, None]]:
    async def idempotency_key(
        request: Request,
        session: SessionDep,
        api_key: Annotated[ApiKey, Depends(current_key)],
        key: Annotated[
            str | None,
            Header(
                alias=HEADER,
                description="any unique string (1-255 visible ASCII characters, a UUID say): "
                "a retry with the same key and body is done once and answered with the first "
                "answer (`Idempotent-Replayed: true`); another body with the key: 422; while "
                "the first is in flight: 409",
            ),
        ] = None,
    ) -> None:
        if key is None:
            return
        if not KEY_PATTERN.fullmatch(key):
            raise Unprocessable(f"{HEADER}: 1 to 255 visible ASCII characters")
        scope = f"{request.method} {request.url.path}"
        if not await repository.try_lock(session, api_key.id, scope, key):
            raise Conflict(f"a request with this {HEADER} is still in flight; retry later")
        digest = fingerprint(request.url.query, await request.body())
        row = await repository.find(session, api_key.id, scope, key)
        if row is not None:
            if row.fingerprint != digest:
                raise Unprocessable(f"{HEADER} was already used with another request body")
            raise Replay(_replay(row))
        retention = app_state(request).settings.idempotency_retention
        request.scope[_PENDING] = Pending(
            session, api_key.id, scope, key, digest, keep_body, retention
        )

    return idempotency_key


IDEMPOTENT = Depends(_dependency(keep_body=True))
"""Accept ``Idempotency-Key``; replay the stored answer."""
IDEMPOTENT_SECRET = Depends(_dependency(keep_body=False))
"""Accept ``Idempotency-Key`` on a route whose answer holds a secret shown once: the answer is
not stored; a retry answers 409 with the created resource's id (``resource_id``)."""


async def _store(pending: Pending, response: Response) -> None:
    body = bytes(response.body)
    resource_id = None
    if not pending.keep_body:
        created = orjson.loads(body) if body else None
        resource_id = str(created.get("id")) if isinstance(created, dict) else None
    await repository.insert(
        pending.session,
        api_key_id=pending.api_key_id,
        scope=pending.scope,
        key=pending.key,
        fingerprint=pending.fingerprint,
        status=response.status_code,
        content_type=response.headers.get("content-type"),
        body=body if pending.keep_body else None,
        resource_id=resource_id,
        retention=pending.retention,
    )


class IdempotentRoute(APIRoute):
    """Stores a 2xx answer of a request that carried an ``Idempotency-Key``, and replays."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def idempotent_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Replay as replay:
                return replay.response
            pending = request.scope.pop(_PENDING, None)
            ok = 200 <= response.status_code < 300
            if isinstance(pending, Pending) and ok and hasattr(response, "body"):
                await _store(pending, response)  # a streamed answer cannot be kept: not stored
            return response

        return idempotent_handler
