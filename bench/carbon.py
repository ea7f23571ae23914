"""``.venv/bin/python -m bench.carbon``: the park's annual carbon report over a year of hourly
readings, from the daily rollups, against the same report from raw readings.

1. The embedded services (``parktwin services up``) and a database ``parktwin_bench_carbon``
   migrated to head, loaded once with two parks (Asia/Shanghai), calendar year 2025:
   - ``demo``: the simulator's demo park (``sensors_sim.layout``, seed 1, 2,000 devices, as
     ``parktwin seed demo`` registers them, with its meter tree); hourly counter readings for
     its 794 energy meters (7.0 M rows);
   - ``carbon``: 2,000 energy devices (1,560 electricity meters, 20 of them main meters with
     the others below them and one PV export meter per building, 200 gas, 100 water, 40 steam,
     100 PV inverters; 17.5 M rows), 24 绿证 and a diesel entry.
   Readings are made server-side with ``generate_series`` (a month per statement, two at a
   time), one meter in 50 reset to zero in June; ``rollup_day`` is built from them with the
   worker's aggregates (``STEP``, park-local days).
2. The app in this process under Starlette's TestClient (auth, park check, the query, JSON):
   ``GET /carbon/report?year=2025`` ``RUNS`` times per park; then the same report with the
   ledger's daily CTE swapped for one that computes every day's delta from raw readings of
   the same meters (the baseline), ``BASELINE_RUNS`` times. The two answers' totals must agree.
3. Results under "## Carbon report (bench/carbon)" in docs/benchmarks.md, with the target
   (< 3 s) and the machine's load average.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from fastapi.testclient import TestClient

import app.carbon.sql as ledger_sql
from app.core.config import Settings, get_settings
from app.core.migrate import upgrade_to_head
from app.embedded.services import EmbeddedServices
from app.main import create_app
from app.telemetry.sql import ROLLUP_COLUMNS, STEP
from bench.common import bench_database, run_bulk_parallel, viewer_key
from bench.report import replace_section
from sensors_sim import layout

PARK = "carbon"
DEMO = "demo"
YEAR = 2025
DEVICES = 2000
RUNS = 5
BASELINE_RUNS = 1
TARGET_S = 3.0
HEADING = "## Carbon report (bench/carbon)"

# n: 1..2000. 1-20 building main meters, 21-40 PV export meters, 41-1560 sub-meters,
# 1561-1760 gas, 1761-1860 water, 1861-1900 steam, 1901-2000 PV inverters.
DEVICE_ROWS = """
INSERT INTO device (park_id, id, type, name, building_id, enterprise_id, parent_meter_id,
                    attributes)
SELECT 'carbon', 'd' || n,
       CASE WHEN n <= 1560 THEN 'electricity_meter' WHEN n <= 1760 THEN 'gas_meter'
            WHEN n <= 1860 THEN 'water_meter' WHEN n <= 1900 THEN 'steam_meter'
            ELSE 'pv_inverter' END,
       'device ' || n, 'b' || (n % 20), CASE WHEN n > 40 THEN 'e' || (n % 100) END,
       CASE WHEN n > 40 AND n <= 1560 THEN 'd' || (n % 20 + 1) END,
       CASE WHEN n BETWEEN 21 AND 40 THEN '{"carbon_carrier": "pv_export"}'::jsonb
            ELSE '{}'::jsonb END
FROM generate_series(1, 2000) n ORDER BY n <= 20 DESC, n
"""

RATES = """
CREATE TABLE bench_rate AS
SELECT s.id AS series_id, n,
       CASE WHEN n BETWEEN 21 AND 40 THEN 2 + n % 3 WHEN n <= 1560 THEN 1 + n % 9
            WHEN n <= 1760 THEN 0.5 + n % 4 WHEN n <= 1860 THEN 0.2 + n % 3 * 0.1
            WHEN n <= 1900 THEN 0.05 ELSE 10 + n % 20 END::float8 AS rate
FROM series s CROSS JOIN LATERAL (SELECT substr(s.device_id, 2)::int AS n) x
WHERE s.park_id = 'carbon';
UPDATE bench_rate r SET rate = 1.05 * c.total
FROM (SELECT (n % 20 + 1) AS main, sum(rate) AS total FROM bench_rate
      WHERE n BETWEEN 41 AND 1560 GROUP BY 1) c
