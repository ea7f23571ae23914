"""``.venv/bin/python -m bench.economy``: the economy reads over the demo park's simulated year.

1. The embedded services (``parktwin services up``) and a database ``parktwin_bench_economy``
   migrated to head, loaded once: the demo park's layout from the simulator's generator
   (sensors_sim/layout.py, seed 1: 40 enterprises, their parcels, buildings, spaces and
   leases, the electricity meter tree), and a year (``YEAR``) of hourly ``energy_kwh`` readings
   of every enterprise's top-level meter, from the simulator's load profiles (industry, hour,
   workday/weekend/holiday; one meter in 50 swapped mid-year, so its counter restarts). The
   readings go in with ``COPY``; the hourly and daily rollups are built with the worker's
   aggregates in bulk (as bench/api/load.py does). Monthly reports for the 40 enterprises are
   synthesised from the same seed (revenue in proportion to the month's kWh).
2. The app in this process under Starlette's TestClient (auth, park check, queries, JSON), one
   request at a time: the 亩均 evaluation of the year (target: under 2 s), the year's
   electricity index and 开工率, and a month's overview.
3. p50/p99/max written under "## Economy (bench/economy)" in docs/benchmarks.md.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from fastapi.testclient import TestClient

from app.core import geodesy as geo
from app.core.auth import generate_key
from app.core.config import Settings, get_settings
from app.core.migrate import upgrade_to_head
from app.embedded.services import EmbeddedServices
from app.main import create_app
from app.telemetry.sql import ROLLUP_COLUMNS, STEP
from bench.common import bench_database, viewer_key
from bench.report import replace_section
from sensors_sim.layout import Park, generate, polygon
from sensors_sim.signals import TZ_OFFSET_S, Environment

PARK = "demo"
YEAR = 2025
SEED = 1
RUNS = {"per-mu-carbon": 3, "per-mu": 20, "power-index": 5, "overview": 20}
ENERGY = """
UPDATE economy_report r SET energy_tce = CASE WHEN %(reported)s
    THEN round((r.revenue * (0.02 + mod(hashtext(r.enterprise_id)::bigint + 2147483648, 100)
                             / 2000.0))::numeric, 3)::float8 END
WHERE r.park_id = %(park)s
"""
"""综合能耗 in the monthly reports (NBS form 205-1; 0.02-0.07 tce per 10⁴ yuan of revenue by
firm), or none of it, so that the evaluation takes every firm's energy from the carbon ledger."""
TARGET_S = 2.0
HEADING = "## Economy (bench/economy)"

