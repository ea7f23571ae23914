"""Migrations: idempotent, TimescaleDB required, telemetry is a hypertable with a unique key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from alembic import command

from app.core.db import TimescaleMissing, check_timescaledb, create_engine_for
from app.core.migrate import alembic_config, current_revision, upgrade_to_head
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


IDENT_CHECKS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated
FROM pg_constraint WHERE contype = 'c' AND pg_get_constraintdef(oid) LIKE '%A-Za-z0-9_.-%'
ORDER BY 1, 2
"""


def test_identifier_checks_have_no_bounded_repetition(db: psycopg.Connection) -> None:
    """0034: every identifier check is the cheap form, validated, none of the regex ones left."""
    checks = db.execute(IDENT_CHECKS).fetchall()
    assert {(t, n) for t, n, _d, _v in checks} >= {
        ("device", "device_id_check"), ("park", "park_id_check"),
        ("device_type_metric", "device_type_metric_name_check"),
        ("alarm_rule", "alarm_rule_gas_check"),
    }  # fmt: skip
    for _table, _name, definition, validated in checks:
        assert "{1," not in definition and "length(" in definition and validated, definition


@pytest.mark.parametrize(
    ("device_id", "allowed"),
    [
        ("b04-gd0230", True),
        ("A.b_c-9", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("a b", False),
        ("a/b", False),
        ("设备1", False),
        ("a\nb", False),
        ("ab\n", False),  # no newline at the end either (the old `$` did not allow it)
    ],
)
def test_device_id_check_allows_what_it_allowed(
    db: psycopg.Connection, device_id: str, allowed: bool
) -> None:
    db.execute("INSERT INTO park (id, name) VALUES ('mig-ident', 'p') ON CONFLICT DO NOTHING")
    insert = (
        "INSERT INTO device (park_id, id, type, name) "
        "VALUES ('mig-ident', %s, 'smoke_detector', 'd')"
    )
    old_rule = db.execute("SELECT %s ~ '^[A-Za-z0-9_.-]{1,64}$'", (device_id,)).fetchone()
    assert old_rule == (allowed,)  # the cases are the old check's own answers
    if allowed:
        db.execute(insert, (device_id,))
    else:
        with pytest.raises(psycopg.errors.CheckViolation), db.transaction():
            db.execute(insert, (device_id,))


def test_identifier_checks_downgrade_to_the_regex_and_back(fresh_url: str) -> None:
    upgrade_to_head(fresh_url)
    with psycopg.connect(fresh_url) as conn:
        head = conn.execute(IDENT_CHECKS).fetchall()
    command.downgrade(alembic_config(fresh_url), "0033")
    with psycopg.connect(fresh_url) as conn:
        old = conn.execute(IDENT_CHECKS).fetchall()
    assert [(t, n) for t, n, _d, _v in old] == [(t, n) for t, n, _d, _v in head]
    assert all("{1," in d and "length(" not in d for _t, _n, d, _v in old)
    upgrade_to_head(fresh_url)
    with psycopg.connect(fresh_url) as conn:
        assert conn.execute(IDENT_CHECKS).fetchall() == head


def test_events_fanned_out_before_0035_count_as_routed(fresh_url: str) -> None:
    """Migration 0035: the old worker routed an event in its fan-out's transaction, so an event
    fanned out then was routed (at the migration's time, without rewriting the table); one not
    fanned out yet is routed after its fan-out, and so is every event inserted later."""
    upgrade_to_head(fresh_url)
    command.downgrade(alembic_config(fresh_url), "0034")
    with psycopg.connect(fresh_url) as conn:
        conn.execute("INSERT INTO park (id, name, timezone) VALUES ('p1', 'p', 'Asia/Shanghai')")
        conn.execute(
            "INSERT INTO event_outbox (park_id, type, data, fanned_out_at) VALUES"
            " ('p1', 'alarm.raised', '{}', '2026-12-05T08:00:00Z'),"
            " ('p1', 'alarm.cleared', '{}', NULL)"
        )
        before = conn.execute(
            "SELECT now(), xmin::text FROM event_outbox WHERE type = 'alarm.raised'"
        ).fetchone()
        assert before is not None
    upgrade_to_head(fresh_url)
    with psycopg.connect(fresh_url) as conn:
        conn.execute(
            "INSERT INTO event_outbox (park_id, type, data) VALUES ('p1', 'device.offline', '{}')"
        )
        rows = conn.execute(
            "SELECT type, routed_at > %s, xmin::text FROM event_outbox ORDER BY type", (before[0],)
        ).fetchall()
    assert [(t, later) for t, later, _x in rows] == [
        ("alarm.cleared", None),
        ("alarm.raised", True),
        ("device.offline", None),
    ]
    assert rows[1][2] == before[1]  # the fanned-out event's row was not written again


def test_daily_rollups_before_0036_are_rolled_up_into_months(fresh_url: str) -> None:
    """Migration 0036 makes each month's row from the daily rows already there, by the rule a
    day is made from its hours. Shanghai days (UTC+8): 1 Feb: 100 → 160 (increase 60),
    2 Feb: 150 → 170 after a restart from zero (increase 20), 1 Mar: 180 → 190 (10). February:
    its first day's increase, the step from 1 Feb's last to 2 Feb's first (150 − 160 is a drop:
    the restart counts 150 in full) and 2 Feb's: 60 + 150 + 20 = 230."""
    upgrade_to_head(fresh_url)
    command.downgrade(alembic_config(fresh_url), "0035")
    with psycopg.connect(fresh_url) as conn:
        conn.execute("INSERT INTO park (id, name, timezone) VALUES ('p1', 'p', 'Asia/Shanghai')")
        conn.execute(
            "INSERT INTO device (park_id, id, type, name) "
            "VALUES ('p1', 'm1', 'electricity_meter', 'M1')"
        )
        row = conn.execute(
            "INSERT INTO series (park_id, device_id, metric) "
            "VALUES ('p1', 'm1', 'energy_kwh') RETURNING id"
        ).fetchone()
        assert row is not None
        days = [  # (local midnight as UTC, count, sum, min, max, first, last, increase)
            ("2026-01-31T16:00Z", 2, 260, 100, 160, 100, 160, 60),
            ("2026-02-01T16:00Z", 2, 320, 150, 170, 150, 170, 20),
            ("2026-02-28T16:00Z", 2, 370, 180, 190, 180, 190, 10),
        ]
        for bucket, count, total, low, high, first, last, increase in days:
            conn.execute(
                "INSERT INTO rollup_day (series_id, bucket, count, sum, min, max, first_time, "
                "first_value, last_time, last_value, increase) VALUES (%s, %s, %s, %s, %s, %s, "
                "%s::timestamptz + interval '1 hour', %s, "
                "%s::timestamptz + interval '20 hours', %s, %s)",
                (row[0], bucket, count, total, low, high, bucket, first, bucket, last, increase),
            )
    upgrade_to_head(fresh_url)
    with psycopg.connect(fresh_url) as conn:
        months = conn.execute(
            "SELECT bucket AT TIME ZONE 'Asia/Shanghai', count, sum, min, max, first_value, "
            "last_value, increase FROM rollup_month WHERE series_id = %s ORDER BY bucket",
            (row[0],),
        ).fetchall()
        dropped = conn.execute(
            "SELECT parktwin_drop_expired('rollup_month', interval '100 years')"
        ).fetchone()
    assert months == [
        (datetime(2026, 2, 1), 4, 580, 100, 170, 100, 170, 230),
        (datetime(2026, 3, 1), 2, 370, 180, 190, 180, 190, 10),
    ]
    assert dropped == (0,)  # retention may drop its chunks
