"""``.venv/bin/python -m bench.spatial``: spatial queries over a park of 5,000 devices and 500
buildings, through the API, with the STRtree index and against a linear scan.

1. The embedded services (``parktwin services up``) and a database ``parktwin_bench_spatial``
   migrated to head, loaded once: park ``spatial`` (0.1° x 0.1°, about 9.5 km x 11 km near
   Suzhou), 100 parcels in a 10 x 10 grid, 5 buildings on each (500), 2 spaces per building,
   10 located devices per building (5,000), 200 enterprises leasing a space each.
2. The app in this process under Starlette's TestClient (the whole API path: auth, park
   check, the index fingerprint query, the query, JSON), one request at a time.
3. Each scenario asks ``REQUESTS`` times at seeded random points in the park, first with the
   index, then with ``app.state.spatial_brute_force`` set (every item measured, no STRtree)
   at the same points; the answers of the two must be equal.
4. p50/p99/max latency written under "## Spatial queries (bench/spatial)" in
   docs/benchmarks.md, with the target (p99 < 20 ms) and the cost of a cold index build.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from fastapi.testclient import TestClient

from app.assets.twin.index import IndexCache, ParkIndex
from app.core import geodesy as geo
from app.core.config import Settings, get_settings
from app.core.migrate import upgrade_to_head
from app.embedded.services import EmbeddedServices
from app.main import create_app
from bench.common import bench_database, viewer_key
from bench.report import replace_section

PARK = "spatial"
WEST, SOUTH, SIZE = 120.65, 31.25, 0.1
GRID = 10  # parcels per side
BUILDINGS_PER_PARCEL = 5
DEVICES_PER_BUILDING = 10
SPACES_PER_BUILDING = 2
ENTERPRISES = 200
REQUESTS = 400
WARMUP = 20
TARGET_P99_MS = 20.0
HEADING = "## Spatial queries (bench/spatial)"
SCENARIOS: list[tuple[str, str, dict[str, Any]]] = [
    ("devices within 100 m", "nearby", {"kind": "device", "radius_m": 100}),
    ("devices within 500 m", "nearby", {"kind": "device", "radius_m": 500, "limit": 1000}),
    ("10 nearest devices", "nearby", {"kind": "device", "limit": 10}),
    ("buildings within 300 m", "nearby", {"kind": "building", "radius_m": 300}),
    ("5 nearest buildings", "nearby", {"kind": "building", "limit": 5}),
    ("spaces within 200 m", "nearby", {"kind": "space", "radius_m": 200}),
    ("enterprises within 500 m", "nearby", {"kind": "enterprise", "radius_m": 500}),
    ("parcel + building at a point", "containing", {}),
]


def square(lon: float, lat: float, width: float, height: float) -> dict[str, Any]:
    ring = [
        [lon, lat],
        [lon + width, lat],
        [lon + width, lat + height],
        [lon, lat + height],
        [lon, lat],
    ]
    return {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring]]}


def loaded(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM device WHERE park_id = %s", (PARK,)).fetchone()
    return bool(row and row[0] >= GRID * GRID * BUILDINGS_PER_PARCEL * DEVICES_PER_BUILDING)


def park_rows(rng: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the park, in a fixed layout with seeded jitter."""
    rows: dict[str, list[tuple[Any, ...]]] = {
        k: [] for k in ("parcel", "building", "space", "device")
    }
    cell = SIZE / GRID
    for gx in range(GRID):
        for gy in range(GRID):
            lon, lat = WEST + gx * cell, SOUTH + gy * cell
            parcel_id = f"P{gx:02d}{gy:02d}"
            shape = square(lon, lat, cell, cell)
            area = geo.area_m2(geo.polygon(shape))
            rows["parcel"].append(
                (PARK, parcel_id, parcel_id, "M1", orjson.dumps(shape).decode(), area)
            )
            for k in range(BUILDINGS_PER_PARCEL):
                building_id = f"{parcel_id}-B{k}"
                bx = lon + cell * (0.05 + 0.18 * k) + rng.uniform(0, cell * 0.02)
                by = lat + cell * rng.uniform(0.1, 0.6)
                w, h = cell * 0.15, cell * rng.uniform(0.1, 0.3)
                footprint = square(bx, by, w, h)
                area = geo.area_m2(geo.polygon(footprint))
                rows["building"].append(
                    (
                        PARK,
                        building_id,
                        building_id,
                        parcel_id,
                        orjson.dumps(footprint).decode(),
                        4,
                        area,
                    )
                )
                for s in range(SPACES_PER_BUILDING):
                    rows["space"].append(
                        (PARK, f"{building_id}-S{s}", building_id, s + 1, f"{s + 1}01", 500.0)
                    )
                for d in range(DEVICES_PER_BUILDING):
                    rows["device"].append(
                        (
                            PARK,
                            f"{building_id}-D{d}",
                            "electricity_meter",
                            f"meter {d}",
                            bx + rng.uniform(0, w),
                            by + rng.uniform(0, h),
                            building_id,
                        )
                    )
    return rows


