"""Database engines and the request-scoped session.

The API uses SQLAlchemy's asyncio engine on psycopg 3; engines are built in the app's lifespan
and kept on ``app.state``, never at import time. The request's session dependency commits when
the handler returns and rolls back when it raises: services never commit.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)

from app.core.appstate import app_state

logger = logging.getLogger(__name__)

_COMPENSATIONS = "parktwin.on_rollback"


class TimescaleMissing(RuntimeError):
    """The database has no TimescaleDB extension: parktwin cannot run on it."""


def sync_url(url: str) -> str:
    """``postgresql://`` as SQLAlchemy's psycopg 3 dialect URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("PARKTWIN_DATABASE_URL must start with postgresql://")


def libpq_url(url: str) -> str:
    """The plain ``postgresql://`` form that psycopg.connect() takes."""
    return "postgresql://" + sync_url(url)[len("postgresql+psycopg://") :]


@dataclass(frozen=True)
class SessionLimits:
    """What a process's database connections may not exceed (docs/security/database.md)."""

    statement_timeout: timedelta
    lock_timeout: timedelta
    keepalives_idle: timedelta
    keepalives_interval: timedelta
    keepalives_count: int
    tcp_user_timeout: timedelta
    connect_timeout: timedelta


def _ms(value: timedelta) -> int:
    return int(value.total_seconds() * 1000)


def with_session_limits(url: str, limits: SessionLimits) -> str:
    """``url`` with libpq parameters for ``limits``: keepalives and the connect timeout as
    connection parameters (those already in the URL win), the statement and lock timeouts
    appended to its ``options``."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in (
        ("keepalives", 1),
        ("keepalives_idle", int(limits.keepalives_idle.total_seconds())),
        ("keepalives_interval", int(limits.keepalives_interval.total_seconds())),
        ("keepalives_count", limits.keepalives_count),
        ("tcp_user_timeout", _ms(limits.tcp_user_timeout)),
        ("connect_timeout", max(1, int(limits.connect_timeout.total_seconds()))),
    ):
        query.setdefault(key, str(value))
    timeouts = (
        f"-c statement_timeout={_ms(limits.statement_timeout)} "
        f"-c lock_timeout={_ms(limits.lock_timeout)}"
    )
    query["options"] = f"{query['options']} {timeouts}" if query.get("options") else timeouts
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def create_engine_for(
    url: str, pool_size: int, statement_timeout: timedelta | None = None
) -> AsyncEngine:
    """An engine whose sessions are in UTC (timestamps come back as UTC datetimes and render
    as ``...Z``) and run without JIT; with ``statement_timeout``, PostgreSQL cancels a
    statement that runs longer (the API's: a dashboard request must not hold a connection for
    minutes).

    JIT off, on any server: the planner prices the raw-reading branch of the rollup-backed
    reads (hours still queued for the rollup worker) over every telemetry chunk of the range,
    which crosses the JIT threshold; compiling then took seconds (14 s for a 0.3 s query in
    bench/economy, a raw 30-day series went from 8.5 s to 0.2 s in bench/api)."""
    target = make_url(sync_url(url))
    options = "-c timezone=UTC -c jit=off"
    extra = target.query.get("options")
    if isinstance(extra, str):  # the URL's own (the process's limits) come after ours
        options += f" {extra}"
    if statement_timeout is not None:
        options += f" -c statement_timeout={_ms(statement_timeout)}"
    return create_async_engine(
        target.difference_update_query(["options"]),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"options": options},
    )


async def check_timescaledb(engine: AsyncEngine) -> str:
    """Return the installed TimescaleDB version, or raise TimescaleMissing with what to do."""
    async with engine.connect() as conn:
        version = (
            await conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            )
        ).scalar_one_or_none()
    if version is None:
        raise TimescaleMissing(
            "the database has no timescaledb extension: run `parktwin migrate` against a "
            "PostgreSQL with TimescaleDB in shared_preload_libraries (`parktwin services up` "
            "provides one)"
        )
    return str(version)


Compensation = Callable[[], Awaitable[None]]
"""Undoes, outside the database, what a rolled-back transaction had done (a broker account)."""


def on_rollback(session: AsyncSession, compensation: Compensation) -> None:
    """Run ``compensation`` if this request's transaction does not commit.

    For side effects the database cannot roll back: register it *before* making the change, so
    a change that half-happened (a timeout) is undone too; it must be safe to run then."""
    session.info.setdefault(_COMPENSATIONS, []).append(compensation)


async def _compensate(session: AsyncSession) -> None:
    for compensation in reversed(session.info.pop(_COMPENSATIONS, [])):
        try:
            await compensation()
        except Exception:  # the original error is what the client must see
            logger.exception("compensation %r failed after a rollback", compensation)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed once the handler has returned and its answer is
    serialised, before a byte of it is sent (``SessionDep`` uses ``scope="function"``), so a
    commit that fails reaches the client as an error, never as a 2xx. Anything raised (by the
    handler or by the commit) rolls back and runs the ``on_rollback`` compensations."""
    maker = app_state(request).sessionmaker
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            try:
                await session.rollback()
            finally:
                await _compensate(session)
            raise
        session.info.pop(_COMPENSATIONS, None)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""The request's session; ``scope="function"``: commit before the response, not after it
(FastAPI runs a request-scoped dependency's exit code after the response is sent)."""
