"""bench/ingest_ab: two versions of ``parktwin ingest`` side by side, in one run, on the same
services, the same backlog, alternating, with the CPU each one costs.

    .venv/bin/python -m bench.ingest_ab --before /path/to/older/checkout [--rounds 3]

Comparing two separate runs of bench/ingest mixes the code's cost with everything else that
differs between the runs: the machine's other load, and the services as each version
provisions them. Here one set of embedded services (this checkout's) serves both versions: for
every (version, worker count, round) one persistent session is registered and the same
single-reading backlog queued for all of them, then the sessions drain in alternating order
(before, after, before, after, ...), so a slow minute of the machine hurts both sides alike.

Beside the wall-clock rate, each drain reports CPU seconds per 10,000 messages, in the
ingestor's processes (their user + system time, read from the kernel when they are reaped),
in PostgreSQL (the postmaster and every backend, live and exited) and in Mosquitto. CPU time
moves far less than wall time with the machine's other load, so it tells what each message
costs even on a busy machine; on these two cores, where the three share the CPU, the rate
follows the total.

The older checkout must read the same schema (this checkout's migrations are applied; an
older version ignores the tables it does not know).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.core.mqtt import MqttTarget
from app.embedded.services import EmbeddedServices
from bench.ingest import (
    ROOT,
    IngestProcess,
    embedded_services,
    make_database,
    publish_backlog,
    publisher_account,
)
from bench.report import replace_section

PUBLISHERS = 4
TICKS = 100  # the kernel's clock ticks per second (os.sysconf("SC_CLK_TCK") on Linux)


def _proc_times(pid: int, *, children: bool) -> float:
    """utime + stime (+ the reaped children's) of one process, in seconds; 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the ")": state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def _live_children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def service_cpu(services: EmbeddedServices) -> dict[str, float]:
    """CPU seconds used so far by the embedded PostgreSQL (all processes) and Mosquitto."""
    pg_pid = int((services.postgres.paths.pg_data / "postmaster.pid").read_text().split()[0])
    pg = _proc_times(pg_pid, children=True) + sum(
        _proc_times(c, children=False) for c in _live_children(pg_pid)
    )
    mqtt_pid = services.mosquitto.pid()
    return {"postgres": pg, "mosquitto": _proc_times(mqtt_pid, children=False) if mqtt_pid else 0}


def reaped_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Result:
    version: str
    workers: int
    messages: int
    seconds: float
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def per_10k(self, part: str) -> float:
        return self.cpu[part] / self.messages * 10_000


def drain(
    services: EmbeddedServices, ingestor: IngestProcess, expected: int
) -> tuple[int, float, dict[str, float]]:
    before_services, before_ingest = service_cpu(services), reaped_cpu()
    ingestor.start()
    first, deadline = None, time.monotonic() + 900
    while time.monotonic() < deadline:
        m = ingestor.metrics()
        if first is None and m.get("parktwin_ingest_messages_received_total", 0) > 0:
            first = time.monotonic()
        if m.get("parktwin_ingest_messages_stored_total", 0) >= expected:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - (first or deadline)
    stored = int(ingestor.metrics().get("parktwin_ingest_messages_stored_total", 0))
    ingestor.stop()
    after_services = service_cpu(services)
    cpu = {k: after_services[k] - before_services[k] for k in after_services}
    cpu["ingest"] = reaped_cpu() - before_ingest
    return stored, elapsed, cpu


def run(services: EmbeddedServices, before: Path, count: int, rounds: int) -> list[Result]:
    target = MqttTarget.from_url(services.mosquitto.url())
    publisher = publisher_account(target)
    tag = uuid.uuid4().hex[:6]
    sides = [("before", before), ("after", ROOT)]
    plan = [  # who goes first alternates from round to round
        (version, root, workers, r)
        for r in range(rounds)
        for workers in (1, 2)
        for version, root in (sides if r % 2 == 0 else sides[::-1])
    ]
    ingestors = []
    for version, root, workers, r in plan:
        name = f"{tag}-{version}-w{workers}-r{r}"
        db = make_database(services, f"bench_{name.replace('-', '_')}")
        ingestor = IngestProcess(db, services.mosquitto.url(), workers, name, root=root)
        started = reaped_cpu()
        ingestor.start().wait_connected()
        ingestor.stop()
        # what starting, subscribing and stopping cost with nothing to drain, taken off below
        ingestors.append((version, workers, ingestor, reaped_cpu() - started))
    # the same spread as bench/ingest's default: four devices, one mosquitto_pub each
    shares = {f"m{d}": count // PUBLISHERS for d in range(PUBLISHERS)}
    total = sum(shares.values())
    seconds = publish_backlog(publisher, shares, 1)
    print(f"  queued {total:,} messages for {len(plan)} sessions in {seconds:.1f} s", flush=True)
    results = []
    for version, workers, ingestor, idle in ingestors:
        stored, elapsed, cpu = drain(services, ingestor, total)
        cpu["ingest"] = max(cpu["ingest"] - idle, 0.0)
        result = Result(version, workers, stored, elapsed, cpu)
        results.append(result)
        print(
            f"  {version:6} --workers {workers}: {result.rate:8,.0f} msg/s; CPU s per 10k msgs: "
            + ", ".join(
                f"{k} {result.per_10k(k):.2f}" for k in ("ingest", "postgres", "mosquitto")
            ),
            flush=True,
        )
    return results


def summary(results: list[Result], before_rev: str) -> list[str]:
    lines = [
        "| workers | code | runs | msg/s (median) | after / before | ingest CPU s / 10k msgs | "
        "PostgreSQL | Mosquitto | total |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workers in (1, 2):
        medians = {}
        for version in ("before", "after"):
            mine = [r for r in results if r.workers == workers and r.version == version]
            rate = statistics.median(r.rate for r in mine)
            medians[version] = rate
            parts = {
                p: statistics.median(r.per_10k(p) for r in mine)
                for p in ("ingest", "postgres", "mosquitto")
            }
            ratio = f"{rate / medians['before']:.0%}" if version == "after" else ""
            label = f"before (`{before_rev}`)" if version == "before" else "after (this checkout)"
            lines.append(
                f"| {workers} | {label} | {len(mine)} | {rate:,.0f} | {ratio} | {parts['ingest']:.2f} | "
                f"{parts['postgres']:.2f} | {parts['mosquitto']:.2f} | {sum(parts.values()):.2f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the older checkout")
    parser.add_argument(
        "--count", type=int, default=100_000, help="single-reading messages per drain"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    before_rev = subprocess_rev(args.before)
    with embedded_services() as services:
        results = run(services, args.before.resolve(), args.count, args.rounds)
    lines = summary(results, before_rev)
    print("\n".join(lines))
    if not args.no_report:
        replace_section(
            "## Ingest, before and after side by side (bench/ingest_ab)",
            "\n".join(
                [
                    "## Ingest, before and after side by side (bench/ingest_ab)",
                    "",
                    f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC with "
                    f"`python -m bench.ingest_ab --before <checkout of {before_rev}> --rounds {args.rounds}`: "
                    f"{args.count:,} single-reading messages per drain, both versions on the same embedded "
                    "services and the same backlog, drains alternating. CPU seconds per 10,000 messages "
                    "are read from the kernel (see the module's docstring).",
                    "",
                    *lines,
                    "",
                ]
            ),
        )


def subprocess_rev(path: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or path.name


if __name__ == "__main__":
    main()
