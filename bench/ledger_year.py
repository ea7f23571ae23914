"""``.venv/bin/python -m bench.ledger_year [SIZES]``: the carbon ledger and the 亩均 evaluation
over a year of daily rollups, at 2,000 / 20,000 / 100,000 devices.

bench/scale_reads seeds 31 days of daily rollups, so its carbon reads cover a month. A park's
cockpit asks for the year to date (the carbon panel, every 5 minutes) and its officials for the
annual report; this bench measures those against the same reads over this month (the
baseline, same data, same run).

1. The embedded services and a database ``parktwin_bench_year_N`` per size, seeded once by
   bench/scale_reads/seed.py with 340 days of daily rollups for every counter (40 % of the
   devices are electricity meters, 10 % water meters, every one a root meter), their months'
   rows (``rollup_month``, made with the worker's statement) and 20 minutes of raw readings;
   every hour rolled up (no queued hour).
2. Through the app (TestClient, one request at a time, the API's statement timeout as shipped:
   30 s), after a warm-up, ``RUNS`` times each: the carbon panel's read (this month, then the
   year to date, ``interval=month&total=true``), the park's carbon report for this year, energy
   by enterprise for the year to date, the 亩均 evaluation of this year.
3. The table goes under "## A year of daily rollups (bench/ledger_year)" in docs/benchmarks.md
   (a full run only).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from app.core.config import Settings, get_settings
from app.core.migrate import upgrade_to_head
from app.embedded.services import EmbeddedServices
from app.main import create_app
from bench.common import bench_database, viewer_key
from bench.report import replace_section
from bench.scale_reads.seed import seed

SIZES = (2000, 20000, 100000)
PARK = "scale"
P = f"/api/v1/parks/{PARK}"
DAYS = 340
RUNS = 2
HEADING = "## A year of daily rollups (bench/ledger_year)"


def paths(today: str) -> list[tuple[str, str, dict[str, str]]]:
    year, month = today[:4], today[:8] + "01"
    ytd = {"from": f"{year}-01-01", "to": today}
    return [
        ("carbon panel, this month", P + "/carbon/emissions",
         {"from": month, "to": today, "interval": "month", "total": "true"}),
        ("carbon panel, the year to date", P + "/carbon/emissions",
         {**ytd, "interval": "month", "total": "true"}),
        ("carbon report, this year (the park)", P + "/carbon/report", {"year": year}),
        ("carbon energy by enterprise, this month", P + "/carbon/energy",
         {"from": month, "to": today, "group_by": "enterprise"}),
        ("carbon energy by enterprise, the year to date", P + "/carbon/energy",
         {**ytd, "group_by": "enterprise"}),
        ("亩均 evaluation, this year (no firm reports its energy)", P + "/economy/per-mu",
         {"year": year}),
    ]  # fmt: skip


def seeded(url: str, devices: int) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM device WHERE park_id = %s", (PARK,)).fetchone()
        rows = conn.execute(
            "SELECT count(DISTINCT bucket) FROM rollup_day r JOIN series s ON s.id = r.series_id "
            "WHERE s.park_id = %s",
            (PARK,),
        ).fetchone()
        months = conn.execute(
            "SELECT count(DISTINCT bucket) FROM rollup_month r "
            "JOIN series s ON s.id = r.series_id WHERE s.park_id = %s",
            (PARK,),
        ).fetchone()
    whole = DAYS // 31  # a month row of every month the days cover (migration 0036)
    return bool(
        row and row[0] == devices and rows and rows[0] >= DAYS and months and months[0] >= whole
    )


def measure(url: str, mqtt_url: str) -> dict[str, tuple[list[float], int]]:
    settings = Settings(
        database_url=url, mqtt_url=mqtt_url, log_level="WARNING", latest_cache_ttl=0
    )  # type: ignore[call-arg]
    today = str(datetime.now(ZoneInfo("Asia/Shanghai")).date())
    headers = {"Authorization": f"Bearer {viewer_key(url)}"}
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE telemetry_dirty")
    results = {}
    with TestClient(create_app(settings)) as client:
        for name, path, params in paths(today):
            times, status = [], 200
            for n in range(RUNS + 1):
                start = time.perf_counter()
                status = client.get(path, params=params, headers=headers).status_code
                if n:  # the first is the warm-up
                    times.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    times.append((time.perf_counter() - start) * 1000)
                    break
            results[name] = (times, status)
            print(f"  {name}: {[round(t) for t in times]} ms, HTTP {status}", flush=True)
    return results


def _cell(result: tuple[list[float], int] | None) -> str:
    if result is None:
        return "–"
    times, status = result
    if status != 200:
        return f"HTTP {status} after {statistics.median(times) / 1000:,.0f} s"
    return f"{statistics.median(times):,.0f}"


def report(
    sizes: list[int], runs: dict[int, dict[str, tuple[list[float], int]]], loadavg: str
) -> str:
    names = [name for name, _, _ in paths("2000-01-01")]
    lines = [
        HEADING,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with `.venv/bin/python -m "
        f"bench.ledger_year` on this machine ({os.cpu_count()} cores; load average {loadavg}). "
        f"Park `scale` seeded by bench/scale_reads/seed.py with {DAYS} days of daily rollups "
        "for every counter (40 % of the devices are electricity meters, 10 % water meters, all "
        "root meters, an enterprise per 200 devices) and the monthly rows the worker makes "
        "from them, every hour rolled up. Through the app "
        f"(TestClient), the median of {RUNS} requests after a warm-up, ms; the API's statement "
        "timeout as shipped (30 s: a longer read is answered 503). This month is the "
        "baseline (the same reads over a month).",
        "",
        "| read | " + " | ".join(f"{n:,} devices" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_cell(runs[n].get(name)) for n in sizes) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or list(SIZES)
    services = EmbeddedServices.from_settings(get_settings())
    urls = services.up()
    before = os.getloadavg()
    runs = {}
    for devices in sizes:
        url = bench_database(services, f"parktwin_bench_year_{devices}")
        upgrade_to_head(url)
        if not seeded(url, devices):
            print(f"seeding {devices} devices with {DAYS} days of daily rollups...", flush=True)
            seed(url, PARK, devices, rollup_days=DAYS)
        print(f"{devices} devices:", flush=True)
        runs[devices] = measure(url, urls["PARKTWIN_MQTT_URL"])
    after = os.getloadavg()
    section = report(sizes, runs, f"{before[0]:.1f} before, {after[0]:.1f} after (1 min)")
    print(section)
    if sizes == list(SIZES):
        replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
