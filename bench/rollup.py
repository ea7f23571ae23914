"""``.venv/bin/python -m bench.rollup`` (``make bench-rollup``): what the rollup job costs per
open hour it recomputes, done as the job does it now (the hourly row; the local day's row
waits for the hour to close) against the same hours done in full (the hourly row and the day's
row: what every open hour cost before, and what a closed hour still costs), in the same run.

1. The embedded services and a database ``parktwin_bench_rollup`` migrated to head, loaded
   anew: one park (Asia/Shanghai) with ``--series`` electricity meters (20,000), each with the
   23 other hourly rollup rows of the local day of an hour two hours ahead (it stays open for
   the whole run), as late in the day, when the day's row reads 24 hourly rows.
2. For each ``--fill`` (40, 120, 240: the open hour 10, 30 and 60 minutes in), that many
   readings per series in the open hour, one every 15 s; a first full pass, not timed, makes
   the day rows; then ``--rounds`` rounds (3), each running both variants, in alternating
   order: every series' open-hour mark made due (marked a day ago, not claimed),
   ``VACUUM ANALYZE`` of the rollup tables and the marks, then ``rollup`` (the worker's job,
   ``PARKTWIN_ROLLUP_BATCH`` 2,000, a transaction per batch as the worker runs it) until
   nothing is due, each batch timed:
   - ``open``: ``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL`` 10 min (bench/park100k's): the hourly
     rows, the marks kept (due again 10 minutes after they were taken);
   - ``full``: an interval of 0: every hour in full, its marks released.
   The two variants' hourly rows must be the same, the ``open`` variant must leave the day
   rows alone and the ``full`` one must count the open hour's readings in them.
3. Results under "## Rollup job, open hours (bench/rollup)" in docs/benchmarks.md: per batch
   and per hour (median over the rounds' full batches), and what a pass over bench/park100k's
   162,359 open hours takes, with the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings, get_settings
from app.core.db import create_engine_for
from app.core.migrate import upgrade_to_head
from app.embedded.services import EmbeddedServices
from app.telemetry.jobs import rollup
from bench.common import bench_database, run_bulk, run_bulk_parallel
from bench.report import replace_section

PARK = "rollup"
BATCH = 2000
PARK100K_SERIES = 162_359
OPEN_INTERVAL = timedelta(minutes=10)
HEADING = "## Rollup job, open hours (bench/rollup)"

READINGS = """
INSERT INTO telemetry (time, series_id, value)
SELECT %(hour)s::timestamptz + i * interval '15 seconds', s.id,
       1000 * s.id + i * 0.01 * (s.id %% 7 + 1)
FROM generate_series(0, %(last)s) i CROSS JOIN series s
WHERE s.park_id = 'rollup'
ORDER BY i, s.id
"""
"""One reading every 15 s from the hour's start, a counter rising at one of seven rates, stored
in time order as the ingestor stores a park's stream (a series' readings of an hour on as
many pages as it has readings, among the other series')."""

DAY_HOURS = """
INSERT INTO rollup_hour (series_id, bucket, count, sum, min, max, first_time, first_value,
                         last_time, last_value, increase)
SELECT s.id, h, 240, 240 * v, v, v + 2.39, h, v, h + interval '3585 seconds', v + 2.39, 2.39
FROM series s
CROSS JOIN generate_series(%(day)s::timestamptz, %(day)s::timestamptz + interval '23 hours',
                           interval '1 hour') h
CROSS JOIN LATERAL (SELECT 1000.0 * s.id AS v) x
WHERE s.park_id = 'rollup' AND h <> %(hour)s AND s.id %% 2 = %(half)s
"""
"""The other hourly rows of the open hour's local day (whatever their values: the day's row
reads them all)."""

MAKE_DUE = """
INSERT INTO telemetry_dirty (series_id, bucket, marked_at)
SELECT id, %s, now() - interval '1 day' FROM series WHERE park_id = 'rollup'
ON CONFLICT (series_id, bucket) DO UPDATE SET marked_at = excluded.marked_at, claimed_at = NULL
"""

