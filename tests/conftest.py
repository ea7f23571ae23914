"""Test services: a real PostgreSQL + TimescaleDB and a real Mosquitto.

By default the session starts its own embedded services in a temporary state directory on free
ports (so tests may stop and restart them) and tears them down at the end. With
``PARKTWIN_DATABASE_URL`` and ``PARKTWIN_MQTT_URL`` both set, it reuses those services instead,
in a database of its own, and skips the tests marked ``embedded``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from psycopg import sql

from app.core.config import Settings
from app.core.migrate import upgrade_to_head
from app.embedded.process import free_port
from app.embedded.services import EmbeddedServices

# The suite is deterministic: hypothesis draws the same examples on every run (a case a random
# run found stays as an ``@example``). HYPOTHESIS_PROFILE=explore draws new ones each run, to
# look for bugs by hand (docs/development.md).
hypothesis_settings.register_profile("deterministic", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@dataclass
class ServiceEnv:
    """Where the test services are; ``embedded`` is None when reusing external ones."""

    admin_db_url: str  # a database to connect to for CREATE/DROP DATABASE
    mqtt_url: str
    embedded: EmbeddedServices | None

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.admin_db_url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def create_database(self, prefix: str = "parktwin_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_db_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def settings(self, database_url: str, **overrides: object) -> Settings:
        values: dict[str, object] = {"database_url": database_url, "mqtt_url": self.mqtt_url}
        # Tests write alarms and statuses straight into tables, without the outbox event whose
        # notification clears the twin and map cache: they read computed answers. The cache
        # has its own tests (tests/test_microcache.py, tests/assets/test_scale_reads.py) and
        # the cockpit's browser tests run it at its default, fed by real events.
        values["twin_cache_ttl"] = timedelta(0)
        if self.embedded is not None:
            values["state_dir"] = self.embedded.settings.state_dir
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]


def _embedded_settings(state: Path) -> Settings:
    return Settings(
        state_dir=state,
        embedded_pg_port=free_port(),
        embedded_mqtt_port=free_port(),
        embedded_mqtt_service_port=free_port(),
        embedded_mqtts_port=free_port(),
        database_url=None,
        mqtt_url=None,
    )


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceEnv]:
    db_url, mqtt_url = os.environ.get("PARKTWIN_DATABASE_URL"), os.environ.get("PARKTWIN_MQTT_URL")
    if db_url and mqtt_url:
        yield ServiceEnv(db_url, mqtt_url, None)
        return
    state = Path(tempfile.mkdtemp(prefix="parktwin-test-"))
    state.chmod(0o755)  # the postgres and mosquitto system users must reach it
    embedded = EmbeddedServices.from_settings(_embedded_settings(state))
    try:
        urls = embedded.up()
        # The superuser creates the test databases (and their extension, in the migration);
        # `services up` prints the schema owner's URL, which may not.
        # The broker's services listener, as the parktwin processes use it (urls' own
        # PARKTWIN_MQTT_URL is the device listener, where the client id is the username).
        assert urls["PARKTWIN_MQTT_URL"] == embedded.mosquitto.device_url()
        yield ServiceEnv(embedded.postgres.admin_url(), embedded.mosquitto.url(), embedded)
    finally:
        embedded.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded(services: ServiceEnv) -> EmbeddedServices:
    """The session's own embedded services, for tests that stop and restart them."""
    if services.embedded is None:
        pytest.skip("reusing external services: cannot stop or restart them")
    return services.embedded


@pytest.fixture(scope="session")
def database_url(services: ServiceEnv) -> Iterator[str]:
    """A database migrated to head, shared by the session."""
    url = services.create_database()
    upgrade_to_head(url)
    yield url
    services.drop_database(url)


@pytest.fixture(scope="session")
def settings(services: ServiceEnv, database_url: str) -> Settings:
    return services.settings(database_url)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection whose work is rolled back after the test."""
    with psycopg.connect(database_url) as conn:
        yield conn
        conn.rollback()


def wait_ready(client: TestClient, timeout: float = 15) -> None:
    """Poll /readyz until it answers 200 (the broker link connects in the background)."""
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready: {client.get('/readyz').json()}")
        time.sleep(0.1)
