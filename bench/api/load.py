"""The benchmark's data set: park ``bench`` with 1,000 electricity meters and 30 days of
one-minute ``energy_kwh`` readings each (43.2 M rows), every meter's latest ``power_kw`` and
``energy_kwh``, and the hourly and daily rollups, built with the worker's own SQL.

Loaded once into the database ``parktwin_bench`` and reused by later runs (the loader checks
what is there). Rows are made server-side with ``generate_series``, one day per statement,
two days at a time (the machine has two cores).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg

from app.telemetry.intervals import INTERVALS, bucket_floor
from app.telemetry.sql import DAY_END, RAW_ROLLUP, ROLLUP_COLUMNS

PARK = "bench"
DEVICES = 1000
DAYS = 30

# A meter per device: a steady load with a daily swing, a reset on the 10th day for one in 50.
READINGS = """
INSERT INTO telemetry (time, series_id, value)
SELECT t, s.id,
       CASE WHEN s.n %% 50 = 0 AND t >= %(reset)s THEN 0 ELSE 1000 * s.n END
       + extract(epoch FROM t - CASE WHEN s.n %% 50 = 0 AND t >= %(reset)s THEN %(reset)s
                                     ELSE %(start)s END) / 60 * (0.1 + (s.n %% 7) * 0.05)
FROM generate_series(%(day)s::timestamptz,
                     %(day)s::timestamptz + interval '1 day' - interval '1 minute',
                     interval '1 minute') t
CROSS JOIN (SELECT id, substr(device_id, 2)::int AS n FROM series
            WHERE park_id = 'bench' AND metric = 'energy_kwh') s
"""

HOUR_ROLLUPS = f"""
INSERT INTO rollup_hour ({ROLLUP_COLUMNS})
WITH hours AS (
    SELECT s.id AS series_id, h AS bucket, h + interval '1 hour' AS bucket_end
    FROM series s CROSS JOIN generate_series(%(day)s::timestamptz,
        %(day)s::timestamptz + interval '23 hours', interval '1 hour') h
    WHERE s.park_id = 'bench' AND s.metric = 'energy_kwh'
)
SELECT {ROLLUP_COLUMNS} FROM ({RAW_ROLLUP.format(keys="hours")}) fresh
"""

DAY_ROLLUPS = f"""
INSERT INTO rollup_day ({ROLLUP_COLUMNS})
WITH days AS (
    SELECT s.id AS series_id, d AS bucket,
           {DAY_END.format(b="d", tz="'Asia/Shanghai'")} AS bucket_end
    FROM series s CROSS JOIN generate_series(%(first)s::timestamptz, %(last)s::timestamptz,
        interval '1 day') d
    WHERE s.park_id = 'bench' AND s.metric = 'energy_kwh'
)
SELECT {ROLLUP_COLUMNS} FROM ({RAW_ROLLUP.format(keys="days")}) fresh
"""
"""Daily rollups for the local (Asia/Shanghai: no DST) days ``first`` .. ``last``."""


def loaded(url: str) -> datetime | None:
    """The end of the loaded data, or None when the data set is not (completely) there."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM device WHERE park_id = 'bench'), "
            "(SELECT value FROM bench_meta WHERE key = 'end') "
            "FROM (SELECT to_regclass('bench_meta') IS NOT NULL AS ok) m WHERE m.ok"
        ).fetchone()
    if row is None or row[0] != DEVICES or row[1] is None:
        return None
    return datetime.fromisoformat(row[1])


def _registry(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute("DELETE FROM park WHERE id = 'bench'")
    conn.execute("INSERT INTO park (id, name, timezone) VALUES ('bench', 'bench', 'Asia/Shanghai')")
    conn.execute(
        "INSERT INTO device (park_id, id, type, name, building_id) "
        "SELECT 'bench', 'm' || n, 'electricity_meter', 'meter ' || n, 'b' || (n %% 20) "
        "FROM generate_series(1, %s) n",
        (DEVICES,),
    )
    conn.execute(
        "INSERT INTO series (park_id, device_id, metric) SELECT 'bench', d.id, m.name "
        "FROM device d JOIN device_type_metric m ON m.device_type = d.type "
        "WHERE d.park_id = 'bench' ORDER BY d.id, m.name"
    )


def _day(url: str, statement: str, params: dict[str, object]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(statement, params)


def load(url: str, log: object = print) -> datetime:
    """Load the data set; return the end of the data (the last minute + 1)."""
    end = datetime.now(UTC).replace(second=0, microsecond=0, minute=0) + timedelta(hours=1)
    start = end - timedelta(days=DAYS)
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_meta")
        _registry(conn)
        conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text)")
    days = [start + timedelta(days=i) for i in range(DAYS)]
    reset = start + timedelta(days=10)
    with ThreadPoolExecutor(2) as pool:
        list(
            pool.map(
                lambda d: _day(url, READINGS, {"day": d, "start": start, "reset": reset}), days
            )
        )
    log(f"  readings: {time.monotonic() - started:.0f} s")  # type: ignore[operator]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda d: _day(url, HOUR_ROLLUPS, {"day": d}), days))
    first = bucket_floor(start, INTERVALS["1d"], "Asia/Shanghai")
    local_days = [first + timedelta(days=i) for i in range((end - first).days + 1)]
    weeks = [(w[0], w[-1]) for w in (local_days[i : i + 8] for i in range(0, len(local_days), 8))]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda w: _day(url, DAY_ROLLUPS, {"first": w[0], "last": w[1]}), weeks))
    log(f"  rollups: {time.monotonic() - started:.0f} s")  # type: ignore[operator]
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO latest_value (series_id, time, value) "
            "SELECT DISTINCT ON (series_id) series_id, time, value FROM telemetry "
            "WHERE time >= %s ORDER BY series_id, time DESC",
            (end - timedelta(minutes=1),),
        )
        conn.execute(
            "INSERT INTO latest_value (series_id, time, value) SELECT id, %s, 10 + id %% 40 "
            "FROM series WHERE park_id = 'bench' AND metric = 'power_kw'",
            (end - timedelta(minutes=1),),
        )
        conn.execute("DELETE FROM telemetry_dirty")
        conn.execute("ANALYZE")
        conn.execute("INSERT INTO bench_meta VALUES ('end', %s)", (end.isoformat(),))
    log(f"  loaded in {time.monotonic() - started:.0f} s")  # type: ignore[operator]
    return end
