"""Statement and lock timeouts, TCP keepalives (review M9a; docs/security/database.md).

A lock held elsewhere fails the ingest writer's batch and the worker's job after the lock
timeout instead of hanging them; the batch is retried (nothing acknowledged, nothing lost) and
the job runs again, and both succeed once the lock is gone. Waits are bounded only to end a
failing test; nothing here asserts a speed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.broker.dynsec import DynsecClient
from app.core.config import Settings
from app.core.db import create_engine_for
from app.core.migrate import upgrade_to_head
from app.core.mqtt import MqttTarget
from app.core.statedir import DB_LOGINS, DB_OWNER
from app.embedded.services import EmbeddedServices
from app.telemetry.jobs import rollup
from app.worker.loop import Job, run_job
from tests.conftest import ServiceEnv
from tests.ingest_support import Ingestor, Publisher, add_park, scalar, wait_until


@pytest.fixture(scope="module")
def timeouts_db(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_timeouts")
    upgrade_to_head(url)
    yield url
    services.drop_database(url)


@pytest.fixture(scope="module")
def logins(embedded: EmbeddedServices, timeouts_db: str) -> dict[str, str]:
    name = urlsplit(timeouts_db).path.lstrip("/")
    return {p: embedded.postgres.role_url(login, name) for p, login in DB_LOGINS.items()}


def test_on_the_embedded_cluster_each_process_logs_in_as_its_own_role(
    embedded: EmbeddedServices,
) -> None:
    """Nothing set: the API, ingest and the worker resolve their own logins, migrate and the
    rest (seed, apikey) the schema owner."""
    settings = Settings(
        state_dir=embedded.settings.state_dir,
        embedded_pg_port=embedded.postgres.port,
        database_url=None,
        mqtt_url=None,
    )
    expected = {**DB_LOGINS, "migrate": DB_OWNER}
    for process, user in expected.items():
        url = settings.database_url_for(process)  # type: ignore[arg-type]
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (user,)
    assert urlsplit(settings.resolved_database_url()).username == DB_OWNER


def test_a_process_url_wins_over_the_shared_one() -> None:
    settings = Settings(
        database_url="postgresql://shared@db/parktwin",
        worker_database_url="postgresql://mine@db/parktwin?keepalives_idle=5",
    )
    worker = urlsplit(settings.database_url_for("worker"))
    assert worker.username == "mine" and "keepalives_idle=5&" in worker.query + "&"
    assert urlsplit(settings.database_url_for("ingest")).username == "shared"
    assert settings.database_url_for("migrate") == "postgresql://shared@db/parktwin"
    assert settings.for_process("worker").resolved_database_url().startswith("postgresql://mine@")


@pytest.mark.parametrize(
    ("process", "statement", "lock"), [("ingest", "30s", "5s"), ("worker", "2min", "10s")]
)
def test_each_process_connects_with_its_limits(
    services: ServiceEnv, timeouts_db: str, process: str, statement: str, lock: str
) -> None:
    url = services.settings(timeouts_db).database_url_for(process)  # type: ignore[arg-type]
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == (statement,)
        assert conn.execute("SHOW lock_timeout").fetchone() == (lock,)
        params = conn.info.get_parameters()
    assert params["keepalives"] == "1" and params["keepalives_idle"] == "30"
    assert params["keepalives_interval"] == "10" and params["keepalives_count"] == "3"
    assert params["tcp_user_timeout"] == "30000" and params["connect_timeout"] == "10"


def test_the_api_engine_keeps_its_session_settings_and_gets_the_limits(
    services: ServiceEnv, timeouts_db: str
) -> None:
    url = services.settings(timeouts_db).database_url_for("api")

    async def show() -> list[object]:
        engine = create_engine_for(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                names = ("statement_timeout", "lock_timeout", "timezone", "jit")
                return [(await conn.execute(text(f"SHOW {n}"))).scalar_one() for n in names]
        finally:
            await engine.dispose()

    assert asyncio.run(show()) == ["30s", "10s", "UTC", "off"]


def test_a_held_lock_makes_the_ingest_batch_retry_until_it_is_released(
    services: ServiceEnv, timeouts_db: str, logins: dict[str, str]
) -> None:
    park, device = f"park-{uuid.uuid4().hex[:6]}", "meter"
    add_park(timeouts_db, park, {device: "electricity_meter"})
    target = MqttTarget.from_url(services.mqtt_url)
    dynsec = DynsecClient(target)
    dynsec.connect()
    publisher = Publisher(target, dynsec, park, device)
    ingestor = Ingestor(timeouts_db, services.mqtt_url)
    ingestor.env |= {
        "PARKTWIN_INGEST_DATABASE_URL": logins["ingest"],
        "PARKTWIN_INGEST_LOCK_TIMEOUT": "PT1S",
    }
    stored = (
        "SELECT count(*) FROM telemetry t JOIN series s ON s.id = t.series_id "
        "WHERE s.park_id = %s AND s.device_id = %s"
    )
    try:
        ingestor.start().wait_subscribed(target, publisher, timeouts_db)
        with psycopg.connect(timeouts_db) as holder:
            holder.execute("LOCK TABLE latest_value IN ACCESS EXCLUSIVE MODE")
            publisher.send({"values": {"power_kw": 7.5}})
            wait_until(lambda: "lock timeout" in ingestor.output(), 60, "a lock timeout")
            assert scalar(timeouts_db, stored, park, device) == 0
            holder.rollback()
        wait_until(lambda: scalar(timeouts_db, stored, park, device) == 1, 60, "the retry")
        assert "retrying" in ingestor.output()
        assert "storage_error" not in ingestor.output()
        assert (
            scalar(timeouts_db, "SELECT count(*) FROM ingest_rejection WHERE park_id = %s", park)
            == 0
        )
    finally:
        ingestor.stop()
        publisher.close()
        dynsec.close()


def test_a_held_lock_fails_the_worker_job_which_succeeds_once_it_is_released(
    services: ServiceEnv, timeouts_db: str, logins: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    park = f"park-{uuid.uuid4().hex[:6]}"
    add_park(timeouts_db, park, {"meter": "electricity_meter"})
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    with psycopg.connect(timeouts_db) as conn:
        sid = conn.execute(
            "INSERT INTO series (park_id, device_id, metric) VALUES (%s, 'meter', 'power_kw') "
            "RETURNING id",
            (park,),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO telemetry VALUES (%s, %s, 1.0)", (hour, sid))
        conn.execute("INSERT INTO telemetry_dirty (series_id, bucket) VALUES (%s, %s)", (sid, hour))
    settings = services.settings(
        timeouts_db,
        worker_database_url=logins["worker"],
        worker_lock_timeout=timedelta(seconds=1),
    ).for_process("worker")

    async def two_runs(holder: psycopg.Connection[tuple[object, ...]]) -> tuple[int, int]:
        engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            job = Job("rollup", rollup)
            blocked = await run_job(maker, job, settings)
            holder.rollback()
            return blocked, await run_job(maker, job, settings)
        finally:
            await engine.dispose()

    with psycopg.connect(timeouts_db) as holder, caplog.at_level(logging.ERROR):
        holder.execute("LOCK TABLE rollup_hour IN ACCESS EXCLUSIVE MODE")
        assert asyncio.run(two_runs(holder)) == (0, 1)
    assert "job rollup failed" in caplog.text and "lock timeout" in caplog.text
    hours = "SELECT count(*) FROM rollup_hour WHERE series_id = %s"
    assert scalar(timeouts_db, hours, sid) == 1
    assert (
        scalar(timeouts_db, "SELECT count(*) FROM telemetry_dirty WHERE series_id = %s", sid) == 0
    )
