"""``.venv/bin/python -m bench.api``: the read API under 50 concurrent dashboard pollers.

1. The embedded services (``parktwin services up``), a database ``parktwin_bench`` migrated to
   head and loaded once (bench/api/load.py: 1,000 meters x 30 days of minute data).
2. ``parktwin api`` in a subprocess, as deployed (one uvicorn process), and a second one with
   the bulk-latest answer cache turned off (``PARKTWIN_LATEST_CACHE_TTL=0``): the baseline.
3. Five scenarios, each by 50 pollers over keep-alive connections: first paced (each poller
   asks once a second, as a dashboard does: 50 requests/s offered), then flat out (each asks
   again as soon as it has its answer: the most the API serves). Every answer must be a 200
   or a 503 (load the API shed: counted).
   - bulk latest: ``GET /parks/bench/latest``, 1,000 devices x 2 metrics (1,000 tiles), as
     deployed and from the API without the cache (every request a query)
   - 24-hour minute series: raw readings of one random meter (1,440 points)
   - 30-day hourly series (``interval=1h&agg=delta``, 720 points) from the rollups, then the
     same from raw readings (``source=raw``), in the same run
4. p50/p99 latency and requests/s, written under "## API (bench/api)" in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2

from app.core.config import get_settings
from app.core.migrate import upgrade_to_head
from app.embedded.process import free_port
from app.embedded.services import EmbeddedServices
from bench.api.load import DEVICES, load, loaded
from bench.common import bench_database, viewer_key
from bench.report import replace_section

POLLERS = 50
PERIODS = (5.0, 1.0, 0.0)  # every 5 s (10 req/s offered), every second (50 req/s), flat out
PACED_S = 10.0
FLAT_OUT_S = 10.0
WARMUP_S = 2.0
HEADING = "## API (bench/api)"


@dataclass
class Scenario:
    name: str
    path: object  # a callable returning the next URL
    points: int | None


@dataclass
class Result:
    name: str
    mode: str
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    busy: int = 0  # 503 answers: the API shedding load it cannot serve in time

    @property
    def rps(self) -> float:
        return self.count / self.seconds


def start_api(db_url: str, mqtt_url: str, port: int, **settings: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PARKTWIN_DATABASE_URL": db_url,
        "PARKTWIN_MQTT_URL": mqtt_url,
        "PARKTWIN_LOG_LEVEL": "WARNING",
        **{f"PARKTWIN_{k.upper()}": v for k, v in settings.items()},
    }
    return subprocess.Popen([sys.executable, "-m", "app.cli", "api", "--port", str(port)], env=env)


def wait_ready(base: str, api: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit("the API exited")
        try:
            if httpx2.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the API did not become ready")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def poll(
    client: httpx2.AsyncClient,
    scenario: Scenario,
    until: float,
    period: float,
    out: list[float],
    busy: list[int],
) -> None:
    """Ask, then wait until ``period`` seconds after the last ask (0: ask again at once).
    A 503 (overload shed) is counted; any other answer but a 200 ends the benchmark."""
    await asyncio.sleep(random.random() * period)
    while (started := time.perf_counter()) < until:
        response = await client.get(scenario.path())  # type: ignore[operator]
        if response.status_code == 503:
            busy.append(1)
        elif response.status_code != 200:
            raise SystemExit(f"{scenario.name}: {response.status_code} {response.text[:300]}")
        else:
            out.append(time.perf_counter() - started)
        await asyncio.sleep(max(0.0, started + period - time.perf_counter()))


def mode_name(period: float) -> str:
    return f"paced 1/{period:g}s" if period else "flat out"


async def run_mode(
    client: httpx2.AsyncClient, scenario: Scenario, seconds: float, period: float
) -> Result:
    latencies: list[float] = []
    busy: list[int] = []
    began = time.perf_counter()
    until = began + seconds
    await asyncio.gather(
        *(poll(client, scenario, until, period, latencies, busy) for _ in range(POLLERS))
    )
    elapsed = time.perf_counter() - began
    return Result(
        scenario.name,
        mode_name(period),
        len(latencies),
        elapsed,
        percentile(latencies, 0.5) * 1000 if latencies else float("nan"),
        percentile(latencies, 0.99) * 1000 if latencies else float("nan"),
        len(busy),
    )


UNCACHED = "bulk latest, 1,000 devices, cache off"
CACHED = "bulk latest, 1,000 devices"


async def run_all(
    base: str, uncached_base: str, token: str, end: datetime
) -> tuple[list[Result], dict[str, str]]:
    def device() -> str:
        return f"m{random.randint(1, DEVICES)}"

    def series(params: str) -> object:
        return lambda: f"/api/v1/parks/bench/devices/{device()}/series/energy_kwh?{params}"

    iso = "%Y-%m-%dT%H:%M:%SZ"
    day = f"from={(end - timedelta(days=1)).strftime(iso)}&to={end.strftime(iso)}"
    month = f"from={(end - timedelta(days=30)).strftime(iso)}&to={end.strftime(iso)}"
    scenarios = [
        Scenario(CACHED, lambda: "/api/v1/parks/bench/latest", None),
        Scenario(UNCACHED, lambda: uncached_base + "/api/v1/parks/bench/latest", None),
        Scenario("24 h of minute readings (raw)", series(day), 1440),
        Scenario("30 d hourly delta from rollups", series(month + "&interval=1h&agg=delta"), 720),
        Scenario(
            "30 d hourly delta from raw", series(month + "&interval=1h&agg=delta&source=raw"), 720
        ),
    ]
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx2.Limits(max_connections=POLLERS, max_keepalive_connections=POLLERS)
    results: list[Result] = []
    checks: dict[str, str] = {}
    async with httpx2.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:
        for scenario in scenarios:
            first = (await client.get(scenario.path())).json()  # type: ignore[operator]
            size = len(first["items"]) if scenario.points is None else len(first["points"])
            checks[scenario.name] = f"{size} {'devices' if scenario.points is None else 'points'}"
            await run_mode(client, scenario, WARMUP_S, period=0)
            for period in PERIODS:
                seconds = PACED_S if period else FLAT_OUT_S
                results.append(await run_mode(client, scenario, seconds, period=period))
        path = f"/api/v1/parks/bench/devices/m7/series/energy_kwh?{month}&interval=1h&agg=delta"
        rolled = (await client.get(path)).json()
        raw = (await client.get(path + "&source=raw")).json()
        same = rolled["points"] == raw["points"] and rolled["source"] == "rollup_hour"
        checks["rollups == raw (m7, 30 d hourly delta)"] = "yes" if same else "NO"
    return results, checks


def report(
    results: list[Result], checks: dict[str, str], end: datetime, load_s: float, loadavg: str
) -> str:
    by = {(r.name, r.mode): r for r in results}
    ratio_p50 = (
        by[("30 d hourly delta from raw", "paced 1/1s")].p50_ms
        / by[("30 d hourly delta from rollups", "paced 1/1s")].p50_ms
    )
    ratio_rps = (
        by[("30 d hourly delta from rollups", "flat out")].rps
        / by[("30 d hourly delta from raw", "flat out")].rps
    )
    lines = [
        HEADING,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with "
        "`.venv/bin/python -m bench.api` "
        f"on this machine ({os.cpu_count()} cores, shared; PostgreSQL, the API and the pollers on "
        "the same cores). Park `bench`: 1,000 electricity meters, 30 days of one-minute "
        f"`energy_kwh` readings each (43.2 M rows, ending {end.strftime('%Y-%m-%d %H:%M')} UTC), "
        "hourly and daily rollups; one `parktwin api` process (uvicorn). 50 pollers on keep-alive "
        f"connections, {PACED_S:.0f} s per mode: *paced 1/5s* and *paced 1/1s*, each poller asks "
        "every 5 s or every second (10 or 50 requests/s offered, like 50 dashboards refreshing); "
        "*flat out*, each asks again as soon as it has its answer (the most the API serves; "
        "latency there is mostly queueing). Every answer "
        "was a 200 or, where the API shed load it could not serve within its pool wait or "
        "statement timeout, a 503 (counted, not in the latencies); a data set already loaded is "
        f"reused (this run's load: {load_s:.0f} s).",
        "",
        "| scenario | mode | requests | req/s | p50 ms | p99 ms | 503 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.name} | {r.mode} | {r.count} | {r.rps:.1f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
        f"| {r.busy} |"
        for r in results
    ]
    cache_p99 = by[(UNCACHED, "paced 1/1s")].p99_ms / by[(CACHED, "paced 1/1s")].p99_ms
    cache_rps = by[(CACHED, "flat out")].rps / by[(UNCACHED, "flat out")].rps
    lines += [
        "",
        f"30-day hourly series, rollups vs raw: p50 {ratio_p50:.1f}x faster (paced 1/1s), "
        f"{ratio_rps:.1f}x the requests/s (flat out).",
        "",
        f"Bulk latest, shared answer (PARKTWIN_LATEST_CACHE_TTL=1s) vs cache off: p99 "
        f"{cache_p99:.1f}x lower (paced 1/1s), {cache_rps:.1f}x the requests/s (flat out). "
        "The cache helps when pollers ask the same wall (an operations centre's screens); "
        "the cache-off rows are the cost of a wall nobody else is asking for.",
        "",
        "Checks: " + "; ".join(f"{k}: {v}" for k, v in checks.items()) + ".",
        "",
        f"Machine load (1-minute load average) before and after the run: {loadavg}; anything "
        "above the API's own share means other work was sharing the two cores.",
        "",
        "Targets: p99 <= 50 ms for bulk latest and <= 100 ms for the 30-day series, "
        "read at the paced loads.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    settings = get_settings()
    services = EmbeddedServices.from_settings(settings)
    urls = services.up()
    db_url = bench_database(services, "parktwin_bench")
    upgrade_to_head(db_url)
    began = time.monotonic()
    end = loaded(db_url)
    if end is None:
        print("loading the data set (once)...", flush=True)
        end = load(db_url)
    load_s = time.monotonic() - began
    before = os.getloadavg()[0]
    token = viewer_key(db_url)
    port, uncached_port = free_port(), free_port()
    api = start_api(db_url, urls["PARKTWIN_MQTT_URL"], port)
    uncached = start_api(db_url, urls["PARKTWIN_MQTT_URL"], uncached_port, latest_cache_ttl="PT0S")
    try:
        base, uncached_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{uncached_port}"
        wait_ready(base, api)
        wait_ready(uncached_base, uncached)
        results, checks = asyncio.run(run_all(base, uncached_base, token, end))
    finally:
        for process in (api, uncached):
            process.terminate()
            process.wait(30)
    loadavg = f"{before:.1f} and {os.getloadavg()[0]:.1f}"
    section = report(results, checks, end, load_s, loadavg)
    print(section)
    replace_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
