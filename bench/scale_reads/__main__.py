"""``python -m bench.scale_reads [SIZES...] [--only TEXT] [--no-jobs]``: every read path and
every job at 2,000, 20,000 and 100,000 devices, so the curves are visible (a partial run, of
other sizes, some paths or no jobs, prints its table and leaves docs/benchmarks.md alone).

1. The embedded services (``PARKTWIN_STATE_DIR`` etc. choose them, as ``parktwin services
   up``) and one database per size, ``parktwin_bench_scale_<N>``, migrated to head and seeded
   once by ``bench.scale_reads.seed`` (park ``scale``; reused by later runs).
2. The app in this process under Starlette's TestClient (the whole API path: key, park
   check, query, JSON), one request at a time, with the bulk-latest and the twin-and-map
   micro-caches off (``latest_cache_ttl=0``, ``twin_cache_ttl=0``: every request reaches
   PostgreSQL). Each path is asked until
   ``REQUESTS`` answers or ``BUDGET_S`` seconds, after ``WARMUP`` unmeasured ones.
3. The worker's jobs called directly on a session: offline detection (one pass, rolled back),
   the rollup job draining every series' dirty hours (marked as the ingestor marks them), and
   retention.
4. p50/p99 per path and size under "## Reads and jobs at 100,000 devices (bench/scale_reads)"
   in docs/benchmarks.md, with the load average beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.core.config import Settings, get_settings
from app.core.migrate import upgrade_to_head
from app.core.pagination import encode_cursor
from app.embedded.services import EmbeddedServices
from app.main import create_app
from bench.common import bench_database, viewer_key
from bench.report import replace_section
from bench.scale_reads import jobs
from bench.scale_reads.seed import ORIGIN_LAT, ORIGIN_LON, recorded, seed

PARK = "scale"
SIZES = (2_000, 20_000, 100_000)
REQUESTS, WARMUP, BUDGET_S = 40, 2, 20.0
HEADING = "## Reads and jobs at 100,000 devices (bench/scale_reads)"
P = f"/api/v1/parks/{PARK}"
TODAY = datetime.now(UTC).date()
THIS_MONTH = TODAY.strftime("%Y-%m")

Request = tuple[str, str, dict[str, Any] | None, Any]  # method, url, params, json body


@dataclass
class Path:
    name: str
    make: Callable[[random.Random, int], Request]
    before: Callable[[str], None] | None = None  # run on the database before each request
    queued: bool = False  # the seed's raw hours queued for the rollup job (a live park's are)


QUEUE_RAW_HOURS = """
INSERT INTO telemetry_dirty (series_id, bucket, marked_at)
SELECT s.id, h, now() - interval '1 hour'
FROM series s, generate_series(
    (SELECT time_bucket('1 hour', min(time)) FROM telemetry),
    (SELECT time_bucket('1 hour', max(time)) FROM telemetry),
    interval '1 hour') h
