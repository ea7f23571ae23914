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
from typing import Annotated, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)

from app.core.appstate import app_state

logger = logging.getLogger(__name__)

_COMPENSATIONS = "parktwin.on_rollback"
T = TypeVar("T")
READ_POOL_RECYCLE_S = 300
APPLICATION = "parktwin"
READ_APPLICATION = "parktwin-read"


class TimescaleMissing(RuntimeError):
    """The database has no TimescaleDB extension: parktwin cannot run on it."""


def sync_url(url: str) -> str:
    """``postgresql://`` as SQLAlchemy's psycopg 3 dialect URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("PARKTWIN_DATABASE_URL must start with postgresql://")


def engine_url(url: str) -> URL:
    """``url`` as SQLAlchemy's URL. A libpq multi-host URL (``postgresql://u:p@h1:5432,h2:5432/db
    ?target_session_attrs=read-write``, how clients find a Patroni cluster's primary) becomes
    SQLAlchemy's form of it, one ``host=h:port`` query parameter per host."""
    parts = urlsplit(sync_url(url))
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return make_url(sync_url(url))
    query = [("host", host) for host in hosts.split(",")] + parse_qsl(parts.query)
    single = parts._replace(netloc=f"{userinfo}@" if userinfo else "", query="")
    return make_url(urlunsplit(single)).update_query_pairs(query)


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
    url: str,
    pool_size: int,
    statement_timeout: timedelta | None = None,
    *,
    read_only: bool = False,
) -> AsyncEngine:
    """An engine whose sessions are in UTC (timestamps come back as UTC datetimes and render
    as ``...Z``) and run without JIT; with ``statement_timeout``, PostgreSQL cancels a
    statement that runs longer (the API's: a dashboard request must not hold a connection for
    minutes).

    JIT off, on any server: the planner prices the raw-reading branch of the rollup-backed
    reads (hours still queued for the rollup worker) over every telemetry chunk of the range,
    which crosses the JIT threshold; compiling then took seconds (14 s for a 0.3 s query in
    bench/economy, a raw 30-day series went from 8.5 s to 0.2 s in bench/api).

    ``read_only``: every transaction is READ ONLY, so a route put on the read pool that writes
    fails on the primary too (in every test), not only on a replica."""
    target = engine_url(url)
    options = "-c timezone=UTC -c jit=off"
    if read_only:
        options += " -c default_transaction_read_only=on"
    extra = target.query.get("options")
    if isinstance(extra, str):  # the URL's own (the process's limits) come after ours
        options += f" {extra}"
    if statement_timeout is not None:
        options += f" -c statement_timeout={_ms(statement_timeout)}"
    connect_args = {"options": options}
    if "application_name" not in target.query:  # who is who in pg_stat_activity
        connect_args["application_name"] = READ_APPLICATION if read_only else APPLICATION
    return create_async_engine(
        target.difference_update_query(["options"]),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # libpq picks a standby at connect time only: after a failover, read connections opened
        # on the standby that was promoted read from the primary until they are replaced
        pool_recycle=READ_POOL_RECYCLE_S if read_only else -1,
        hide_parameters=True,
        connect_args=connect_args,
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


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session on the read pool (PARKTWIN_DATABASE_READ_URL: a replica; unset: the
    primary, still READ ONLY). Nothing to commit: the transaction is closed when the request
    ends. Which routes take it: docs/scale-out.md, "Which reads go to the replica"."""
    async with app_state(request).read_sessionmaker() as session:
        yield session


async def on_primary_or_replica(
    request: Request,
    session: AsyncSession,
    read: Callable[[AsyncSession, bool], Awaitable[T]],
) -> T:
    """``read(session, True)`` on the request's primary session; while the primary cannot be
    reached (a failover: Patroni promotes a standby within its ttl), ``read(replica, False)`` on
    the read pool instead, so dashboards keep authenticating. The flag says whether ``read`` may
    write (auth's ``last_used_at`` touch)."""
    try:
        return await read(session, True)
    except OperationalError as exc:
        if not _unreachable(exc):
            raise
        logger.warning("primary unreachable (%s); reading from the replica", exc.orig)
        await session.rollback()
    async with app_state(request).read_sessionmaker() as replica:
        return await read(replica, False)


def _unreachable(exc: OperationalError) -> bool:
    """A connection that could not be made or was lost; not a timeout or a query's error."""
    return exc.connection_invalidated or not isinstance(
        exc.orig, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
    )


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
"""For pure reads that may be a replication lag behind (dashboards): never after a write in the
same request, never for idempotency, auth or a read that confirms the caller's own write."""