CHECKSUM = sql.SQL("""
SELECT count(*), coalesce(sum(count), 0), coalesce(sum(sum), 0), coalesce(sum(increase), 0)
FROM {table} r JOIN series s ON s.id = r.series_id WHERE s.park_id = 'rollup'
""")


@dataclass
class Variant:
    name: str
    interval: timedelta
    description: str
    batches: dict[int, list[list[float]]] = field(default_factory=dict)  # fill: rounds: s

    def per_batch(self, fill: int) -> float:
        """Median seconds per full batch over every round at ``fill`` readings an hour."""
        rounds = self.batches[fill]
        full = [s for r in rounds for s in r[:-1]] or [s for r in rounds for s in r]
        return statistics.median(full)


VARIANTS = (
    ("open", OPEN_INTERVAL, "the hourly rows; marks kept (now)"),
    ("full", timedelta(0), "hourly rows and the days' rows; marks released (before)"),
)


def open_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)


def load(url: str, series: int) -> datetime:
    """Load the park anew; return its open hour."""
    started = time.monotonic()
    hour = open_hour()
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE telemetry, rollup_hour, rollup_day, rollup_month, telemetry_dirty")
        conn.execute("DELETE FROM park WHERE id = %s", (PARK,))
        conn.execute("INSERT INTO park (id, name) VALUES (%s, 'rollup bench')", (PARK,))
        conn.execute(
            "INSERT INTO device (park_id, id, type, name) SELECT %s, 'm' || n, "
            "'electricity_meter', 'meter ' || n FROM generate_series(1, %s) n",
            (PARK, series),
        )
        conn.execute(
            "INSERT INTO series (park_id, device_id, metric) SELECT %s, id, 'energy_kwh' "
            "FROM device WHERE park_id = %s ORDER BY id",
            (PARK, PARK),
        )
        day = conn.execute(
            "SELECT time_bucket('1 day', %s::timestamptz, 'Asia/Shanghai')", (hour,)
        ).fetchone()[0]  # type: ignore[index]
    run_bulk_parallel(url, DAY_HOURS, [{"hour": hour, "day": day, "half": h} for h in (0, 1)])
    print(f"loaded {series:,} series in {time.monotonic() - started:.0f} s", flush=True)
    return hour


