"""A park of N devices written straight into PostgreSQL with ``generate_series`` (no broker
accounts, no API): the data set of ``python -m bench.scale_reads``, and a fixture any other
bench may call (``seed(url, park_id, devices)``).

Layout for N devices (N a multiple of 100): N/100 buildings of 100 devices each, ten buildings
per parcel on a square grid of 0.01° parcels (about 1 km), four 500 m² spaces per building,
one enterprise per two buildings leasing the first two spaces of each; every device located
inside its building's footprint and in one of its spaces. Device types in a fixed mix (40 %
electricity meters, 10 % water meters, 15 % gas detectors, 20 % temperature sensors, 10 %
smoke detectors, 5 % equipment monitors); 3 % offline, 2 % never heard from (unknown), the
rest online; 0.5 % with an open alarm (the alarm summary and the twin's worst-of), 2 % with a
closed one. Every series has a latest value; ``readings_minutes`` minutes of readings every
15 s for every series end now, their hours rolled up by the worker's own statements (hourly
rows and the days they touch); counter series get ``rollup_days`` days of daily rollups, and
their months the monthly rows the worker makes from them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import create_engine_for
from app.telemetry.rollup_repository import recompute, recompute_months
from bench.common import run_bulk

ORIGIN_LON, ORIGIN_LAT, CELL = 120.6, 31.2, 0.01
ROLLUP_BATCH = 20_000  # (series, hour) pairs recomputed per transaction
DEVICES_PER_BUILDING = 100
BUILDINGS_PER_PARCEL = 10
SPACES_PER_BUILDING = 4

# n % 20 -> type: 8 electricity meters, 2 water meters, 3 gas detectors, 4 temperature sensors,
# 2 smoke detectors, 1 equipment monitor.
TYPE_OF_N = (
    "(ARRAY['electricity_meter','electricity_meter','electricity_meter','electricity_meter',"
    "'electricity_meter','electricity_meter','electricity_meter','electricity_meter',"
    "'water_meter','water_meter','gas_detector','gas_detector','gas_detector',"
    "'temperature_sensor','temperature_sensor','temperature_sensor','temperature_sensor',"
    "'smoke_detector','smoke_detector','equipment_monitor'])[n %% 20 + 1]"
)


def _square(lon: str, lat: str, w: str, h: str) -> str:
    """SQL for a GeoJSON Polygon text: the rectangle at (lon, lat) of w x h degrees."""
    return (
        "json_build_object('type', 'Polygon', 'coordinates', json_build_array(json_build_array("
        f"json_build_array({lon}, {lat}), json_build_array({lon} + {w}, {lat}), "
        f"json_build_array({lon} + {w}, {lat} + {h}), json_build_array({lon}, {lat} + {h}), "
        f"json_build_array({lon}, {lat}))))::jsonb"
    )


# Parcel p at grid cell (p % cols, p / cols); building b = parcel b/10, slot b%10 in a 5 x 2
# arrangement of 0.0015° x 0.003° footprints.
PARCELS = (
    "INSERT INTO parcel (park_id, id, name, land_use, geometry, area_m2) "
    "SELECT %(park)s, 'p' || p, 'parcel ' || p, 'M1', "
    + _square(
        "%(lon)s + (p %% %(cols)s) * %(cell)s",
        "%(lat)s + (p / %(cols)s) * %(cell)s",
        "0.01",
        "0.01",
    )
    + ", 1.0e6 FROM generate_series(0, %(parcels)s - 1) p"
)
BUILDING_LON = "%(lon)s + (b / 10 %% %(cols)s) * %(cell)s + 0.0005 + (b %% 5) * 0.0019"
BUILDING_LAT = "%(lat)s + (b / 10 / %(cols)s) * %(cell)s + 0.001 + (b %% 10 / 5) * 0.0045"
BUILDINGS = (
    "INSERT INTO building (park_id, id, name, parcel_id, footprint, floors, area_m2) "
    "SELECT %(park)s, 'b' || b, 'building ' || b, 'p' || (b / 10), "
    + _square(BUILDING_LON, BUILDING_LAT, "0.0015", "0.003")
    + ", 4, 47000 FROM generate_series(0, %(buildings)s - 1) b"
)
SPACES = (
    "INSERT INTO space (park_id, id, building_id, floor, name, area_m2, status) "
    "SELECT %(park)s, 'b' || b || '-s' || s, 'b' || b, s + 1, (s + 1) || '01', 500, "
    "CASE WHEN s < 2 AND b %% 2 = 0 THEN 'leased' ELSE 'available' END "
    "FROM generate_series(0, %(buildings)s - 1) b, generate_series(0, 3) s"
)
ENTERPRISES = (
    "INSERT INTO enterprise (park_id, id, name, credit_code, industry_code) "
    "SELECT %(park)s, 'e' || e, 'enterprise ' || e, '91320594' || lpad(e::text, 9, '0') || 'X', "
    "'C' || (13 + e %% 20) FROM generate_series(0, %(buildings)s / 2 - 1) e"
)
LEASES = (
    "INSERT INTO lease (park_id, id, enterprise_id, space_id, area_m2, start_date, end_date) "
    "SELECT %(park)s, 'l' || e || '-' || s, 'e' || e, 'b' || (2 * e) || '-s' || s, 500, "
    "current_date - 365, current_date + 3650 "
    "FROM generate_series(0, %(buildings)s / 2 - 1) e, generate_series(0, 1) s"
)
DEVICES = (
    "INSERT INTO device (park_id, id, type, name, lon, lat, building_id, space_id, "
    "enterprise_id, status, last_seen_at, status_changed_at) "
    "SELECT %(park)s, 'd' || lpad(n::text, 6, '0'), "
    + TYPE_OF_N
    + ", 'device ' || n, "
    + BUILDING_LON.replace("b / 10", "(n / 100) / 10").replace("b %%", "(n / 100) %%")
    + " + (n %% 10) * 0.00015, "
    + BUILDING_LAT.replace("b / 10", "(n / 100) / 10").replace("b %%", "(n / 100) %%")
    + " + (n %% 100 / 10) * 0.0003, "
    "'b' || (n / 100), 'b' || (n / 100) || '-s' || (n %% 4), "
    "CASE WHEN (n / 100) %% 2 = 0 THEN 'e' || (n / 200) END, "
    "CASE WHEN n %% 33 = 0 THEN 'offline' WHEN n %% 50 = 1 THEN 'unknown' ELSE 'online' END, "
    "CASE WHEN n %% 50 = 1 THEN NULL WHEN n %% 33 = 0 THEN now() - interval '2 hours' "
    "ELSE now() - (n %% 15) * interval '1 second' END, now() "
    "FROM generate_series(0, %(devices)s - 1) n"
)
SERIES = (
    "INSERT INTO series (park_id, device_id, metric) SELECT d.park_id, d.id, m.name "
    "FROM device d JOIN device_type_metric m ON m.device_type = d.type "
    "WHERE d.park_id = %(park)s ORDER BY d.id, m.name"
)
LATEST = (
    "INSERT INTO latest_value (series_id, time, value) "
    "SELECT s.id, now() - (s.id %% 15) * interval '1 second', (s.id %% 97) / 3.0 "
    "FROM series s WHERE s.park_id = %(park)s"
)
ALARMS = (
    "INSERT INTO alarm (id, park_id, device_id, metric, type, severity, active, raised_at, "
    "closed_at, cleared_at, value, peak_value, threshold) "
    "SELECT gen_random_uuid(), %(park)s, d.id, 'temperature_c', 'high', "
    "(ARRAY['critical','major','minor','warning'])[n / 40 %% 4 + 1], n / 40 %% 5 = 0, "
    "now() - (n %% 1000) * interval '1 minute', "
    "CASE WHEN n / 40 %% 5 <> 0 THEN now() - interval '1 minute' END, "
    "CASE WHEN n / 40 %% 5 <> 0 THEN now() - interval '2 minutes' END, 60, 61, 55 "
    "FROM (SELECT id, substr(id, 2)::int AS n FROM device WHERE park_id = %(park)s) d "
    "WHERE n %% 40 = 7"
)
# One reading every 15 s of the last ``minutes`` minutes for every series of the park.
READINGS = (
    "INSERT INTO telemetry (time, series_id, value) "
    "SELECT t, s.id, (s.id %% 97) + extract(epoch FROM t - %(start)s) / 60 "
    "FROM series s, generate_series(%(start)s::timestamptz, %(end)s::timestamptz "
    "- interval '15 seconds', interval '15 seconds') t "
    "WHERE s.park_id = %(park)s AND s.id %% 2 = %(half)s"
)
DAILY = (
    "INSERT INTO rollup_day (series_id, bucket, count, sum, min, max, first_time, first_value, "
    "last_time, last_value, increase) "
    "SELECT s.id, day, 96, 96 * (s.id %% 50), 0, 100, day, 0, day + interval '23 hours', 1, "
    "10 + s.id %% 50 "
    "FROM series s JOIN device_type_metric m ON m.name = s.metric "
    "JOIN device d ON d.park_id = s.park_id AND d.id = s.device_id AND d.type = m.device_type, "
    "generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') day "
    "WHERE s.park_id = %(park)s AND m.kind = 'counter'"
)
STEPS = (
    ("parcels", PARCELS),
    ("buildings", BUILDINGS),
    ("spaces", SPACES),
    ("enterprises", ENTERPRISES),
    ("leases", LEASES),
    ("devices", DEVICES),
    ("series", SERIES),
    ("latest values", LATEST),
    ("alarms", ALARMS),
)


def seed(
    url: str,
    park: str,
    devices: int,
    *,
    readings_minutes: int = 20,
    rollup_days: int = 31,
    log: Callable[[str], None] = print,
) -> dict[str, float]:
    """(Re)create park ``park`` with ``devices`` devices; seconds per step."""
    buildings = max(devices // DEVICES_PER_BUILDING, 2)
    parcels = -(-buildings // BUILDINGS_PER_PARCEL)
    cols = max(1, round(parcels**0.5))
    rows = -(-parcels // cols)
    p = {
        "park": park,
        "devices": devices,
        "buildings": buildings,
        "parcels": parcels,
        "cols": cols,
        "cell": CELL,
        "lon": ORIGIN_LON,
        "lat": ORIGIN_LAT,
    }
    boundary = (
        '{"type": "Polygon", "coordinates": [['
        f"[{ORIGIN_LON}, {ORIGIN_LAT}], [{ORIGIN_LON + cols * CELL}, {ORIGIN_LAT}], "
        f"[{ORIGIN_LON + cols * CELL}, {ORIGIN_LAT + rows * CELL}], "
        f"[{ORIGIN_LON}, {ORIGIN_LAT + rows * CELL}], [{ORIGIN_LON}, {ORIGIN_LAT}]]]}}"
    )
    timings: dict[str, float] = {}
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("DELETE FROM park WHERE id = %s", (park,))
        conn.execute(
            "INSERT INTO park (id, name, timezone, boundary) VALUES (%s, %s, 'Asia/Shanghai', %s)",
            (park, f"scale {devices}", boundary),
        )
        for name, sql in STEPS:
            step = time.perf_counter()
            conn.execute(sql, p)  # type: ignore[arg-type]
            timings[name] = time.perf_counter() - step
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(minutes=readings_minutes)
    step = time.perf_counter()
    for half in (0, 1):
        run_bulk(url, READINGS, {"park": park, "start": start, "end": end, "half": half})
    timings["readings"] = time.perf_counter() - step
    step = time.perf_counter()
    today = end.replace(hour=0, minute=0, second=0) - timedelta(hours=8)  # Shanghai midnight
    first = today - timedelta(days=rollup_days)
    run_bulk(url, DAILY, {"park": park, "first": first, "last": today - timedelta(days=1)})
    timings["daily rollups"] = time.perf_counter() - step
    step = time.perf_counter()
    _roll_up_months(url, park, first, today)
    timings["monthly rollups"] = time.perf_counter() - step
    step = time.perf_counter()
    if readings_minutes:
        _roll_up_readings(url, park, start, end)
    timings["hourly rollups"] = time.perf_counter() - step
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    timings["total"] = time.perf_counter() - began
    record(url, park, timings)
    log(f"  seeded {park}: {devices} devices in {timings['total']:.1f} s")
    return timings


def _roll_up_readings(url: str, park: str, start: datetime, end: datetime) -> None:
    """The raw readings' hours rolled up (``roll_up``), as in a park whose rollup job has
    caught up: the reads then find every hour where the job would have put it."""
    with psycopg.connect(url) as conn:
        sids = [r[0] for r in conn.execute("SELECT id FROM series WHERE park_id = %s", (park,))]
    hour = start.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    roll_up(url, sids, hours)


def _roll_up_months(url: str, park: str, first: datetime, last: datetime) -> None:
    """The months of the counters' daily rows ``[first, last)`` rolled up with the worker's
    statement (``recompute_months``). The months are stepped in local time: a month added to
    a UTC instant clamps at a short month's end and drifts (30 January + 1 month = 28
    February 16:00 UTC, already 1 March in Shanghai), skipping months."""
    with psycopg.connect(url) as conn:
        pairs = conn.execute(
            "SELECT s.id, m AT TIME ZONE 'Asia/Shanghai' FROM series s "
            "JOIN device_type_metric t ON t.name = s.metric "
            "JOIN device d ON d.park_id = s.park_id AND d.id = s.device_id "
            "AND d.type = t.device_type, generate_series("
            "date_trunc('month', %(first)s::timestamptz AT TIME ZONE 'Asia/Shanghai'), "
            "%(last)s::timestamptz AT TIME ZONE 'Asia/Shanghai', interval '1 month') m "
            "WHERE s.park_id = %(park)s AND t.kind = 'counter' ORDER BY 1, 2",
            {"park": park, "first": first, "last": last},
        ).fetchall()
    horizon = first - timedelta(days=31)
    _in_batches(url, [(int(sid), m) for sid, m in pairs],
                lambda session, batch: recompute_months(session, batch, horizon))  # fmt: skip


def roll_up(url: str, sids: list[int], hours: list[datetime]) -> None:
    """Every hour of ``hours`` of every series of ``sids`` rolled up with the worker's own
    statements (``recompute``: the hourly rows, the local days they touch and their months)."""
    horizon = min(hours) - timedelta(days=1)
    _in_batches(url, [(sid, hour) for sid in sids for hour in hours],
                lambda session, batch: recompute(session, batch, horizon, days_of=batch))  # fmt: skip


Pairs = list[tuple[int, datetime]]


def _in_batches(
    url: str, pairs: Pairs, rebuild: Callable[[AsyncSession, Pairs], Awaitable[None]]
) -> None:
    """``rebuild`` over ``pairs`` (series, hour) in transactions of ``ROLLUP_BATCH`` pairs."""

    async def run() -> None:
        engine = create_engine_for(url, pool_size=1)
        try:
            for first in range(0, len(pairs), ROLLUP_BATCH):
                async with AsyncSession(engine) as session:
                    await rebuild(session, pairs[first : first + ROLLUP_BATCH])
                    await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def record(url: str, park: str, timings: dict[str, float]) -> None:
    """Keep the seeding times beside the data (later runs reuse the data and report them)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_scale_seed (park text PRIMARY KEY, seconds jsonb)"
        )
        conn.execute(
            "INSERT INTO bench_scale_seed VALUES (%s, %s) "
            "ON CONFLICT (park) DO UPDATE SET seconds = excluded.seconds",
            (park, Jsonb(timings)),
        )


def recorded(url: str, park: str) -> dict[str, float] | None:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('bench_scale_seed')").fetchone() == (None,):
            return None
        row = conn.execute(
            "SELECT seconds FROM bench_scale_seed WHERE park = %s", (park,)
        ).fetchone()
    return None if row is None else dict(row[0])