"""


def set_queue(url: str, queued: bool) -> None:
    """Every hour rolled up (no dirty mark: the worker has caught up), or every series' hours
    of the seed's raw readings queued, as a live park's open hour always is (its readings
    arrive all the hour; at 100,000 devices the rollup job takes open hours once an hour):
    a read then makes those hours from raw. Set before each path, so no path sees what
    another left (the jobs below leave the open hour marked for its day's row)."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE telemetry_dirty")
        if queued:
            conn.execute(QUEUE_RAW_HOURS)


def _rename_a_device(url: str) -> None:
    """An asset change (a device renamed: one more or one less trailing dot), so the next
    spatial query rebuilds the park's index (app/assets/twin/index.py)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE device SET name = CASE WHEN name LIKE '%%.' THEN rtrim(name, '.') "
            "ELSE name || '.' END WHERE park_id = %s AND id = 'd000000'",
            (PARK,),
        )


def _wall(rng: random.Random, devices: int) -> Request:
    ids = [f"d{n:06d}" for n in rng.sample(range(devices), min(1000, devices))]
    return "POST", P + "/latest/query", None, {"device_ids": ids}


def _page(rng: random.Random, devices: int) -> Request:
    start = rng.randrange(max(1, devices - 1000))
    return "GET", P + "/latest", {"limit": 1000, "cursor": encode_cursor([f"d{start:06d}"])}, None


def _near(rng: random.Random, _devices: int) -> tuple[float, float]:
    return ORIGIN_LON + rng.uniform(0, 0.05), ORIGIN_LAT + rng.uniform(0, 0.05)


def _nearby(rng: random.Random, devices: int) -> Request:
    lon, lat = _near(rng, devices)
    return "GET", P + "/spatial/nearby", {"lon": lon, "lat": lat, "radius_m": 100}, None


def _containing(rng: random.Random, devices: int) -> Request:
    lon, lat = _near(rng, devices)
    return "GET", P + "/spatial/containing", {"lon": lon, "lat": lat}, None


def _get(url: str, params: dict[str, Any] | None = None) -> Callable[[random.Random, int], Request]:
    return lambda _rng, _n: ("GET", url, params, None)


PATHS = [
    Path("bulk latest: wall of 1,000 tiles (POST latest/query)", _wall),
    Path("bulk latest: one building (100 devices)", _get(P + "/latest", {"building_id": "b1"})),
    Path("bulk latest: a page of 1,000 (limit + cursor)", _page),
    Path("bulk latest: whole park, no filter (default)", _get(P + "/latest")),
    Path("devices list, a page of 1,000", _get(P + "/devices", {"limit": 1000})),
    Path("twin roll-up", _get(P + "/twin")),
    Path("building twin (100 devices)", _get(P + "/buildings/b1/twin")),
    Path("map, full (default)", _get(P + "/map")),
    Path("map ?devices=alarmed (the cockpit's map)", _get(P + "/map", {"devices": "alarmed"})),
    Path("map ?zoom=12 (clustered)", _get(P + "/map", {"zoom": 12})),
    Path(
        "map ?zoom=17 + 600 m bbox",
        _get(
            P + "/map",
            {
                "zoom": 17,
                "bbox": f"{ORIGIN_LON},{ORIGIN_LAT},{ORIGIN_LON + 0.006},{ORIGIN_LAT + 0.006}",
            },
        ),
    ),
    Path("spatial nearby devices 100 m", _nearby),
    Path("spatial containing", _containing),
    Path(
        "spatial nearby, the first after an asset change (index rebuilt)",
        _nearby,
        before=_rename_a_device,
    ),
    Path("alarm summary", _get(P + "/alarms/summary")),
    Path("alarms list (all, 100)", _get(P + "/alarms", {"status": "all"})),
    Path("occupancy", _get(P + "/occupancy")),
    Path(
        "bulk latest: every meter's power_kw (the cockpit's load figure until 2026-12-05)",
        _get(P + "/latest", {"type": "electricity_meter", "metric": "power_kw"}),
    ),
    Path("energy now: load and PV summed (the cockpit's load figure)", _get(P + "/energy/now")),
    Path("energy load curve, yesterday and today (every root meter)", _get(P + "/energy/load")),
    Path(
        "energy load curve, yesterday and today, top=8 (the cockpit's)",
        _get(P + "/energy/load", {"top": 8}),
    ),
    Path(
        "carbon energy, month by enterprise", _get(P + "/carbon/energy", {"group_by": "enterprise"})
    ),
    Path(
        "carbon emissions, month by building",
        _get(P + "/carbon/emissions", {"group_by": "building"}),
    ),
    Path(
        "carbon energy, month by enterprise, the open hour queued (a live park)",
        _get(P + "/carbon/energy", {"group_by": "enterprise"}),
        queued=True,
    ),
    Path(
        "energy load curve, top=8, the open hour queued (a live park)",
        _get(P + "/energy/load", {"top": 8}),
        queued=True,
    ),
    Path(
        "enterprise portal: one firm's energy this month (its own meters)",
        _get(P + "/enterprises/e1/energy"),
    ),
    Path("enterprise portal: one firm's overview", _get(P + "/enterprises/e1/overview")),
    # the seed's 31 days of daily rollups end today: this month, the last 30 days, this year
    Path("economy overview, this month", _get(P + "/economy/overview", {"month": THIS_MONTH})),
    Path(
        "economy power index, 30 days",
        _get(
            P + "/economy/power-index", {"from": str(TODAY - timedelta(days=30)), "to": str(TODAY)}
        ),
    ),
    Path(
        "economy 亩均 evaluation, this year (no firm reports its energy)",
        _get(P + "/economy/per-mu", {"year": TODAY.year}),
    ),
]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_path(
    client: TestClient, headers: dict[str, str], path: Path, devices: int, db_url: str
) -> dict[str, Any]:
    rng = random.Random(7)
    times: list[float] = []
    size = 0
    status = 200
    began = time.perf_counter()
    for n in range(WARMUP + REQUESTS):
        method, url, params, body = path.make(rng, devices)
        if path.before is not None:
            path.before(db_url)
        start = time.perf_counter()
        response = client.request(method, url, params=params, json=body, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        status, size = response.status_code, len(response.content)
        if status != 200:
            break
        if n >= WARMUP:
            times.append(elapsed)
        if time.perf_counter() - began > BUDGET_S and len(times) >= 3:
            break
    return {"times": times, "bytes": size, "status": status}


def measure_reads(
    db_url: str, mqtt_url: str, devices: int, paths: list[Path]
) -> dict[str, dict[str, Any]]:
    token = viewer_key(db_url)
    settings = Settings(
        database_url=db_url,
        mqtt_url=mqtt_url,
        log_level="WARNING",
        latest_cache_ttl=0,
        twin_cache_ttl=0,
    )  # type: ignore[call-arg]
    results = {}
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for path in paths:
            set_queue(db_url, path.queued)
            results[path.name] = measure_path(client, headers, path, devices, db_url)
            r = results[path.name]
            p99 = quantile(r["times"], 0.99) if r["times"] else float("nan")
            print(
                f"  {devices}: {path.name}: p99 {p99:.1f} ms, {r['bytes']} B, {r['status']}",
                flush=True,
            )
    return results


def seeded(url: str, devices: int) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM device WHERE park_id = %s", (PARK,)).fetchone()
    return bool(row and row[0] == devices)


def _ms(r: dict[str, Any] | None, q: float) -> str:
    if r is None:
        return "–"
    if r["status"] != 200:
        return f"HTTP {r['status']}"
    return f"{quantile(r['times'], q):.1f}"


def _kb(r: dict[str, Any] | None) -> str:
    return "–" if r is None or r["status"] != 200 else f"{r['bytes'] / 1024:,.0f}"


def report(
    sizes: list[int],
    reads: dict[int, dict[str, dict[str, Any]]],
    job_results: dict[int, dict[str, str]],
    seeds: dict[int, dict[str, float]],
    loadavg: str,
) -> str:
    head = " | ".join(f"{n:,} p50 / p99 (KiB)" for n in sizes)
    lines = [
        HEADING,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with `.venv/bin/python -m "
        f"bench.scale_reads` on this machine ({os.cpu_count()} cores; load average "
        f"{loadavg}: a load near the core count or above it means other work shared the "
        "machine and the absolute figures are noisy; the curves across sizes are the point). "
        "Park `scale` "
        "seeded straight into PostgreSQL by bench/scale_reads/seed.py: N/100 buildings of "
        "100 located devices, 10 buildings per parcel, 4 spaces per building, an enterprise "
        "per two buildings, every series with a latest value, 20 minutes of 15-s readings "
        "(their hours rolled up by the worker's statements), "
        "31 days of daily rollups for the counters, 0.5 % of devices with an open alarm.",
        "",
        "Through the whole API path (TestClient, one request at a time), the bulk-latest "
        "and the twin-and-map micro-caches off (every request reaches PostgreSQL); up to "
        f"{REQUESTS} requests or {BUDGET_S:.0f} s per path. Every hour rolled up (no "
        "dirty mark) except where a path says the open hour is queued: every series' hour of "
        "the seed's raw readings marked for the rollup job, as a live park's open hour always "
        "is, so the read makes it from raw (bench.scale_reads.set_queue). Times in ms.",
        "",
        f"| path | {head} |",
        "|---|" + "---:|" * len(sizes),
    ]
    for path in (p for p in PATHS if any(p.name in reads[n] for n in sizes)):
        cells = [
            f"{_ms(reads[n].get(path.name), 0.5)} / {_ms(reads[n].get(path.name), 0.99)} "
            f"({_kb(reads[n].get(path.name))})"
            for n in sizes
        ]
        lines.append(f"| {path.name} | " + " | ".join(cells) + " |")
    lines += ["", "Jobs (one pass each, on a session of their own):", ""]
    names = list(next(iter(job_results.values())).keys()) if job_results else []
    lines += [f"| job | {' | '.join(f'{n:,}' for n in sizes)} |", "|---|" + "---:|" * len(sizes)]
    lines += [
        f"| {name} | " + " | ".join(job_results[n].get(name, "–") for n in sizes) + " |"
        for name in names
    ]
    lines += [
        "",
        "Seeding (SQL `generate_series`, no broker accounts): "
        + ", ".join(f"{n:,} devices {seeds[n]['total']:.0f} s" for n in sizes if n in seeds)
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_reads")
    parser.add_argument("sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument("--only", help="only the read paths whose name holds this text")
    parser.add_argument("--no-jobs", dest="jobs", action="store_false")
    args = parser.parse_args(argv)
    sizes: list[int] = args.sizes
    paths = [p for p in PATHS if args.only is None or args.only in p.name]
    settings = get_settings()
    services = EmbeddedServices.from_settings(settings)
    urls = services.up()
    mqtt_url = urls["PARKTWIN_MQTT_URL"]
    before = os.getloadavg()
    reads: dict[int, dict[str, dict[str, Any]]] = {}
    job_results: dict[int, dict[str, str]] = {}
    seeds: dict[int, dict[str, float]] = {}
    for devices in sizes:
        db_url = bench_database(services, f"parktwin_bench_scale_{devices}")
        upgrade_to_head(db_url)
        if not seeded(db_url, devices):
            print(f"seeding {devices} devices...", flush=True)
            seed(db_url, PARK, devices)
        seeds[devices] = recorded(db_url, PARK) or {"total": float("nan")}
        reads[devices] = measure_reads(db_url, mqtt_url, devices, paths)
        if args.jobs:
            job_results[devices] = asyncio.run(jobs.measure(db_url, mqtt_url))
            print(f"  {devices}: jobs {job_results[devices]}", flush=True)
    after = os.getloadavg()
    loadavg = f"{before[0]:.1f} / {before[1]:.1f} before, {after[0]:.1f} / {after[1]:.1f} after (1 / 5 min)"
    section = report(sizes, reads, job_results, seeds, loadavg)
    print(section)
    if sizes == list(SIZES) and paths == PATHS and args.jobs:  # a partial run prints only
        replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