def load(url: str) -> None:
    rng = random.Random(6)
    rows = park_rows(rng)
    boundary = orjson.dumps(square(WEST, SOUTH, SIZE, SIZE)).decode()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM park WHERE id = %s", (PARK,))
        cur.execute(
            "INSERT INTO park (id, name, boundary) VALUES (%s, 'spatial bench', %s)",
            (PARK, boundary),
        )
        cur.executemany(
            "INSERT INTO parcel (park_id, id, name, land_use, geometry, area_m2) VALUES (%s, %s, %s, %s, %s, %s)",
            rows["parcel"],
        )
        cur.executemany(
            "INSERT INTO building (park_id, id, name, parcel_id, footprint, floors, area_m2) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows["building"],
        )
        cur.executemany(
            "INSERT INTO space (park_id, id, building_id, floor, name, area_m2) VALUES (%s, %s, %s, %s, %s, %s)",
            rows["space"],
        )
        with cur.copy(
            "COPY device (park_id, id, type, name, lon, lat, building_id) FROM STDIN"
        ) as copy:
            for row in rows["device"]:
                copy.write_row(row)
        start, end = date.today() - timedelta(days=365), date.today() + timedelta(days=3650)
        spaces = rng.sample([r[1] for r in rows["space"]], ENTERPRISES)
        for n, space_id in enumerate(spaces):
            code = f"9132059{n:010d}X"
            cur.execute(
                "INSERT INTO enterprise (park_id, id, name, credit_code) VALUES (%s, %s, %s, %s)",
                (PARK, f"E{n:03d}", f"enterprise {n}", code),
            )
            cur.execute(
                "INSERT INTO lease (park_id, id, enterprise_id, space_id, area_m2, start_date, end_date) "
                "VALUES (%s, %s, %s, %s, 500, %s, %s)",
                (PARK, f"L{n:03d}", f"E{n:03d}", space_id, start, end),
            )


@dataclass
class Result:
    name: str
    indexed: list[float]
    scanned: list[float]
    query_indexed: list[float] = field(default_factory=list)
    query_scanned: list[float] = field(default_factory=list)

    @staticmethod
    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def points(seed: int, n: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(WEST + rng.uniform(0, SIZE), SOUTH + rng.uniform(0, SIZE)) for _ in range(n)]


def ask(
    client: TestClient, headers: dict[str, str], url: str, params: dict[str, Any], scan: bool
) -> tuple[float, Any]:
    client.app.state.spatial_brute_force = scan  # type: ignore[attr-defined]
    began = time.perf_counter()
    response = client.get(url, params=params, headers=headers)
    elapsed = (time.perf_counter() - began) * 1000
    assert response.status_code == 200, response.text
    return elapsed, response.json()


def run(
    client: TestClient,
    headers: dict[str, str],
    path: str,
    params: dict[str, Any],
    at: list[tuple[float, float]],
) -> tuple[list[float], list[float]]:
    """Both modes at each point, in alternating order (so both see the same machine load);
    their answers must be equal."""
    url = f"/api/v1/parks/{PARK}/spatial/{path}"
    indexed, scanned = [], []
    try:
        for n, (lon, lat) in enumerate(at):
            query = {"lon": lon, "lat": lat, **params}
            answers = {}
            for scan in (False, True) if n % 2 else (True, False):
                elapsed, answers[scan] = ask(client, headers, url, query, scan)
                (scanned if scan else indexed).append(elapsed)
            assert answers[False] == answers[True], f"{path} {query}: index and scan disagree"
    finally:
        client.app.state.spatial_brute_force = False  # type: ignore[attr-defined]
    return indexed, scanned


