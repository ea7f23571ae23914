"""Input limits of the HTTP API, in one place: request bodies, imported tables, polygons.

``BodyLimit`` is a plain ASGI middleware in front of routing, authentication and body parsing:
a body over the limit is answered 413 before anything reads it, whether its size is announced
(``Content-Length``: refused at once, unread) or only found while streaming (chunked: the bytes
are counted and reading stops as soon as they pass the limit). The import endpoints, marked
with ``large_body``, get a larger limit and stream their body into a spooled temporary file.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import AppError, problem

MAX_RINGS = 100
"""Rings of one polygon (the shell and its holes)."""
MAX_VERTICES = 10_000
"""Positions of one polygon, all rings together."""
SPOOL_IN_MEMORY = 1024 * 1024
"""An import body stays in memory up to this size, then goes to a temporary file."""

F = TypeVar("F", bound=Callable[..., Any])


class ContentTooLarge(AppError):
    status, slug, title = 413, "content-too-large", "Content too large"


def mib(size: int) -> str:
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size} bytes"


def check_polygon_size(rings: Sequence[Sequence[Any]]) -> None:
    """ValueError when a polygon has more rings or positions than a park needs."""
    if len(rings) > MAX_RINGS:
        raise ValueError(f"a polygon may have at most {MAX_RINGS} rings, not {len(rings)}")
    vertices = sum(len(ring) for ring in rings)
    if vertices > MAX_VERTICES:
        raise ValueError(
            f"a polygon may have at most {MAX_VERTICES} positions in all, not {vertices}: "
            "simplify it"
        )


def large_body(endpoint: F) -> F:
    """Marks an endpoint that takes bodies up to ``PARKTWIN_API_IMPORT_BODY_MAX``."""
    endpoint.__dict__["large_body"] = True
    return endpoint


class _TooLarge(Exception):
    """Raised into the app by ``receive`` once the body passes the limit."""


class BodyLimit:
    """Answers 413 (problem+json) to a body over its path's limit, before the app reads it."""

    def __init__(
        self, app: ASGIApp, default: int, large: int, large_paths: Sequence[re.Pattern[str]]
    ) -> None:
        self.app, self.default, self.large, self.large_paths = app, default, large, large_paths

    def limit_for(self, path: str) -> int:
        return self.large if any(p.match(path) for p in self.large_paths) else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        await _Guarded(self.app, limit).run(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    detail = f"the request body may hold at most {mib(limit)} here"
    response = problem(413, ContentTooLarge.slug, ContentTooLarge.title, detail)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


class _Guarded:
    """One request: counts the body as the app receives it; past the limit, the app's own
    answer (a 400 from a body parser cut short, say) is dropped and 413 is sent instead."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit
        self.received = 0
        self.exceeded = self.started = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    self.exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if self.exceeded and not self.started:
                return
            self.started = self.started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, guarded_send)
        if self.exceeded and not self.started:
            await _refuse(scope, receive, send, self.limit)


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route, however FastAPI nests included routers."""
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            yield from route.effective_route_contexts()
        elif isinstance(route, APIRoute):
            yield route


def limit_bodies(app: FastAPI, settings: Settings) -> None:
    """Installs ``BodyLimit``: ``PARKTWIN_API_BODY_MAX`` everywhere, the larger
    ``PARKTWIN_API_IMPORT_BODY_MAX`` on the routes marked ``large_body``."""
    large_paths = [
        route.path_regex
        for route in _api_routes(app)
        if getattr(route.endpoint, "large_body", False)
    ]
    app.add_middleware(
        BodyLimit,
        default=settings.api_body_max,
        large=settings.api_import_body_max,
        large_paths=large_paths,
    )


async def spool_body(request: Request, limit: int) -> IO[bytes]:
    """The body in a spooled temporary file (memory up to 1 MiB, then disk), rewound; 413
    past ``limit`` (``BodyLimit`` refuses first; this holds without it too)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (returned)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ContentTooLarge(f"the request body may hold at most {mib(limit)} here")
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


@dataclass(frozen=True)
class TableLimits:
    """What an imported CSV or XLSX table may hold."""

    rows: int
    columns: int
    cell_bytes: int
    xlsx_uncompressed: int
    xlsx_ratio: int

    @classmethod
    def of(cls, settings: Settings) -> TableLimits:
        return cls(
            rows=settings.import_max_rows,
            columns=settings.import_max_columns,
            cell_bytes=settings.import_max_cell_bytes,
            xlsx_uncompressed=settings.import_xlsx_max_uncompressed,
            xlsx_ratio=settings.import_xlsx_max_ratio,
        )

    def check_columns(self, count: int) -> None:
        if count > self.columns:
            raise TableTooLarge(
                f"the table has {count} columns; at most {self.columns} "
                "(PARKTWIN_IMPORT_MAX_COLUMNS)"
            )

    def check_rows(self, count: int) -> None:
        """``count``: data rows so far (the header not counted)."""
        if count > self.rows:
            raise TableTooLarge(
                f"the import has more than {self.rows} rows (PARKTWIN_IMPORT_MAX_ROWS): split it"
            )

    def check_cell(self, row: int, value: str) -> None:
        if len(value) * 4 > self.cell_bytes and len(value.encode()) > self.cell_bytes:
            raise TableTooLarge(
                f"row {row}: a cell holds more than {self.cell_bytes} bytes "
                "(PARKTWIN_IMPORT_MAX_CELL_BYTES)"
            )

    def lines(self, text: Iterable[str]) -> Iterator[str]:
        """The lines of a CSV text, refusing one longer than a full row may be (the csv
        module would otherwise make a list of millions of cells out of a line of commas)."""
        longest = self.columns * (self.cell_bytes + 3)
        for line in text:
            if len(line) > longest:
                raise TableTooLarge(
                    f"a line is longer than {self.columns} cells of "
                    f"{self.cell_bytes} bytes (PARKTWIN_IMPORT_MAX_COLUMNS, "
                    "PARKTWIN_IMPORT_MAX_CELL_BYTES)"
                )
            yield line


class TableTooLarge(ValueError):
    """An imported table passes one of ``TableLimits``; the message names the limit."""
