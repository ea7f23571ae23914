"""Errors as RFC 9457 problem details (``application/problem+json``), rendered in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import QueryCanceled
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.logging import REQUEST_ID

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://parktwin.dev/problems/"


class AppError(Exception):
    """Base of the errors a handler may raise; ``slug`` names the problem type."""

    status = 500
    slug = "internal"
    title = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class Unprocessable(AppError):
    status, slug, title = 422, "unprocessable", "Unprocessable content"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class ServiceUnavailable(AppError):
    status, slug, title = 503, "unavailable", "Service unavailable"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if request_id := REQUEST_ID.get():  # also as a header: a 500 bypasses the middleware
        body["request_id"] = request_id
        headers["X-Request-ID"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem(exc.status, exc.slug, exc.title, exc.detail, **exc.extra)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, slug, str(exc.detail), str(exc.detail))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return problem(422, "validation", "Invalid request", f"{where}: {first['msg']}", errors=errors)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    """A value PostgreSQL cannot store or compare (a NUL character, say) is the client's."""
    logger.info("database refused a value: %s", str(exc).splitlines()[0])
    return problem(422, "invalid-value", "Invalid value", "a value was refused by the database")


async def _pool_timeout(_request: Request, exc: Exception) -> JSONResponse:
    """Every connection of the pool stayed busy past the pool's timeout: overload, not a bug."""
    logger.warning("database connections exhausted: %s", str(exc).splitlines()[0])
    response = problem(
        503, "busy", "Busy", "every database connection is in use; retry in a moment"
    )
    response.headers["Retry-After"] = "1"
    return response


async def _operational(_request: Request, exc: Exception) -> JSONResponse:
    """A statement cancelled by ``PARKTWIN_API_STATEMENT_TIMEOUT``, or the database gone."""
    assert isinstance(exc, OperationalError)
    if isinstance(exc.orig, QueryCanceled):
        logger.warning("statement cancelled: %s", str(exc.orig).splitlines()[0])
        detail = (
            "the query ran past PARKTWIN_API_STATEMENT_TIMEOUT: narrow the range or use a "
            "coarser interval (served from rollups)"
        )
        return problem(503, "query-timeout", "Query took too long", detail)
    logger.warning("database unavailable: %s", str(exc).splitlines()[0])
    response = problem(503, "unavailable", "Database unavailable", "retry in a moment")
    response.headers["Retry-After"] = "1"
    return response


async def _unhandled(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem(500, "internal", "Internal error", "an unexpected error occurred; see the logs")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(Exception, _unhandled)