def fill(url: str, hour: datetime, readings: int) -> None:
    """``readings`` readings per series in the open hour, in place of what it held."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "DELETE FROM telemetry WHERE time >= %s AND time < %s",
            (hour, hour + timedelta(hours=1)),
        )
    run_bulk(url, READINGS, {"hour": hour, "last": readings - 1})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE telemetry")


def make_due(url: str, hour: datetime) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM telemetry_dirty")
        marked = conn.execute(MAKE_DUE, (hour,)).rowcount
        conn.execute("VACUUM ANALYZE rollup_hour, rollup_day, telemetry_dirty")
    return marked


def checksum(url: str, table: str) -> tuple[float, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(CHECKSUM.format(table=sql.Identifier(table))).fetchone()
    assert row is not None
    return tuple(float(v) for v in row)


async def run(url: str, settings: Settings) -> list[float]:
    """The job, a transaction per batch, until nothing is due: each batch's seconds."""
    engine = create_engine_for(url, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    took: list[float] = []
    try:
        while True:
            began = time.perf_counter()
            async with sessions() as session, session.begin():
                done = await rollup(session, settings)
            if not done:
                return took
            took.append(time.perf_counter() - began)
    finally:
        await engine.dispose()


def report(variants: list[Variant], fills: list[int], series: int, rounds: int, load: str) -> str:
    lines = [
        HEADING,
        "",
        "`make bench-rollup`: what the rollup job costs per open hour, done as it does it now "
        "(the hourly row; the day's row once the hour has closed) against the same hours done "
        "in full (the hourly row and the day's row: every open hour before, each closed hour "
        "still), in the same run.",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average {load}. "
        f"{series:,} series, each with the 23 other hourly rows of its open hour's local day "
        "(Asia/Shanghai) and the hour's readings so far, one every 15 s; the worker's `rollup` "
        f"job, batches of {BATCH:,}, a transaction each, {rounds} rounds with the two variants "
        "in alternating order, every mark due and the tables vacuumed before each. Per batch: "
        "the median over the rounds' full batches.",
        "",
        "| readings in the open hour | variant | what a batch does | per batch | per hour | "
        "a pass over 162,359 open hours (bench/park100k) | now / before |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in fills:
        now, before = (v.per_batch(n) for v in variants)
        for v in variants:
            per_hour = v.per_batch(n) / BATCH
            lines.append(
                f"| {n} ({n // 4} min) | {v.name} | {v.description} | "
                f"{v.per_batch(n) * 1000:,.0f} ms | {per_hour * 1e6:,.0f} µs | "
                f"{per_hour * PARK100K_SERIES:,.0f} s | "
                + (f"{now / before:.0%}" if v is variants[0] else "")
                + " |"
            )
    lines += [
        "",
        "`full` is what every open hour cost before this change and what each closed hour "
        "still costs, once, after the hour. At bench/park100k's interval (10 min) the job "
        "passes over the open hours five times an hour (10 to 50 minutes in) and once over the "
        "closed ones. The two variants' hourly rows are identical; the open variant leaves the "
        "day rows alone (both checked by the bench).",
    ]
    return "\n".join(lines) + "\n"


def measure(
    url: str, hour: datetime, job: Settings, variants: list[Variant], n: int, rounds: int
) -> None:
    """Both variants ``rounds`` times with ``n`` readings in the open hour."""
    fill(url, hour, n)

    def run_variant(v: Variant) -> tuple[int, list[float]]:
        marked = make_due(url, hour)
        settings = job.model_copy(update={"rollup_open_hour_interval": v.interval})
        took = asyncio.run(run(url, settings))
        assert len(took) == -(-marked // BATCH), (v.name, len(took), marked)
        return marked, took

    run_variant(variants[1])  # a first full pass, not timed: the day rows hold this fill
    days = checksum(url, "rollup_day")
    assert days[1] == (23 * 240 + n) * days[0], days  # each day row counts its 24 hours
    hours: dict[str, tuple[float, ...]] = {}
    for r in range(rounds):
        for v in variants if r % 2 == 0 else variants[::-1]:
            marked, took = run_variant(v)
            v.batches.setdefault(n, []).append(took)
            hours[v.name] = checksum(url, "rollup_hour")
            again = checksum(url, "rollup_day")
            assert all(map(math.isclose, again, days)), f"{v.name} changed the day rows"
            print(f"{n} readings, round {r + 1}, {v.name}: {sum(took):.1f} s for {marked:,} "
                  "hours", flush=True)  # fmt: skip
    same = map(math.isclose, hours["open"], hours["full"])  # sums in another order
    assert all(same), hours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--fill", default="40,120,240", help="readings per series in the hour")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-report", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args()
    fills = [int(n) for n in args.fill.split(",")]
    if not all(1 <= n <= 240 for n in fills):
        parser.error("--fill: between 1 and 240 readings (one every 15 s)")
    if args.series < 1 or args.rounds < 1:
        parser.error("--series and --rounds: at least 1")
    settings = get_settings()
    services = EmbeddedServices.from_settings(settings)
    urls = services.up()
    url = bench_database(services, "parktwin_bench_rollup")
    upgrade_to_head(url)
    hour = load(url, args.series)
    job = Settings(
        database_url=url, mqtt_url=urls["PARKTWIN_MQTT_URL"], rollup_batch=BATCH,
        raw_retention=timedelta(days=30), log_level="WARNING",
    )  # fmt: skip
    variants = [Variant(*v) for v in VARIANTS]
    before = os.getloadavg()[0]
    for n in fills:
        measure(url, hour, job, variants, n, args.rounds)
    load_avg = f"{before:.1f} before, {os.getloadavg()[0]:.1f} after"
    section = report(variants, fills, args.series, args.rounds, load_avg)
    print(section)
    if not args.no_report:
        replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