def query_only(
    index: ParkIndex, path: str, params: dict[str, Any], at: list[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    """The query alone, in process (no HTTP, no database): the index's own gain."""
    times: dict[bool, list[float]] = {False: [], True: []}
    for lon, lat in at:
        for scan in (False, True):
            began = time.perf_counter()
            if path == "containing":
                for kind in ("parcel", "building"):
                    index.layer(kind).containing(lon, lat, brute_force=scan)
            elif "radius_m" in params:
                index.layer(params["kind"]).within(lon, lat, params["radius_m"], brute_force=scan)
            else:
                index.layer(params["kind"]).nearest(lon, lat, params["limit"], brute_force=scan)
            times[scan].append((time.perf_counter() - began) * 1000)
    return times[False], times[True]


def measure(client: TestClient, headers: dict[str, str]) -> tuple[list[Result], dict[str, float]]:
    began = time.perf_counter()
    run(client, headers, "containing", {}, points(0, 1))
    extra = {"first query (cold index build) ms": (time.perf_counter() - began) * 1000}
    cache: IndexCache = client.app.state.spatial_indexes  # type: ignore[attr-defined]
    ((_, index),) = cache.entries.values()
    results = []
    for n, (name, path, params) in enumerate(SCENARIOS):
        at = points(n + 1, REQUESTS)
        run(client, headers, path, params, at[:WARMUP])
        indexed, scanned = run(client, headers, path, params, at)
        alone = query_only(index, path, params, at)
        results.append(Result(name, indexed, scanned, *alone))
        print(
            f"{name}: p99 {Result.p(indexed, 0.99):.1f} ms indexed, {Result.p(scanned, 0.99):.1f} ms scanned",
            flush=True,
        )
    for label, url in (
        ("park twin (roll-up) ms", f"/api/v1/parks/{PARK}/twin"),
        ("map ms", f"/api/v1/parks/{PARK}/map"),
        ("building view ms", f"/api/v1/parks/{PARK}/buildings/P0505-B2/twin"),
    ):
        times = []
        for _ in range(20):
            began = time.perf_counter()
            assert client.get(url, headers=headers).status_code == 200
            times.append((time.perf_counter() - began) * 1000)
        extra[label] = statistics.median(times)
    return results, extra


def _ms(values: list[float], q: float) -> str:
    return f"{Result.p(values, q):.2f}" if values else "–"


def report(results: list[Result], extra: dict[str, float], loadavg: str) -> str:
    worst = max(Result.p(r.indexed, 0.99) for r in results)
    verdict = "met" if worst < TARGET_P99_MS else "NOT met"
    met = sum(Result.p(r.indexed, 0.99) < TARGET_P99_MS for r in results)
    lines = [
        HEADING,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with `.venv/bin/python -m "
        f"bench.spatial` (`make bench-spatial`) on this machine ({os.cpu_count()} cores, shared "
        f"with other work; load average {loadavg}). Park `{PARK}`: {GRID * GRID} parcels, "
        f"{GRID * GRID * BUILDINGS_PER_PARCEL} buildings, "
        f"{GRID * GRID * BUILDINGS_PER_PARCEL * SPACES_PER_BUILDING} spaces, "
        f"{GRID * GRID * BUILDINGS_PER_PARCEL * DEVICES_PER_BUILDING} located devices, "
        f"{ENTERPRISES} enterprises with a lease, over 0.1° x 0.1° (about 9.5 km x 11 km).",
        "",
        "*API* columns: each query through the whole API path (TestClient, one request at a "
        "time: key and park checks, the asset-version lookup, the query, JSON) at "
        f"{REQUESTS} seeded random points, *indexed* with the park's STRtree and *scan* "
        "measuring every item of the kind (`app.state.spatial_brute_force`), the two asked "
        "alternately at each point (so both see the same machine load) and their answers "
        "checked equal. *Query alone*: the same queries on the same index in process, no HTTP "
        "and no database: what the STRtree itself saves. Distances are geodesic in both.",
        "",
        f"Target p99 < {TARGET_P99_MS:.0f} ms through the API: **{verdict}** (worst indexed "
        f"p99 {worst:.1f} ms; {met} of {len(results)} query types under it). The query itself "
        "(right-hand columns) stays far below the target; the rest is the API path and the "
        "load of the shared machine, which the scan columns, asked at the same moments, share.",
        "",
        "| query | API indexed p50 | API indexed p99 | API scan p50 | API scan p99 "
        "| query alone indexed p50 / p99 | query alone scan p50 / p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.name} | {_ms(r.indexed, 0.5)} | {_ms(r.indexed, 0.99)} | {_ms(r.scanned, 0.5)} | "
        f"{_ms(r.scanned, 0.99)} | {_ms(r.query_indexed, 0.5)} / {_ms(r.query_indexed, 0.99)} | "
        f"{_ms(r.query_scanned, 0.5)} / {_ms(r.query_scanned, 0.99)} |"
        for r in results
    ]
    lines += ["", "All times in ms. Other twin reads on the same park (median of 20):", ""]
    lines += [f"- {label.removesuffix(' ms')}: {value:.1f} ms" for label, value in extra.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    settings = get_settings()
    services = EmbeddedServices.from_settings(settings)
    urls = services.up()
    db_url = bench_database(services, "parktwin_bench_spatial")
    upgrade_to_head(db_url)
    if not loaded(db_url):
        print("loading the park (once)...", flush=True)
        load(db_url)
    token = viewer_key(db_url)
    app_settings = Settings(
        database_url=db_url, mqtt_url=urls["PARKTWIN_MQTT_URL"], log_level="WARNING"
    )  # type: ignore[call-arg]
    before = os.getloadavg()[0]
    with TestClient(create_app(app_settings)) as client:
        results, extra = measure(client, {"Authorization": f"Bearer {token}"})
    loadavg = f"{before:.1f} before, {os.getloadavg()[0]:.1f} after"
    section = report(results, extra, loadavg)
    print(section)
    replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
