"""``.venv/bin/python -m bench.export`` (``--only parquet --days 5``: one format, a shorter
range, under a heading of its own): bulk exports of 30 days x 1,000 meters of minute
readings (43.2 M rows) through a real ``parktwin api`` process, in constant memory.

1. The embedded services (``parktwin services up``; set ``PARKTWIN_STATE_DIR`` and the
   ``PARKTWIN_EMBEDDED_*_PORT`` variables to run them beside other work) and a database
   ``parktwin_bench_export`` migrated to head, loaded once by bench/api/load.py (park
   ``bench``: 1,000 electricity meters, 30 days of one-minute ``energy_kwh`` made server-side
   with ``INSERT ... SELECT generate_series``, with their hourly and daily rollups).
2. ``parktwin api`` in a subprocess, as deployed (one uvicorn process). Each export is
   downloaded with httpx as a stream, the bytes counted (CSV rows by their line ends, Parquet
   rows from the file's footer), while a thread samples the API process's resident memory
   (``VmRSS`` in /proc/<pid>/status) every 0.1 s.
3. The baseline is the same export over one day (1.44 M rows), in the same run: if memory grew
   with the export's size, the 30-day export's peak would be about 30 times the 1-day one's.
4. Results under "## Export (bench/export)" in docs/benchmarks.md, with the load average
   (the machine is shared).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from app.core.config import get_settings
from app.core.migrate import upgrade_to_head
from app.embedded.process import free_port
from app.embedded.services import EmbeddedServices
from bench.api.__main__ import start_api
from bench.api.load import DAYS, DEVICES, load, loaded
from bench.common import bench_database, viewer_key
from bench.report import replace_section

HEADING = "## Export (bench/export)"
RUNS = [  # (format, lang, days): the 1-day exports are the baseline
    ("csv", "zh", 1), ("parquet", "en", 1), ("csv", "zh", DAYS), ("parquet", "en", DAYS),
]  # fmt: skip


def wait_ready(base: str, api: subprocess.Popen[bytes], timeout: float = 300) -> None:
    """Until /readyz answers 200 (minutes on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit("the API exited")
        try:
            if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the API did not become ready")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


class Sampler(threading.Thread):
    """The highest VmRSS of ``pid`` while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, rss_kib(pid), threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, rss_kib(self.pid))


@dataclass
class Result:
    fmt: str
    lang: str
    days: int
    rows: int
    bytes: int
    seconds: float
    rss_before_mib: float
    rss_peak_mib: float


def export(base: str, key: str, fmt: str, lang: str, days: int, end: datetime, pid: int) -> Result:
    params = {"from": (end - timedelta(days=days)).isoformat(), "to": end.isoformat(),
              "format": fmt, "lang": lang}  # fmt: skip
    sampler = Sampler(pid)
    before = sampler.peak
    sampler.start()
    size, lines, started = 0, 0, time.perf_counter()
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="export-bench-") as out:
        with httpx.stream("GET", f"{base}/api/v1/parks/bench/export/readings", params=params,
                          headers={"Authorization": f"Bearer {key}"}, timeout=600) as answer:  # fmt: skip
            if answer.status_code != 200:
                raise SystemExit(f"{answer.status_code}: {answer.read()[:300]!r}")
            for chunk in answer.iter_bytes(1 << 20):
                size += len(chunk)
                if fmt == "csv":
                    lines += chunk.count(b"\n")
                else:
                    out.write(chunk)
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        out.flush()
        rows = lines - 1 if fmt == "csv" else pq.ParquetFile(out.name).metadata.num_rows
    return Result(fmt, lang, days, rows, size, seconds, before / 1024, sampler.peak / 1024)


def report(results: list[Result], hwm_mib: float, load_avg: str, heading: str = HEADING) -> str:
    lines = [
        heading, "",
        "`make bench-export`: `GET /api/v1/parks/bench/export/readings` of 1,000 electricity "
        "meters' one-minute readings through one `parktwin api` process (uvicorn), downloaded "
        "as a stream; the 1-day exports are the baseline the 30-day ones are compared with. "
        "Memory is the API process's resident set (VmRSS) sampled every 0.1 s during the "
        "export; CSV lines are formatted by PostgreSQL, Parquet row groups by pyarrow in the "
        "API process (chunks of `PARKTWIN_EXPORT_CHUNK_ROWS`, default 50,000 rows).", "",
        "| export | rows | MB | s | rows/s | MB/s | RSS before MiB | RSS peak MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in results:
        lines.append(
            f"| {r.fmt} ({r.lang}), {r.days} day(s) | {r.rows:,} | {r.bytes / 1e6:,.0f} | "
            f"{r.seconds:.1f} | {r.rows / r.seconds:,.0f} | {r.bytes / 1e6 / r.seconds:.1f} | "
            f"{r.rss_before_mib:.0f} | {r.rss_peak_mib:.0f} |"
        )
    base = {r.fmt: r for r in results if r.days == 1}
    for r in (r for r in results if r.days > 1 and r.fmt in base):
        growth = r.rss_peak_mib - base[r.fmt].rss_peak_mib
        lines.append(
            f"\n- {r.fmt}: {r.days}x the rows; during the export RSS went from "
            f"{r.rss_before_mib:.0f} to {r.rss_peak_mib:.0f} MiB "
            f"({r.rss_peak_mib - r.rss_before_mib:+.0f}); peak {growth:+.0f} MiB against "
            f"the 1-day export's ({base[r.fmt].rss_peak_mib:.0f} MiB)"
        )
    lines += ["", f"- the API process's VmHWM (peak since start) at the end: {hwm_mib:.0f} MiB",
              f"- load average: {load_avg} (2 cores, shared with other work while measured; "
              "rates on a quiet machine will be higher)", ""]  # fmt: skip
    return "\n".join(lines)


def _runs(argv: list[str]) -> tuple[list[tuple[str, str, int]], str]:
    """The runs and the heading: all of RUNS, or with ``--only FORMAT --days N`` that format's
    1-day baseline and N days, under a heading of its own (a shorter run on a busy machine)."""
    if not argv:
        return RUNS, HEADING
    fmt, days = argv[argv.index("--only") + 1], int(argv[argv.index("--days") + 1])
    lang = "zh" if fmt == "csv" else "en"
    return [(fmt, lang, 1), (fmt, lang, days)], f"{HEADING}: {fmt}, {days} days"


def main() -> int:
    runs, heading = _runs(sys.argv[1:])
    settings = get_settings()
    services = EmbeddedServices.from_settings(settings)
    urls = services.up()
    db_url = bench_database(services, "parktwin_bench_export")
    upgrade_to_head(db_url)
    end = loaded(db_url)
    if end is None:
        print(f"loading {DEVICES} meters x {DAYS} days (once)...", flush=True)
        end = load(db_url)
    key = viewer_key(db_url)
    port = free_port()
    api = start_api(db_url, urls["PARKTWIN_MQTT_URL"], port, state_dir=str(settings.state_dir))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, api)
        before = os.getloadavg()[0]
        results = []
        for fmt, lang, days in runs:
            results.append(export(base, key, fmt, lang, days, end, api.pid))
            print(results[-1], flush=True)
            hwm = rss_kib(api.pid, "VmHWM") / 1024
            load_avg = f"{before:.1f} before, {os.getloadavg()[0]:.1f} now"
            replace_section(heading, report(results, hwm, load_avg, heading))  # if stopped early
    finally:
        api.terminate()
        api.wait(30)
    section = report(results, hwm, f"{before:.1f} before, {os.getloadavg()[0]:.1f} after", heading)
    print(section)
    replace_section(heading, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
