"""Least privilege on PostgreSQL (review M8, L7; docs/security/database.md).

The API, the ingestor and the worker log in as members of the group roles of migration 0016:
none is a superuser or may change the schema, run programs or read password hashes, and each
still does its whole job, shown here by the real processes running with those logins.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.broker.dynsec import DynsecClient
from app.core.config import Settings
from app.core.db import SessionDep, create_engine_for
from app.core.migrate import alembic_config, current_revision, upgrade_to_head
from app.core.mqtt import MqttTarget
from app.core.statedir import DB_LOGINS, DB_OWNER
from app.embedded import install
from app.embedded.services import EmbeddedServices
from app.main import create_app
from app.worker.loop import Job, run_job
from tests.api.conftest import auth, make_key
from tests.conftest import ServiceEnv, wait_ready
from tests.ingest_support import ROOT, Ingestor, Publisher, scalar, wait_until
from tests.webhooks.conftest import Receiver, start_worker

PROCESSES = ("api", "ingest", "worker")

# Each must fail with "permission denied" / "must be owner" for every process role.
FORBIDDEN = (
    "CREATE TABLE public.evil (x int)",
    "DROP TABLE park",
    "ALTER TABLE device ADD COLUMN evil int",
    "CREATE INDEX evil ON device (name)",
    "TRUNCATE telemetry",
    "COPY (SELECT 1) TO PROGRAM 'true'",
    "COPY device FROM '/etc/passwd'",
    "SELECT rolpassword FROM pg_authid",
    "CREATE ROLE evil",
    "SELECT drop_chunks('telemetry', older_than => interval '1 day')",
    "SELECT pg_read_file('/etc/passwd')",
)
# What one process may not touch that another needs.
FORBIDDEN_TO = {
    "ingest": (
        "SELECT * FROM api_key",
        "SELECT secret FROM webhook",
        "DELETE FROM telemetry",
        "UPDATE park SET name = 'x'",
        "SELECT parktwin_drop_expired('telemetry', interval '1 day')",
    ),
    "worker": ("SELECT * FROM api_key", "UPDATE alembic_version SET version_num = 'x'"),
    "api": (
        "SELECT parktwin_drop_expired('telemetry', interval '1 day')",
        "UPDATE alembic_version SET version_num = 'x'",
    ),
}


@pytest.fixture(scope="module")
def roles_db(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_roles")
    upgrade_to_head(url)
    yield url
    services.drop_database(url)


@pytest.fixture(scope="module")
def logins(embedded: EmbeddedServices, roles_db: str) -> dict[str, str]:
    """Each process's login (provisioned by `services up`) into the module's database."""
    name = urlsplit(roles_db).path.lstrip("/")
    return {p: embedded.postgres.role_url(DB_LOGINS[p], name) for p in PROCESSES}


@pytest.mark.parametrize("process", PROCESSES)
def test_a_process_role_cannot_escalate(logins: dict[str, str], process: str) -> None:
    with psycopg.connect(logins[process], autocommit=True) as conn:
        powers = conn.execute(
            "SELECT bool_or(rolsuper), bool_or(rolcreaterole), bool_or(rolcreatedb), "
            "bool_or(rolbypassrls), bool_or(rolname LIKE 'pg_%%') "
            "FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER')"
        ).fetchone()
        assert powers == (False, False, False, False, False)
        for statement in (*FORBIDDEN, *FORBIDDEN_TO[process]):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # A session-local temporary table stays allowed (PUBLIC's TEMP on the database, as
        # PostgreSQL grants it; no process uses one since the ingest writer stopped staging).
        conn.execute("CREATE TEMP TABLE scratch (x int)")


def test_migrations_run_as_the_schema_owner_not_a_superuser(embedded: EmbeddedServices) -> None:
    """The embedded provisioning (superuser) creates the database and the extension; every
    migration then runs as ``parktwin_owner``, which ends up owning every table."""
    name = f"parktwin_owner_{uuid.uuid4().hex[:8]}"
    embedded.postgres.ensure_database(name)
    url = embedded.postgres.url(name)
    try:
        before, after = upgrade_to_head(url)
        assert before is None and after == current_revision(url) and after is not None
        with psycopg.connect(url) as conn:
            me = conn.execute(
                "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert me == (DB_OWNER, False)
            others = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner <> current_user"
            ).fetchone()
            assert others == (0,)
    finally:
        embedded.postgres.drop_database(name)


def test_the_operators_script_provisions_a_database_the_owner_migrates(
    embedded: EmbeddedServices,
) -> None:
    """deploy/db-roles.sql, as docs/security/database.md has an operator run it (here with the
    passwords the cluster's logins already have: the roles are cluster-wide)."""
    name = f"parktwin_script_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(embedded.postgres.admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    passwords = {
        kind: urlsplit(embedded.postgres.role_url(role)).password
        for kind, role in (("owner", DB_OWNER), *((p, DB_LOGINS[p]) for p in PROCESSES))
    }
    variables = [f"-v{kind}_password={password}" for kind, password in passwords.items()]
    psql = [str(install.pg_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", *variables]
    script = str(ROOT / "deploy" / "db-roles.sql")
    try:
        for _ in range(2):  # the second run finds everything in place
            done = subprocess.run(
                [*psql, "-d", embedded.postgres.admin_url(name), "-f", script],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        url = embedded.postgres.url(name)
        assert upgrade_to_head(url)[1] == current_revision(url) is not None
        with psycopg.connect(embedded.postgres.role_url(DB_LOGINS["ingest"], name)) as conn:
            conn.execute("SELECT count(*) FROM device").fetchone()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM api_key")
    finally:
        embedded.postgres.drop_database(name)


def test_the_owner_takes_over_a_database_the_superuser_migrated(
    embedded: EmbeddedServices,
) -> None:
    """An embedded database from before the roles (created and migrated by the superuser):
    `services up` hands it to the owner, whose migrations then work on it, down and up."""
    name = f"parktwin_legacy_{uuid.uuid4().hex[:8]}"
    admin = embedded.postgres.admin_url(name)
    with psycopg.connect(embedded.postgres.admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade_to_head(admin)
        embedded.postgres.ensure_database(name)
        url = embedded.postgres.url(name)
        command.downgrade(alembic_config(url), "0014")
        assert upgrade_to_head(url) == ("0014", current_revision(admin))
        with psycopg.connect(url) as conn:
            others = conn.execute(
                "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relowner <> current_user::regrole"
            ).fetchone()
            assert others == (0,)
    finally:
        embedded.postgres.drop_database(name)


def test_the_processes_do_their_jobs_with_their_roles(
    services: ServiceEnv, roles_db: str, logins: dict[str, str]
) -> None:
    """End to end: the API (app factory) creates a park, a gas detector and a webhook; the
    ingestor stores readings, a rejection, the alarm and its event; the worker (`parktwin
    worker`) delivers the webhook, rolls the hour up and drops an expired chunk; each process
    with its own login only."""
    receiver = Receiver().start()
    settings = services.settings(
        roles_db, api_database_url=logins["api"], webhook_allow_private=True
    )
    admin = auth(make_key(roles_db, "admin"))
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        park, device = _api_creates_a_park(client, admin, receiver.url)
        assert DB_LOGINS["api"] in _sessions(roles_db)
    target = MqttTarget.from_url(services.mqtt_url)
    dynsec = DynsecClient(target)
    dynsec.connect()
    publisher = Publisher(target, dynsec, park, device)
    ingestor = Ingestor(roles_db, services.mqtt_url)
    ingestor.env["PARKTWIN_INGEST_DATABASE_URL"] = logins["ingest"]
    worker = None
    try:
        ingestor.start().wait_subscribed(target, publisher, roles_db)
        _ingest_stores(roles_db, publisher)
        assert DB_LOGINS["ingest"] in _sessions(roles_db)
        sid = scalar(roles_db, "SELECT id FROM series WHERE device_id = %s", device)
        old = datetime.now(UTC) - timedelta(days=200)
        with psycopg.connect(roles_db) as conn:  # a reading past raw retention
            conn.execute("INSERT INTO telemetry VALUES (%s, %s, 1)", (old, sid))
        worker = start_worker(
            roles_db, worker_database_url=logins["worker"], rollup_open_hour_interval="PT0S"
        )
        receiver.wait_for(lambda r: any(x.json()["type"] == "alarm.raised" for x in r), "hook")
        wait_until(lambda: _drained(roles_db, sid), 60, "the rollup and the retention")
        assert DB_LOGINS["worker"] in _sessions(roles_db)
        assert "failed" not in worker.output(), worker.output()
        assert "storage_error" not in ingestor.output()
    finally:
        if worker is not None:
            worker.stop()
        ingestor.stop()
        publisher.close()
        dynsec.close()
        receiver.stop()


def _api_creates_a_park(client: TestClient, admin: dict[str, str], hook: str) -> tuple[str, str]:
    park, device = f"p-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:6]}"
    created = client.post("/api/v1/parks", json={"id": park, "name": "roles"}, headers=admin)
    assert created.status_code == 201, created.text
    body = {"id": device, "type": "gas_detector", "name": "gas"}
    created = client.post(f"/api/v1/parks/{park}/devices", json=body, headers=admin)
    assert created.status_code == 201, created.text
    body = {"url": hook, "event_types": ["*"]}
    created = client.post(f"/api/v1/parks/{park}/webhooks", json=body, headers=admin)
    assert created.status_code == 201, created.text
    read = client.get(f"/api/v1/parks/{park}/devices/{device}", headers=admin)
    assert read.status_code == 200 and read.json()["type"] == "gas_detector"
    return park, device


def _ingest_stores(database_url: str, publisher: Publisher) -> None:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    publisher.send({"ts": now_ms - 60_000, "values": {"gas_lel_pct": 60.0}})
    publisher.send({"ts": now_ms - 3 * 86_400_000, "values": {"gas_lel_pct": 1.0}})  # new chunk
    publisher.send(b"{not json")
    key = (publisher.park_id, publisher.device_id)

    def count(query: str) -> int:
        return int(scalar(database_url, query, *key))  # type: ignore[call-overload]

    wait_until(
        lambda: (
            count(
                "SELECT count(*) FROM telemetry t JOIN series s ON s.id = t.series_id "
                "WHERE s.park_id = %s AND s.device_id = %s"
            )
            == 2
            and count("SELECT count(*) FROM ingest_rejection WHERE park_id = %s AND device_id = %s")
            == 1
            and count("SELECT count(*) FROM alarm WHERE park_id = %s AND device_id = %s AND active")
            == 1
        ),
        30,
        "the ingestor to store readings, the rejection and the alarm",
    )


def _sessions(database_url: str) -> set[str]:
    """Who is connected to the database right now."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT usename FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return {str(user) for (user,) in rows}


def _drained(database_url: str, sid: object) -> bool:
    with psycopg.connect(database_url) as conn:
        dirty = conn.execute("SELECT count(*) FROM telemetry_dirty WHERE series_id = %s", (sid,))
        hours = conn.execute("SELECT count(*) FROM rollup_hour WHERE series_id = %s", (sid,))
        raw = conn.execute("SELECT count(*) FROM telemetry WHERE series_id = %s", (sid,))
        return (dirty.fetchone(), hours.fetchone(), raw.fetchone()) == ((0,), (2,), (2,))


# -- L7: no SQL parameters in the logs ---------------------------------------------------------


def _leaky_insert(secret: str) -> tuple[str, dict[str, object]]:
    """An insert that fails (no such park) with a webhook secret among its parameters."""
    return (
        "INSERT INTO webhook (park_id, url, secret, event_types) "
        "VALUES (:park, 'https://example.com/', :secret, ARRAY['*'])",
        {"park": f"missing-{uuid.uuid4().hex[:6]}", "secret": secret},
    )


def test_a_failing_worker_job_logs_no_parameters(
    roles_db: str, logins: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "whsec_" + secrets.token_urlsafe(24)
    statement, params = _leaky_insert(secret)

    async def leaky(session: AsyncSession, _settings: Settings) -> int:
        await session.execute(text(statement), params)
        return 1

    async def main() -> int:
        engine = create_engine_for(logins["worker"], pool_size=1)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            return await run_job(maker, Job("leaky", leaky), Settings(database_url=roles_db))
        finally:
            await engine.dispose()

    with caplog.at_level(logging.ERROR, logger="app.worker.loop"):
        assert asyncio.run(main()) == 0
    assert "job leaky failed" in caplog.text and "ForeignKeyViolation" in caplog.text
    assert secret not in caplog.text
    assert "parameters hidden" in caplog.text


def test_an_unhandled_api_error_logs_no_parameters(
    services: ServiceEnv, roles_db: str, logins: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "whsec_" + secrets.token_urlsafe(24)
    statement, params = _leaky_insert(secret)
    app = create_app(services.settings(roles_db, api_database_url=logins["api"]))

    @app.post("/leaky")
    async def leaky(session: SessionDep) -> None:
        await session.execute(text(statement), params)

    with (
        caplog.at_level(logging.ERROR),
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        assert client.post("/leaky").status_code == 500
    assert "unhandled error" in caplog.text and "ForeignKeyViolation" in caplog.text
    assert secret not in caplog.text


LEAKY_JOB = """
import asyncio, os
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from app.core.config import Settings
from app.core.db import create_engine_for
from app.core.logging import configure_logging
from app.worker.loop import Job, run_job

STATEMENT = (
    "INSERT INTO webhook (park_id, url, secret, event_types) "
    "VALUES (:park, NULL, :secret, ARRAY['*'])"
)


async def leaky(session, settings):
    await session.execute(text(STATEMENT), {"park": os.environ["PARK"], "secret": os.environ["S"]})
    return 1


async def main():
    engine = create_engine_for(os.environ["URL"], pool_size=1)
    try:
        maker = async_sessionmaker(engine)
        return await run_job(maker, Job("leaky", leaky), Settings(database_url=os.environ["URL"]))
    finally:
        await engine.dispose()


configure_logging("INFO")
assert asyncio.run(main()) == 0
"""


def test_a_violated_constraint_logs_no_row_values(roles_db: str, logins: dict[str, str]) -> None:
    """PostgreSQL's detail of a NOT NULL or CHECK violation carries the whole row, here a
    webhook secret: the process's logging (as the CLI configures it) hides those values."""
    park = f"p-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(roles_db) as conn:
        conn.execute("INSERT INTO park (id, name) VALUES (%s, 'leaky')", (park,))
    secret = "whsec_" + secrets.token_urlsafe(24)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "URL": logins["worker"]}
    result = subprocess.run(
        [sys.executable, "-c", LEAKY_JOB],
        env={**env, "PARK": park, "S": secret},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "job leaky failed" in result.stderr and "NotNullViolation" in result.stderr
    assert "Failing row contains (values hidden)." in result.stderr
    assert secret not in result.stderr + result.stdout