WHERE r.n = c.main;
"""
"""Hourly use per series; a main meter reads 5% more than its sub-meters (losses)."""

READINGS = """
INSERT INTO telemetry (time, series_id, value)
SELECT t, r.series_id,
       CASE WHEN r.n %% 50 = 0 AND t >= %(reset)s
            THEN extract(epoch FROM t - %(reset)s) / 3600 * r.rate
            ELSE 1000 * r.n + extract(epoch FROM t - %(start)s) / 3600 * r.rate END
FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - interval '1 hour',
                     interval '1 hour') t
CROSS JOIN {rates} r
"""

DAY_ROLLUPS = f"""
INSERT INTO rollup_day ({ROLLUP_COLUMNS})
SELECT series_id, bucket, count(*)::int, sum(value), min(value), max(value), min(time),
       first(value, time), max(time), last(value, time),
       sum({STEP.format(before="before", value="value")})
FROM (
    SELECT series_id, time_bucket('1 day', time, 'Asia/Shanghai') AS bucket, time, value,
           lag(value) OVER (PARTITION BY series_id, time_bucket('1 day', time, 'Asia/Shanghai')
                            ORDER BY time) AS before
    FROM telemetry WHERE time >= %(lo)s AND time < %(hi)s
      AND series_id IN (SELECT series_id FROM {{rates}})
) readings
GROUP BY series_id, bucket
"""
"""The worker's rollup aggregates (app/telemetry/sql.py RAW_ROLLUP) as one GROUP BY a month."""

RAW_DAILY = f"""keys AS (
    SELECT DISTINCT series_id FROM meters
    WHERE group_key IS NOT NULL AND carrier <> 'none'
      AND (CAST(:only AS text) IS NULL OR group_key = :only)
),
raw AS (
    SELECT t.series_id, t.time, t.value,
           lag(t.value) OVER (PARTITION BY t.series_id ORDER BY t.time) AS before
    FROM telemetry t JOIN keys k ON k.series_id = t.series_id
    WHERE t.time >= CAST(:lo AS timestamptz) - interval '400 days' AND t.time < :hi
),
daily AS (
    SELECT series_id, time_bucket('1 day', time, CAST(:tz AS text)) AS bucket,
           sum({STEP.format(before="before", value="value")}) AS qty
    FROM raw WHERE time >= :lo GROUP BY 1, 2
)"""
"""The baseline: every day's consumption from the raw readings of the same meters (the last
reading before the year is the first one's baseline)."""


def loaded(url: str, marker: str = "bench_carbon_done") -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass(%s)", (marker,)).fetchone() != (None,)


def _months() -> list[tuple[str, str]]:
    edges = [f"{YEAR}-{m:02d}-01 00:00+08" for m in range(1, 13)] + [f"{YEAR + 1}-01-01 00:00+08"]
    return list(itertools.pairwise(edges))


def load(url: str) -> None:
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM park WHERE id = 'carbon'")
        conn.execute("DROP TABLE IF EXISTS bench_rate")
        conn.execute("TRUNCATE telemetry, rollup_hour, rollup_day, rollup_month, telemetry_dirty")
        conn.execute("DROP TABLE IF EXISTS bench_carbon_demo_done")  # its readings are gone
        conn.execute("INSERT INTO park (id, name) VALUES ('carbon', 'carbon bench')")
        conn.execute(DEVICE_ROWS)
        conn.execute(
            "INSERT INTO series (park_id, device_id, metric) SELECT 'carbon', d.id, m.name "
            "FROM device d JOIN device_type_metric m ON m.device_type = d.type "
            "AND m.kind = 'counter' WHERE d.park_id = 'carbon' ORDER BY d.id"
        )
        conn.execute(RATES)
        conn.execute(
            "INSERT INTO carbon_manual_entry (park_id, carrier, day, quantity) "
            "VALUES ('carbon', 'diesel', %s, 5000)",
            (f"{YEAR}-03-15",),
        )
        conn.execute(
            "INSERT INTO carbon_green_power (park_id, kind, certificate_id, month, kwh) "
            "SELECT 'carbon', 'certificate', 'bench-gec-' || n, make_date(%s, n %% 12 + 1, 1), "
            "1000 FROM generate_series(1, 24) n ON CONFLICT DO NOTHING",
            (YEAR,),
        )
    _year(url, "bench_rate", started)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CREATE TABLE bench_carbon_done ()")
    print(f"  loaded in {time.monotonic() - started:.0f} s", flush=True)


