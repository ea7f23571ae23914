"""The benchmark's data set: park ``bench`` with 1,000 electricity meters and 30 days of
one-minute ``energy_kwh`` readings each (43.2 M rows), every meter's latest ``power_kw`` and
``energy_kwh``, and the hourly and daily rollups, built with the worker's own SQL.

Loaded once into the database ``parktwin_bench`` and reused by later runs (the loader checks
what is there). Rows are made server-side with ``generate_series``, one day per statement,
two days at a time (the machine has two cores).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

from app.telemetry.sql import ROLLUP_COLUMNS, STEP
from bench.common import run_bulk, run_bulk_parallel

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

AGGREGATES = f"""
SELECT series_id, bucket, count(*)::int, sum(value), min(value), max(value), min(time),
       first(value, time), max(time), last(value, time),
       sum({STEP.format(before="before", value="value")})
FROM (
    SELECT series_id, {{bucket}} AS bucket, time, value,
           lag(value) OVER (PARTITION BY series_id, {{bucket}} ORDER BY time) AS before
    FROM telemetry
    WHERE time >= %(lo)s AND time < %(hi)s
      AND series_id IN (SELECT id FROM series WHERE park_id = 'bench' AND metric = 'energy_kwh')
) readings
GROUP BY series_id, bucket
"""
"""The rollup rows of the worker (app/telemetry/sql.py RAW_ROLLUP), as one GROUP BY over a
range: the same aggregates, computed in bulk (the worker's keyed form is made for small
batches). The bench checks at the end that rollups and raw readings still agree."""

HOUR_ROLLUPS = f"INSERT INTO rollup_hour ({ROLLUP_COLUMNS}) " + AGGREGATES.format(
    bucket="time_bucket('1 hour', time)"
)
DAY_ROLLUPS = f"""
INSERT INTO rollup_day ({ROLLUP_COLUMNS})
SELECT series_id, day, sum(count)::int, sum(sum), min(min), max(max), min(first_time),
       first(first_value, first_time), max(last_time), last(last_value, last_time),
       sum(increase + {STEP.format(before="before", value="first_value")})
FROM (
    SELECT h.*, time_bucket('1 day', bucket, 'Asia/Shanghai') AS day,
           lag(last_value) OVER (PARTITION BY series_id, time_bucket('1 day', bucket,
               'Asia/Shanghai') ORDER BY bucket) AS before
    FROM rollup_hour h
    WHERE series_id IN (SELECT id FROM series WHERE park_id = 'bench' AND metric = 'energy_kwh')
) hours
GROUP BY series_id, day
"""
"""Daily rollups composed from the hourly ones (Asia/Shanghai days are 24 whole UTC hours)."""


def _meta(conn: psycopg.Connection[tuple[object, ...]], key: str) -> str | None:
    if conn.execute("SELECT to_regclass('bench_meta')").fetchone() == (None,):
        return None
    row = conn.execute("SELECT value FROM bench_meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def loaded(url: str) -> datetime | None:
    """The end of the data when the whole data set is there, else None."""
    with psycopg.connect(url) as conn:
        end, done = _meta(conn, "end"), _meta(conn, "complete")
    return datetime.fromisoformat(end) if end and done else None


def _registry(conn: psycopg.Connection[tuple[object, ...]], end: datetime) -> None:
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
    conn.execute(
        "TRUNCATE telemetry, rollup_hour, rollup_day, rollup_month, latest_value, telemetry_dirty"
    )
    conn.execute("DROP TABLE IF EXISTS bench_meta")
    conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text)")
    conn.execute("INSERT INTO bench_meta VALUES ('end', %s)", (end.isoformat(),))


def _missing_days(url: str, days: list[datetime]) -> list[datetime]:
    """Days whose readings are not there yet (a day is one statement: all or nothing)."""
    with psycopg.connect(url) as conn:
        sid = conn.execute(
            "SELECT min(id) FROM series WHERE park_id = 'bench' AND metric = 'energy_kwh'"
        ).fetchone()
        return [
            d
            for d in days
            if not conn.execute(
                "SELECT 1 FROM telemetry WHERE series_id = %s AND time >= %s AND time < %s LIMIT 1",
                (sid[0] if sid else None, d, d + timedelta(days=1)),
            ).fetchone()
        ]


def load(url: str, log: object = print) -> datetime:
    """Load (or finish loading) the data set; return the end of the data."""
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        stored = _meta(conn, "end")
        if stored is None:
            end = datetime.now(UTC).replace(second=0, microsecond=0, minute=0)
            _registry(conn, end)
        else:
            end = datetime.fromisoformat(stored)
    start = end - timedelta(days=DAYS)
    days = [start + timedelta(days=i) for i in range(DAYS)]
    reset = start + timedelta(days=10)
    todo = _missing_days(url, days)
    run_bulk_parallel(url, READINGS, [{"day": d, "start": start, "reset": reset} for d in todo])
    log(f"  readings ({len(todo)} days): {time.monotonic() - started:.0f} s")  # type: ignore[operator]
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE rollup_hour, rollup_day, rollup_month")
    run_bulk_parallel(url, HOUR_ROLLUPS, [{"lo": d, "hi": d + timedelta(days=1)} for d in days])
    run_bulk(url, DAY_ROLLUPS, {})
    log(f"  rollups: {time.monotonic() - started:.0f} s")  # type: ignore[operator]
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE latest_value, telemetry_dirty")
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
        conn.execute("INSERT INTO bench_meta VALUES ('complete', 'yes')")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"  loaded in {time.monotonic() - started:.0f} s")  # type: ignore[operator]
    return end
