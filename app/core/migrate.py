"""``parktwin migrate``: Alembic upgrade to head, with the migrations shipped in the package;
with ``--wait`` it first retries until the database answers (a container started alongside
PostgreSQL, which may still be initialising or restarting)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

import migrations
from app.core.db import engine_url, libpq_url

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
CONNECT_TIMEOUT_S = 5


class DatabaseUnreachable(RuntimeError):
    """The database did not answer within the time allowed."""


def wait_for_database(
    database_url: str, timeout: float, notify: Callable[[str], None] = lambda _line: None
) -> int:
    """Return once the database accepts a session (the number of failed tries before), retrying
    every 0.5 s, doubling up to 5 s, for up to ``timeout`` seconds. Refused connections and
    refused logins both count as not yet (the roles may still be being created). ``notify``
    hears one line when the waiting starts; it names host and port, never the password."""
    deadline = time.monotonic() + timeout
    delay, failures = RETRY_FIRST_S, 0
    where = _host_port(database_url)
    while True:
        try:
            psycopg.connect(libpq_url(database_url), connect_timeout=CONNECT_TIMEOUT_S).close()
            return failures
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            if time.monotonic() + delay > deadline:
                raise DatabaseUnreachable(
                    f"no answer from the database at {where} within {timeout:g} s: {reason}"
                ) from exc
            if failures == 0:
                notify(f"waiting for the database at {where} (up to {timeout:g} s): {reason}")
            failures += 1
            time.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)


def _host_port(database_url: str) -> str:
    parts = urlsplit(libpq_url(database_url))
    hosts = parts.netloc.rpartition("@")[2]
    if "," in hosts:  # a multi-host URL (a Patroni cluster): all of them
        return hosts
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    url = engine_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(database_url: str) -> str | None:
    engine = create_engine(engine_url(database_url), hide_parameters=True)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade_to_head(database_url: str) -> tuple[str | None, str | None]:
    """Upgrade; return the revision before and after (equal when there was nothing to do)."""
    before = current_revision(database_url)
    command.upgrade(alembic_config(database_url), "head")
    return before, current_revision(database_url)