def _year(url: str, rates: str, started: float) -> None:
    """A year of hourly counter readings for the series in ``rates``, and their day rollups."""
    months = _months()
    start, reset = months[0][0], months[5][0]
    params = [{"lo": lo, "hi": hi, "start": start, "reset": reset} for lo, hi in months]
    run_bulk_parallel(url, READINGS.format(rates=rates), params)
    print(f"  readings: {time.monotonic() - started:.0f} s", flush=True)
    rollups = DAY_ROLLUPS.replace("{rates}", rates)
    run_bulk_parallel(url, rollups, [{"lo": lo, "hi": hi} for lo, hi in months])
    print(f"  daily rollups: {time.monotonic() - started:.0f} s", flush=True)


ENERGY_RATE = {"electricity_meter": 1.0, "pv_inverter": 10.0, "gas_meter": 0.5,
               "water_meter": 0.2, "steam_meter": 0.05}  # fmt: skip
"""Base hourly use per type of the demo park's meters (each adds up to 9 more units)."""


def _demo_rates(devices: list[Any]) -> list[tuple[str, float]]:
    """(device id, hourly rate): sub-meters their own, a main meter 5% above its sub-meters."""
    rates = {d.id: ENERGY_RATE[d.type] * (1 + d.index % 10) for d in devices}
    below: dict[str, float] = {}
    for d in devices:
        if d.parent_meter_id:
            below[d.parent_meter_id] = below.get(d.parent_meter_id, 0.0) + rates[d.id]
    return [(d.id, 1.05 * below[d.id] if d.id in below else rates[d.id]) for d in devices]


def load_demo(url: str) -> None:
    """The simulator's demo park (sensors_sim.layout, seed 1, 2,000 devices): its registry as
    ``parktwin seed demo`` makes it, and a year of hourly readings for its energy meters."""
    started = time.monotonic()
    park = layout.generate(DEMO, 1, DEVICES)
    energy = [d for d in park.devices if d.type in ENERGY_RATE]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        conn.execute("DELETE FROM park WHERE id = %s", (DEMO,))
        conn.execute("DROP TABLE IF EXISTS bench_rate_demo")
        conn.execute("INSERT INTO park (id, name) VALUES (%s, %s)", (DEMO, park.name))
        cur.executemany(
            "INSERT INTO device (park_id, id, type, name, building_id, enterprise_id, "
            "parent_meter_id, attributes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
            [(DEMO, d.id, d.type, d.name, d.building_id, d.enterprise_id, d.parent_meter_id,
              orjson.dumps(d.attributes).decode())
             for d in sorted(park.devices, key=lambda d: d.parent_meter_id is not None)],
        )  # fmt: skip
        conn.execute(
            "INSERT INTO series (park_id, device_id, metric) SELECT d.park_id, d.id, m.name "
            "FROM device d JOIN device_type_metric m ON m.device_type = d.type "
            "AND m.kind = 'counter' WHERE d.park_id = %s AND d.type = ANY(%s) ORDER BY d.id",
            (DEMO, list(ENERGY_RATE)),
        )
        conn.execute("CREATE TABLE bench_rate_demo (device_id text, n int, rate float8)")
        cur.executemany(
            "INSERT INTO bench_rate_demo VALUES (%s, %s, %s)",
            [(i, n, r) for n, (i, r) in enumerate(_demo_rates(energy), start=1)],
        )
        conn.execute(
            "ALTER TABLE bench_rate_demo ADD COLUMN series_id integer; "
            "UPDATE bench_rate_demo r SET series_id = s.id FROM series s "
            "WHERE s.park_id = 'demo' AND s.device_id = r.device_id"
        )
    _year(url, "bench_rate_demo", started)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CREATE TABLE bench_carbon_demo_done ()")
    print(f"  demo park loaded in {time.monotonic() - started:.0f} s", flush=True)


