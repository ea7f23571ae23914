"""``parktwin sim`` and ``parktwin seed``: argument handling around the simulator.

Imports are made inside the handlers: the parser is built for every ``parktwin`` command.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import datetime

from app.core.config import Settings
from sensors_sim.scenarios import SCENARIOS


def add_sim_arguments(sim: argparse.ArgumentParser) -> None:
    sim.add_argument("--park", default="demo", help="park id (default demo)")
    sim.add_argument("--rate", type=float, default=100.0, help="messages per second in total")
    sim.add_argument("--duration", type=float, default=None, help="seconds; default: until Ctrl-C")
    sim.add_argument("--scenario", default=None, choices=sorted(SCENARIOS))
    sim.add_argument("--seed", type=int, default=1, help="seed of the signals and faults")
    sim.add_argument("--dry-run", action="store_true", help="print messages instead of sending")
    sim.add_argument(
        "--count", type=int, default=None, help="messages to print (dry run: 100) or send"
    )
    sim.add_argument("--start", default=None, help="ISO time the simulation starts at (now)")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    sim.add_argument("--scenario-at", type=float, default=60.0, help="scenario start, sim s")
    sim.add_argument("--scenario-duration", type=float, default=300.0)
    sim.add_argument("--qos", type=int, choices=(0, 1), default=1)
    sim.add_argument("--processes", type=int, default=1, help="publishing processes")
    sim.add_argument("--no-faults", action="store_true", help="no jitter, drops, late or bad data")
    sim.add_argument("--devices", type=int, default=None, help="dry run: devices (2000)")
    sim.add_argument("--layout-seed", type=int, default=None, help="dry run: park layout seed (1)")


def add_seed_arguments(seed: argparse.ArgumentParser) -> None:
    seed.add_argument("what", choices=("demo",))
    seed.add_argument("--park", default="demo", help="park id (default demo)")
    seed.add_argument("--devices", type=int, default=2000, help="devices (up to 100,000)")
    seed.add_argument("--layout-seed", type=int, default=1)


def _start(value: str | None) -> float:
    if value is None:
        return time.time()
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise SystemExit("parktwin sim: --start needs a UTC offset, e.g. 2026-11-28T08:00:00+08:00")
    return moment.timestamp()


def _dry_run(args: argparse.Namespace) -> int:
    from sensors_sim.layout import generate
    from sensors_sim.stream import Faults, Stream, dry_run_lines

    park = generate(args.park, args.layout_seed or 1, args.devices or 2000)
    stream = Stream(
        park,
        seed=args.seed,
        start=_start(args.start),
        rate=args.rate,
        speed=args.speed,
        scenario=args.scenario,
        scenario_at=args.scenario_at,
        scenario_duration=args.scenario_duration,
        faults=Faults.none() if args.no_faults else None,
    )
    out = sys.stdout.buffer
    for line in dry_run_lines(stream, 100 if args.count is None else args.count):
        out.write(line)
    out.flush()
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_a: stop.set())
    return stop


def run_sim(args: argparse.Namespace, settings: Settings) -> int:
    if args.dry_run:
        return _dry_run(args)
    from app.core.mqtt import MqttTarget
    from sensors_sim import credentials
    from sensors_sim.publisher import SimOptions, publish

    stored = credentials.load(settings.state_dir, args.park)
    if stored is None:
        print(
            f"parktwin sim: no device credentials for park {args.park!r} under "
            f"{settings.state_dir}: run `parktwin seed demo` first",
            file=sys.stderr,
        )
        return 1
    options = SimOptions(
        park_id=args.park,
        layout_seed=stored.layout_seed,
        devices=stored.devices,
        seed=args.seed,
        rate=args.rate,
        duration=args.duration,
        count=args.count,
        start=_start(args.start) if args.start else None,
        speed=args.speed,
        scenario=args.scenario,
        scenario_at=args.scenario_at,
        scenario_duration=args.scenario_duration,
        faults=not args.no_faults,
        qos=args.qos,
        processes=max(1, args.processes),
    )
    target = MqttTarget.from_url(settings.device_mqtt_url())  # devices: the device listener
    report = publish(options, target.host, target.port, stored.passwords, _stop_on_signals())
    print(
        f"parktwin sim: {report.sent:,} messages in {report.seconds:.1f} s "
        f"({report.rate:,.0f} msg/s), {report.acked:,} acknowledged, {report.connected:,} "
        f"devices connected, {report.refused:,} refused, {report.unsent:,} not sent",
        file=sys.stderr,
    )
    return 0 if report.connected else 1


def run_seed(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from sensors_sim.seed import seed_park

    result = asyncio.run(
        seed_park(settings, args.park, args.layout_seed, args.devices, progress=sys.stderr)
    )
    park = "created" if result.created_park else "already there"
    print(
        f"park {result.park_id!r} {park}; {result.devices} devices, with the park's assets; "
        f"{result.new_passwords} new and {result.rotated} rotated credentials stored in "
        f"{result.credentials_file}"
    )
    return 0