HOUR_ROLLUPS = f"""
INSERT INTO rollup_hour ({ROLLUP_COLUMNS})
SELECT series_id, bucket, count(*)::int, sum(value), min(value), max(value), min(time),
       first(value, time), max(time), last(value, time),
       sum({STEP.format(before="before", value="value")})
FROM (
    SELECT series_id, time_bucket('1 hour', time) AS bucket, time, value,
           lag(value) OVER (PARTITION BY series_id, time_bucket('1 hour', time)
                            ORDER BY time) AS before
    FROM telemetry
    WHERE series_id IN (SELECT id FROM series WHERE park_id = %(park)s)
) readings
GROUP BY series_id, bucket
"""
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
    WHERE series_id IN (SELECT id FROM series WHERE park_id = %(park)s)
) hours
GROUP BY series_id, day
"""


def loaded(url: str) -> bool:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('bench_economy_meta')").fetchone() == (None,):
            return False
        return conn.execute("SELECT 1 FROM bench_economy_meta").fetchone() is not None


def _area(ring: Any) -> float:
    return geo.area_m2(geo.polygon(polygon(ring)))


def _assets(cur: psycopg.Cursor[Any], park: Park) -> None:
    cur.execute("DELETE FROM park WHERE id = %s", (PARK,))
    cur.execute("INSERT INTO park (id, name) VALUES (%s, %s)", (PARK, park.name))
    cur.executemany(
        "INSERT INTO parcel (park_id, id, name, land_use, geometry, area_m2) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [(PARK, p.id, p.name, p.land_use, orjson.dumps(polygon(p.box.ring())).decode(),
          _area(p.box.ring())) for p in park.parcels],
    )  # fmt: skip
    cur.executemany(
        "INSERT INTO building (park_id, id, name, parcel_id, footprint, floors, area_m2) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [(PARK, b.id, b.name, b.parcel_id, orjson.dumps(polygon(b.box.ring())).decode(),
          b.floors, _area(b.box.ring())) for b in park.buildings],
    )  # fmt: skip
    cur.executemany(
        "INSERT INTO space (park_id, id, building_id, floor, name, area_m2) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [(PARK, s.id, s.building_id, s.floor, s.name, s.area_m2) for s in park.spaces],
    )
    cur.executemany(
        "INSERT INTO enterprise (park_id, id, name, credit_code, industry_code, above_scale, "
        "founded_on) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [(PARK, e.id, e.name, e.credit_code, e.industry.code, e.above_scale, e.founded_on)
         for e in park.enterprises],
    )  # fmt: skip
    cur.executemany(
        "INSERT INTO lease (park_id, id, enterprise_id, space_id, building_id, area_m2, "
        "start_date, end_date) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [(PARK, x.id, x.enterprise_id, x.space_id, x.building_id, x.area_m2, x.start_date,
          x.end_date) for x in park.leases],
    )  # fmt: skip


def _meters(cur: psycopg.Cursor[Any], park: Park) -> list[Any]:
    """Insert the electricity meter tree; return the top-level meters of enterprises."""
    meters = {d.id: d for d in park.devices if d.type == "electricity_meter"}
    with cur.copy(
        "COPY device (park_id, id, type, name, building_id, enterprise_id, parent_meter_id) "
        "FROM STDIN"
    ) as copy:
        for d in meters.values():
            copy.write_row((PARK, d.id, d.type, d.name, d.building_id, d.enterprise_id,
                            d.parent_meter_id if d.parent_meter_id in meters else None))  # fmt: skip
    top = [
        d
        for d in meters.values()
        if d.enterprise_id
        and (
            d.parent_meter_id not in meters
            or meters[d.parent_meter_id].enterprise_id != d.enterprise_id
        )
    ]
    cur.executemany(
        "INSERT INTO series (park_id, device_id, metric) VALUES (%s, %s, 'energy_kwh')",
        [(PARK, d.id) for d in top],
    )
    return top


def _readings(cur: psycopg.Cursor[Any], park: Park, top: list[Any]) -> dict[tuple[str, int], float]:
    """A year of hourly readings; returns kWh per (enterprise, month)."""
    env, rng = Environment(SEED), random.Random(f"bench-economy/{SEED}")
    industries = {e.id: e.industry for e in park.enterprises}
    sids = dict(
        cur.execute("SELECT device_id, id FROM series WHERE park_id = %s", (PARK,)).fetchall()
    )
    start = datetime(YEAR, 1, 1, tzinfo=UTC) - timedelta(seconds=TZ_OFFSET_S)
    hours = [
        start + timedelta(hours=h, minutes=30)
        for h in range(366 * 24 if YEAR % 4 == 0 else 365 * 24)
    ]
    kwh: dict[tuple[str, int], float] = {}
    with cur.copy("COPY telemetry (time, series_id, value) FROM STDIN") as copy:
        for n, d in enumerate(top):
            industry = industries[d.enterprise_id]
            peak = rng.uniform(*industry.peak_kw) * rng.uniform(0.2, 1.0)
            total, swap = rng.uniform(1e4, 1e6), (len(hours) // 2 if n % 50 == 0 else -1)
            for i, t in enumerate(hours):
                used = peak * env.load(industry, t.timestamp()) * (1 + rng.gauss(0, 0.03))
                total = 0.0 if i == swap else total + max(0.0, used)
                month = (t + timedelta(seconds=TZ_OFFSET_S)).month
                key = (d.enterprise_id, month)
                kwh[key] = kwh.get(key, 0.0) + max(0.0, used)
                copy.write_row((t, sids[d.id], round(total, 3)))
    return kwh


def _reports(cur: psycopg.Cursor[Any], park: Park, kwh: dict[tuple[str, int], float]) -> None:
    rng = random.Random(f"bench-economy-reports/{SEED}")
    rows = []
    for e in park.enterprises:
        yuan_per_kwh, margin = rng.uniform(2, 12), rng.uniform(0.2, 0.35)
        employees, has_emissions = rng.uniform(30, 800), rng.random() > 0.125
        for month in range(1, 13):
            revenue = kwh.get((e.id, month), 0.0) * yuan_per_kwh / 1e4 * rng.uniform(0.9, 1.1)
            output = revenue * rng.uniform(1.0, 1.15)
            rows.append((PARK, e.id, date(YEAR, month, 1), output, output * margin, revenue,
                         revenue * rng.uniform(0.03, 0.08), employees * rng.uniform(0.97, 1.03),
                         revenue * rng.uniform(0.005, 0.05),
                         rng.uniform(0.01, 0.5) if has_emissions else None))  # fmt: skip
    cur.executemany(
        "INSERT INTO economy_report (park_id, enterprise_id, month, output_value, value_added, "
        "revenue, tax, employees, rd_spend, emissions) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        rows,
    )


def load(url: str) -> None:
    started = time.monotonic()
    park = generate(PARK, SEED)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        _assets(cur, park)
        top = _meters(cur, park)
        kwh = _readings(cur, park, top)
        _reports(cur, park, kwh)
    print(f"  assets, readings and reports: {time.monotonic() - started:.0f} s", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET jit = off")
        conn.execute("DELETE FROM telemetry_dirty")
        conn.execute(HOUR_ROLLUPS, {"park": PARK})
        conn.execute(DAY_ROLLUPS, {"park": PARK})
        conn.execute("CREATE TABLE IF NOT EXISTS bench_economy_meta (loaded_at timestamptz)")
        conn.execute("INSERT INTO bench_economy_meta VALUES (now())")
        conn.execute("VACUUM ANALYZE")
    print(f"  rollups: {time.monotonic() - started:.0f} s", flush=True)


def timed(
    client: TestClient, url: str, headers: dict[str, str], runs: int
) -> tuple[list[float], Any]:
    client.get(url, headers=headers)  # warm-up: connections, plans
    times, body = [], None
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
        body = response.json()
    return times, body


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def admin_key(url: str) -> str:
    key = generate_key()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO api_key (id, secret_hash, role, name) VALUES (%s, %s, 'admin', 'bench')",
            (key.id, key.secret_hash),
        )
    return key.token


def register(client: TestClient, url: str) -> None:
    """The reports were loaded with COPY-like inserts, past the API that derives each firm's
    规上 status: put every firm's December report back once, so the register is built."""
    headers = {"Authorization": f"Bearer {admin_key(url)}"}
    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT DISTINCT enterprise_id FROM economy_report WHERE park_id = %s", (PARK,))]  # fmt: skip
    fields = ("output_value", "value_added", "revenue", "tax", "employees", "rd_spend",
              "emissions", "energy_tce", "digital_transformed", "digital_services")  # fmt: skip
    for e in ids:
        path = f"/api/v1/parks/{PARK}/economy/reports/{e}/{YEAR}-12"
        body = client.get(path, headers=headers).json()
        answer = client.put(path, json={k: body[k] for k in fields}, headers=headers)
        assert answer.status_code == 200, answer.text