def timed(
    client: TestClient, headers: dict[str, str], park: str, runs: int
) -> tuple[list[float], Any]:
    times, body = [], None
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(f"/api/v1/parks/{park}/carbon/report", params={"year": YEAR},
                              headers=headers)  # fmt: skip
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        body = response.json()
    return times, body


@dataclass
class Run:
    park: str
    description: str
    rollup: list[float]
    raw: list[float]
    totals: dict[str, Any]


def _row(name: str, values: list[float]) -> str:
    return f"| {name} | {len(values)} | {statistics.median(values):.2f} | {max(values):.2f} |"


def _part(run: Run) -> list[str]:
    t = run.totals
    return [
        f"### `GET /api/v1/parks/{run.park}/carbon/report?year={YEAR}`: {run.description}", "",
        "| source | runs | median s | max s |", "|---|---|---|---|",
        _row("daily rollups (the report)", run.rollup),
        _row("raw readings (baseline: same report, deltas from telemetry)", run.raw), "",
        f"- target met: {'yes' if max(run.rollup) < TARGET_S else 'no'} "
        f"(max {max(run.rollup):.2f} s); speed-up over raw: "
        f"{statistics.median(run.raw) / statistics.median(run.rollup):.0f}x",
        f"- totals (both sources agree): {t['tce_equal_value']:.1f} tce 等价值, "
        f"{t['total_location_t']:.1f} tCO₂ location, {t['scope2_market_t']:.1f} t Scope 2 "
        "market", "",
    ]  # fmt: skip


def report(runs: list[Run], load_avg: str) -> str:
    lines = [
        HEADING, "",
        "`make bench-carbon`: the park's annual carbon report through the whole API path "
        "(TestClient, one request at a time) over a year (2025) of hourly counter readings, "
        f"from the daily rollups against the same report from raw readings; target < "
        f"{TARGET_S:.0f} s. Both sources read only the meters that count for the park (root "
        "meters; sub-meters are below their main meter in the tree).", "",
    ]  # fmt: skip
    for run in runs:
        lines += _part(run)
    lines += [f"Load average: {load_avg} (2 cores, shared with other work).", ""]
    return "\n".join(lines)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("tce_equal_value", "total_location_t", "scope2_market_t")
    return all(abs(a[k] - b[k]) <= 1e-6 * max(1.0, abs(a[k])) for k in keys)


PARKS = [
    (DEMO, "the demo park (sensors_sim layout, seed 1: 2,000 devices, of which 794 energy meters with 7.0 M readings)"),
    (PARK, "2,000 energy meters (1,560 electricity with a meter tree, gas, water, steam, PV), "
     "17.5 M readings"),
]  # fmt: skip


def measure(client: TestClient, headers: dict[str, str], park: str, description: str) -> Run:
    timed(client, headers, park, 1)  # warm-up
    rollup, fast = timed(client, headers, park, RUNS)
    daily = ledger_sql.DAILY
    ledger_sql.DAILY = RAW_DAILY
    try:
        raw, slow = timed(client, headers, park, BASELINE_RUNS)
    finally:
        ledger_sql.DAILY = daily
    if not _same(fast["totals"], slow["totals"]):
        raise SystemExit(f"{park}: rollups and raw disagree: {fast['totals']} {slow['totals']}")
    return Run(park, description, rollup, raw, fast["totals"])


def main() -> int:
    settings = get_settings()
    services = EmbeddedServices.from_settings(settings)
    urls = services.up()
    db_url = bench_database(services, "parktwin_bench_carbon")
    upgrade_to_head(db_url)
    if not loaded(db_url):
        print("loading the park (once)...", flush=True)
        load(db_url)
    if not loaded(db_url, "bench_carbon_demo_done"):
        print("loading the demo park (once)...", flush=True)
        load_demo(db_url)
    headers = {"Authorization": f"Bearer {viewer_key(db_url)}"}
    app_settings = Settings(
        database_url=db_url, mqtt_url=urls["PARKTWIN_MQTT_URL"], log_level="WARNING"
    )  # type: ignore[call-arg]
    before = os.getloadavg()[0]
    runs = []
    with TestClient(create_app(app_settings)) as client:
        for park, description in PARKS:
            runs.append(measure(client, headers, park, description))
    load_avg = f"{before:.1f} before, {os.getloadavg()[0]:.1f} after"
    section = report(runs, load_avg)
    print(section)
    replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
