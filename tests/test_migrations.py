"""Migrations: idempotent, TimescaleDB required, telemetry is a hypertable with a unique key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest

from app.core.db import TimescaleMissing, check_timescaledb, create_engine_for
from app.core.migrate import current_revision, upgrade_to_head
from tests.conftest import ServiceEnv


@pytest.fixture
def fresh_url(services: ServiceEnv):
    url = services.create_database("parktwin_fresh")
    yield url
    services.drop_database(url)


def test_second_migrate_is_a_no_op(fresh_url: str) -> None:
    before, after = upgrade_to_head(fresh_url)
    assert before is None and after is not None
    again_before, again_after = upgrade_to_head(fresh_url)
    assert again_before == again_after == after
    assert current_revision(fresh_url) == after


def test_telemetry_is_a_hypertable_with_daily_chunks(db: psycopg.Connection) -> None:
    row = db.execute(
        "SELECT d.time_interval FROM timescaledb_information.dimensions d "
        "WHERE d.hypertable_name = 'telemetry' AND d.column_name = 'time'"
    ).fetchone()
    assert row is not None, "telemetry is not a hypertable"
    assert row[0].days == 1
    ext = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    assert ext is not None


def test_same_series_and_time_is_stored_once(db: psycopg.Connection) -> None:
    db.execute("INSERT INTO park (id, name) VALUES ('p1', 'Park 1')")
    db.execute(
        "INSERT INTO device (park_id, id, type, name) "
        "VALUES ('p1', 'm1', 'electricity_meter', 'M1')"
    )
    (series_id,) = db.execute(
        "INSERT INTO series (park_id, device_id, metric) "
        "VALUES ('p1', 'm1', 'energy_kwh') RETURNING id"
    ).fetchone()
    ts = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    insert = (
        "INSERT INTO telemetry (time, series_id, value) VALUES (%s, %s, %s) "
        "ON CONFLICT (series_id, time) DO NOTHING"
    )
    db.execute(insert, (ts, series_id, 1.0))
    db.execute(insert, (ts, series_id, 2.0))
    rows = db.execute("SELECT value FROM telemetry WHERE series_id = %s", (series_id,)).fetchall()
    assert rows == [(1.0,)], "the first value must win"


def test_catalogue_is_seeded(db: psycopg.Connection) -> None:
    rows = dict(
        db.execute(
            "SELECT m.device_type || '.' || m.name, m.kind FROM device_type_metric m "
            "JOIN device_type t ON t.type = m.device_type WHERE t.builtin"
        ).fetchall()
    )  # the built-in catalogue only: other tests add their parks' own types
    assert rows["gas_detector.gas_lel_pct"] == "gauge"
    assert rows["electricity_meter.energy_kwh"] == "counter"
    assert rows["smoke_detector.smoke"] == "state"
    assert rows["oxygen_detector.oxygen_pct_vol"] == "gauge"
    assert rows["toxic_gas_detector.concentration_ppm"] == "gauge"
    assert rows["gas_detector.fault"] == "state"
    # the contract's 16, then oxygen_pct_vol, concentration_ppm and four detectors' fault
    assert len(rows) == 16 + 1 + 1 + 4


def test_startup_refuses_a_database_without_timescaledb(services: ServiceEnv) -> None:
    url = services.create_database("parktwin_plain")
    try:
        engine = create_engine_for(url, pool_size=1)

        async def check() -> None:
            try:
                await check_timescaledb(engine)
            finally:
                await engine.dispose()

        with pytest.raises(TimescaleMissing, match="no timescaledb extension"):
            asyncio.run(check())
    finally:
        services.drop_database(url)
