"""``.venv/bin/python -m bench.today [DEVICES]``: reads of today in a live park, by the hour
of the day.

In a live park today is always queued for the rollup job: its open hour is (readings arrive all
the hour, and at 100,000 devices the job takes open hours once an hour). A read per local day
(this month's carbon ledger, 电力看经济, an enterprise's energy) makes a queued day as the
worker will (app/telemetry/consumption.py): from its hours, the queued ones from raw readings,
the others from ``rollup_hour``. Before 2026-12-06 it made the day from every raw reading since
midnight, so its cost grew with the hour of the day; that rule is this bench's baseline, in the
same run (``fresh_from_raw`` put in for the day level while the statement is composed).

1. The embedded services and a database ``parktwin_bench_today_N``: park ``scale`` of N devices
   (bench/scale_reads/seed.py: 40 % electricity and 10 % water meters, 31 days of daily
   rollups ending yesterday, no raw readings), then today's readings (Asia/Shanghai), one every
   15 s for every counter series, written an hour-range at a time (hours after now included:
   what matters to a read is which hours are queued, not the clock).
2. After each range, ``H`` hours into the day: every hour rolled up with the worker's own
   statement (``recompute``); then, timed, **rolled up** (no queued hour) and **open hour
   queued** (hour ``H - 1`` marked for every counter series): the daily consumption of every
   counter of the park this month (the ledger's core, one statement; the baseline's too, and
   the two answers must agree), and ``GET .../carbon/energy?group_by=enterprise`` through the
   app (TestClient).
3. The table goes under "## Reads of today (bench/today)" in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import TextClause, create_engine, text

from app.core.config import Settings, get_settings
from app.core.db import sync_url
from app.core.migrate import upgrade_to_head
from app.embedded.services import EmbeddedServices
from app.main import create_app
from app.telemetry import consumption
from bench.common import bench_database, run_bulk, viewer_key
from bench.report import replace_section
from bench.scale_reads.seed import roll_up, seed

PARK = "scale"
ZONE = ZoneInfo("Asia/Shanghai")
HOURS = (1, 4, 8, 12, 16, 20, 24)
RUNS = 5
BASELINE_RUNS = 3
DEVICES = 2000
HEADING = "## Reads of today (bench/today)"

COUNTERS = """SELECT s.id FROM series s
JOIN device d ON d.park_id = s.park_id AND d.id = s.device_id
JOIN device_type_metric m ON m.device_type = d.type AND m.name = s.metric
WHERE s.park_id = %(park)s AND m.kind = 'counter'"""

READINGS = f"""INSERT INTO telemetry (time, series_id, value)
SELECT t, c.id, (c.id %% 97) + extract(epoch FROM t - %(midnight)s) / 3600 * (1 + c.id %% 5)
FROM ({COUNTERS}) c, generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                    - interval '15 seconds', interval '15 seconds') t"""

MARK_OPEN_HOUR = f"""INSERT INTO telemetry_dirty (series_id, bucket, marked_at)
SELECT c.id, %(hour)s, now() FROM ({COUNTERS}) c"""


def ledger_statement() -> str:
    """Every counter of the park, its consumption per local day of ``[lo, hi)``, summed."""
    return (
        "WITH keys AS (SELECT s.id AS series_id FROM series s "
        "JOIN device d ON d.park_id = s.park_id AND d.id = s.device_id "
        "JOIN device_type_metric m ON m.device_type = d.type AND m.name = s.metric "
        "WHERE s.park_id = :park AND m.kind = 'counter'), "
        + consumption.daily_consumption("daily", keys="keys")
        + " SELECT count(*), sum(qty) FROM daily"
    )


def baseline_statement() -> str:
    """The same, a queued day made from its raw readings (the rule before 2026-12-06)."""
    with mock.patch.object(consumption, "fresh_days", consumption.fresh_from_raw):
        return ledger_statement()


def midnight(day: date) -> datetime:
    return datetime.combine(day, clock(), ZONE).astimezone(UTC)


def timed(run: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times, answer = [], None
    run()  # warm-up
    for _ in range(runs):
        start = time.perf_counter()
        answer = run()
        times.append((time.perf_counter() - start) * 1000)
    return times, answer


def measure(url: str, mqtt_url: str, devices: int) -> list[dict[str, Any]]:
    today = datetime.now(ZONE).date()
    lo, hi = midnight(today.replace(day=1)), midnight(today + timedelta(days=1))
    params = {"park": PARK, "lo": lo, "hi": hi, "tz": "Asia/Shanghai"}
    new, old = text(ledger_statement()), text(baseline_statement())
    with psycopg.connect(url) as conn:
        sids = [r[0] for r in conn.execute(COUNTERS, {"park": PARK})]
        conn.execute("DELETE FROM telemetry WHERE series_id = ANY(%s)", (sids,))
        for table in ("rollup_hour", "telemetry_dirty"):
            conn.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", (sids,))
        conn.execute(
            "DELETE FROM rollup_day WHERE series_id = ANY(%s) AND bucket >= %s",
            (sids, midnight(today)),
        )
    settings = Settings(
        database_url=url, mqtt_url=mqtt_url, log_level="WARNING", latest_cache_ttl=0
    )  # type: ignore[call-arg]
    token = viewer_key(url)
    rows, written = [], 0
    engine = create_engine(sync_url(url))
    with TestClient(create_app(settings)) as client, engine.connect() as db:
        headers = {"Authorization": f"Bearer {token}"}
        api = f"/api/v1/parks/{PARK}/carbon/energy"

        def ledger(statement: TextClause) -> Callable[[], Any]:
            return lambda: tuple(db.execute(statement, params).one())

        def through_api() -> Any:
            response = client.get(api, params={"group_by": "enterprise"}, headers=headers)
            assert response.status_code == 200, response.text
            return response.content

        for upto in HOURS:
            start, end = midnight(today) + timedelta(hours=written), midnight(today)
            end += timedelta(hours=upto)
            run_bulk(url, READINGS, {"park": PARK, "midnight": midnight(today), "start": start,
                                     "end": end})  # fmt: skip
            hours = [midnight(today) + timedelta(hours=h) for h in range(max(0, written - 1), upto)]
            roll_up(url, sids, hours)
            written = upto
            db.execute(text("TRUNCATE telemetry_dirty"))
            db.commit()
            with psycopg.connect(url, autocommit=True) as vacuum:
                vacuum.execute("VACUUM ANALYZE telemetry, rollup_hour, rollup_day")
            row: dict[str, Any] = {"hours": upto}
            row["rolled"], floor = timed(ledger(new), RUNS)
            row["rolled_api"], _ = timed(through_api, RUNS)
            with psycopg.connect(url) as marks:
                marks.execute(MARK_OPEN_HOUR, {"park": PARK, "hour": end - timedelta(hours=1)})
            row["queued"], answer = timed(ledger(new), RUNS)
            row["queued_api"], _ = timed(through_api, RUNS)
            row["baseline"], before = timed(ledger(old), BASELINE_RUNS)
            if not (answer == before == floor):
                raise SystemExit(f"answers differ at {upto} h: {answer} {before} {floor}")
            row["readings_today"] = len(sids) * upto * 240
            print(
                f"  {upto:2d} h: rolled {statistics.median(row['rolled']):.0f} ms, queued "
                f"{statistics.median(row['queued']):.0f} ms, baseline "
                f"{statistics.median(row['baseline']):.0f} ms",
                flush=True,
            )
            rows.append(row)
    engine.dispose()
    return rows


def report(devices: int, counters: int, rows: list[dict[str, Any]], loadavg: str) -> str:
    def ms(values: list[float]) -> str:
        return f"{statistics.median(values):,.0f}"

    lines = [
        HEADING,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with `.venv/bin/python -m "
        f"bench.today {devices}` on this machine ({os.cpu_count()} cores; load average "
        f"{loadavg}). Park `scale` of {devices:,} devices (bench/scale_reads/seed.py), "
        f"{counters:,} counter series (electricity and water meters), one reading every 15 s "
        "each since local midnight (Asia/Shanghai), the hours rolled up with the worker's own "
        "statement. Each figure is the median of "
        f"{RUNS} runs ({BASELINE_RUNS} for the baseline) after a warm-up, ms: the daily "
        "consumption of every counter of the park this month (the carbon ledger's, 电力看经济's "
        "and an enterprise portal's core, one statement), and the carbon ledger by enterprise "
        "through the app. **Rolled up**: no hour queued (the job has caught up). **Open hour "
        "queued**: the last hour marked for every counter, as in a live park all the time. "
        "**Baseline**: the same statement with a queued day made from every raw reading "
        "since midnight (the rule before 2026-12-06), same data, same run; its answer equals "
        "the others' (checked).",
        "",
        "| hours into the day | readings today | rolled up | open hour queued | baseline "
        "(today from raw) | ledger by enterprise via the API, rolled up / queued |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['hours']} | {r['readings_today']:,} | {ms(r['rolled'])} | {ms(r['queued'])} "
            f"| {ms(r['baseline'])} | {ms(r['rolled_api'])} / {ms(r['queued_api'])} |"
        )
    first, last = rows[0], rows[-1]

    def growth(key: str) -> str:
        return f"{statistics.median(last[key]) / statistics.median(first[key]):.1f}"

    lines += [
        "",
        f"From {first['hours']} to {last['hours']} hours into the day the open hour queued "
        f"grows {growth('queued')} times (its hours' rows), the baseline {growth('baseline')} "
        "times (every reading since midnight). What is left over the rolled-up read is the "
        "open hour made from its raw readings (about one hour of every counter's readings, "
        "whatever the hour of the day).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.today")
    parser.add_argument("devices", nargs="?", type=int, default=DEVICES)
    args = parser.parse_args(argv)
    devices: int = args.devices
    services = EmbeddedServices.from_settings(get_settings())
    urls = services.up()
    url = bench_database(services, f"parktwin_bench_today_{devices}")
    upgrade_to_head(url)
    seed(url, PARK, devices, readings_minutes=0)
    with psycopg.connect(url) as conn:
        counters = len(conn.execute(COUNTERS, {"park": PARK}).fetchall())
    before = os.getloadavg()
    rows = measure(url, urls["PARKTWIN_MQTT_URL"], devices)
    after = os.getloadavg()
    loadavg = f"{before[0]:.1f} before, {after[0]:.1f} after (1 min)"
    section = report(devices, counters, rows, loadavg)
    print(section)
    if devices == DEVICES:
        replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