def measure(
    client: TestClient, headers: dict[str, str], db_url: str
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    base = f"/api/v1/parks/{PARK}/economy"
    urls = {
        "per-mu": f"{base}/per-mu?year={YEAR}",
        "power-index": f"{base}/power-index?from={YEAR}-01-01&to={YEAR}-12-31&base_month={YEAR}-01",
        "overview": f"{base}/overview?month={YEAR}-06",
    }
    results, facts = {}, {}
    for name, url in urls.items():
        if name == "per-mu":  # first with no reported energy: every firm from the carbon ledger
            with psycopg.connect(db_url) as conn:
                conn.execute(ENERGY, {"park": PARK, "reported": False})
            results["per-mu-carbon"], _ = timed(client, url, headers, RUNS["per-mu-carbon"])
            with psycopg.connect(db_url) as conn:
                conn.execute(ENERGY, {"park": PARK, "reported": True})
        results[name], body = timed(client, url, headers, RUNS[name])
        if name == "per-mu":
            grades = [i["grade"] for i in body["items"]]
            facts["firms"] = len(grades)
            facts["grades"] = {g: grades.count(g) for g in "ABCDT" if grades.count(g)}
        if name == "power-index":
            facts["days"] = len(body["days"])
    return results, facts


def report(
    results: dict[str, list[float]], facts: dict[str, Any], loadavg: str, meters: int
) -> str:
    worst = max(results["per-mu"])
    verdict = "met" if worst < TARGET_S else "NOT met"
    lines = [
        HEADING,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with `.venv/bin/python -m "
        f"bench.economy` (`make bench-economy`) on this machine ({os.cpu_count()} cores, shared "
        f"with other work; load average {loadavg}). Park `{PARK}` from the simulator's layout "
        f"(seed {SEED}): {facts['firms']} enterprises, {meters} top-level enterprise meters with "
        f"hourly `energy_kwh` readings for {YEAR} (one in 50 swapped mid-year), hourly and "
        "daily rollups, 12 monthly reports per enterprise. Each read through the whole API "
        "path (TestClient, one request at a time, after one warm-up).",
        "",
        f"Target: the 亩均 evaluation of 40 enterprises under {TARGET_S:.0f} s: **{verdict}** "
        f"(slowest of {RUNS['per-mu']}: {worst * 1000:.0f} ms). Grades: {facts['grades']}.",
        "",
        "The evaluation reads the carbon ledger for a firm only when one of its reported months "
        "lacks `energy_tce` (its total tce 等价值 from app/carbon, read per firm with the "
        "ledger's `only`); the first row shows the cost when no firm reports its energy, "
        "about the 2 s target: the target holds for the evaluation as parks run it, on "
        "reported 综合能耗, and a park whose firms report none pays that much more. (The "
        "ledger's bucket CTEs are MATERIALIZED since the carbon rules landed: before, the "
        "planner estimated the meter keys at 3 rows and re-ran the rollup scan once per meter, "
        "and this row took 11 s.)",
        "",
        "Every parktwin connection runs with `jit = off` (app/core/db.py): the planner prices "
        "their raw branch (days still queued for the rollup worker) over every chunk of the "
        "year, and with JIT on the first run spent 14 s compiling a 0.3 s query.",
        "",
        "| read | runs | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {
        "per-mu-carbon": f"`per-mu?year={YEAR}`, no firm reporting 综合能耗: each firm's "
        "energy from the carbon ledger",
        "per-mu": f"`per-mu?year={YEAR}` (亩均效益评价, firms reporting 综合能耗)",
        "power-index": f"`power-index` for {facts['days']} days (daily kWh, 开工率, index)",
        "overview": f"`overview?month={YEAR}-06`",
    }
    for name, values in results.items():
        lines.append(
            f"| {labels[name]} | {len(values)} | {p(values, 0.5) * 1000:.0f} | "
            f"{p(values, 0.99) * 1000:.0f} | {max(values) * 1000:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    settings = get_settings()
    services = EmbeddedServices.from_settings(settings)
    urls = services.up()
    # the services' URL is the schema owner's, who may not create databases: the superuser's
    db_url = bench_database(services, "parktwin_bench_economy")
    upgrade_to_head(db_url)
    if not loaded(db_url):
        print("loading the demo park's year (once)...", flush=True)
        load(db_url)
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM series WHERE park_id = %s", (PARK,)).fetchone()
    meters = int(row[0]) if row else 0
    token = viewer_key(db_url)
    app_settings = Settings(
        database_url=db_url, mqtt_url=urls["PARKTWIN_MQTT_URL"], log_level="WARNING"
    )  # type: ignore[call-arg]
    before = os.getloadavg()[0]
    with TestClient(create_app(app_settings)) as client:
        register(client, db_url)
        results, facts = measure(client, {"Authorization": f"Bearer {token}"}, db_url)
    loadavg = f"{before:.1f} before, {os.getloadavg()[0]:.1f} after"
    section = report(results, facts, loadavg, meters)
    print(section)
    replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
