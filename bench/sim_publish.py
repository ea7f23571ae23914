"""bench/sim_publish: how fast ``parktwin sim`` publishes, against bare paho in the same run.

    .venv/bin/python -m bench.sim_publish          # or: make bench-sim

Its own embedded Mosquitto + PostgreSQL (a temporary state directory, free ports); a park of
``--devices`` devices seeded with ``parktwin seed`` (each its own broker account). Then, for
``--seconds`` each:

- ``parktwin sim`` (the real CLI, as a process) with an unreachable target rate, so it
  publishes as fast as it can: QoS 0 and 1, one and two processes; every device on its own
  connection with its own account and last will;
- the baseline: bare paho publishing the same messages (taken from the same stream beforehand,
  so generating them costs it nothing) on one connection, QoS 0 and 1.

Nobody subscribes, so the broker only authenticates, checks ACLs and drops; the numbers are
what a benchmark's publisher side can offer. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from app.core.config import Settings
from app.core.migrate import upgrade_to_head
from app.core.mqtt import MqttTarget
from bench.ingest import ROOT, embedded_services, publisher_account
from bench.report import replace_section
from sensors_sim.layout import generate
from sensors_sim.seed import seed_park
from sensors_sim.stream import Stream

PARK = "bench"
HEADING = "## Simulator publishing (bench/sim_publish)"


def seed(services_settings: Settings, devices: int) -> Settings:
    url = services_settings.resolved_database_url()
    upgrade_to_head(url)
    asyncio.run(seed_park(services_settings, PARK, 1, devices))
    return services_settings


def run_sim(settings: Settings, seconds: float, qos: int, processes: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")} | {
        "PARKTWIN_DATABASE_URL": settings.resolved_database_url(),
        "PARKTWIN_MQTT_URL": settings.device_mqtt_url(),  # the sim's devices: the device listener
        "PARKTWIN_STATE_DIR": str(settings.state_dir),
        "PARKTWIN_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "app.cli", "sim", "--park", PARK, "--rate", "10000000",
        "--duration", str(seconds), "--qos", str(qos), "--processes", str(processes),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    match = re.search(r"([\d,]+) messages in ([\d.]+) s", result.stderr)
    assert result.returncode == 0 and match, result.stderr
    return int(match[1].replace(",", "")) / float(match[2])


def bare_paho(target: MqttTarget, devices: int, seconds: float, qos: int) -> float:
    """One paho connection publishing pre-made messages of the same stream for ``seconds``."""
    stream = Stream(generate(PARK, 1, devices), seed=1, start=time.time() - 3600, rate=1e7)
    messages = []
    for n, message in enumerate(stream):
        if n >= 400_000:
            break
        messages.append((message.topic, message.payload))
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-paho-{uuid.uuid4().hex[:6]}"
    )
    client.username_pw_set(target.username, target.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect(target.host, target.port)
    client.loop_start()
    assert connected.wait(10)
    acked = [0]
    client.on_publish = lambda *_a: acked.__setitem__(0, acked[0] + 1)
    sent, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        offset = sent % len(messages)
        for topic, payload in messages[offset : offset + 1000]:
            sent += client.publish(topic, payload, qos=qos).rc == mqtt.MQTT_ERR_SUCCESS
    deadline = time.monotonic() + 60
    while qos and acked[0] < sent and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    return sent / elapsed


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []
    with embedded_services() as services:
        settings = services.settings.model_copy(
            update={
                "database_url": services.postgres.url(),
                "mqtt_url": services.mosquitto.device_url(),  # seed: the services listener
            }
        )
        started = time.monotonic()
        seed(settings, args.devices)
        print(f"  seeded {args.devices} devices in {time.monotonic() - started:.0f} s", flush=True)
        target = publisher_account(MqttTarget.from_url(services.mosquitto.url()))
        for qos in (0, 1):
            rate = bare_paho(target, args.devices, args.seconds, qos)
            rows.append((f"bare paho, 1 connection, QoS {qos} (baseline)", rate))
            print(f"  {rows[-1][0]}: {rate:,.0f} msg/s", flush=True)
            for processes in (1, 2):
                rate = run_sim(settings, args.seconds, qos, processes)
                rows.append((f"parktwin sim, QoS {qos}, {processes} process(es)", rate))
                print(f"  {rows[-1][0]}: {rate:,.0f} msg/s", flush=True)
    write_report(rows, args)


def write_report(rows: list[tuple[str, float]], args: argparse.Namespace) -> None:
    baselines = {
        q: r for name, r in rows if "bare paho" in name for q in (0, 1) if f"QoS {q}" in name
    }
    lines = [
        HEADING,
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench-sim` "
        f"(`python -m bench.sim_publish`) on the 2-core development machine (load average "
        f"{load_average()} at the end): {args.devices} devices seeded with `parktwin seed`, each "
        f"publishing on its own connection with its own account and last will, {args.seconds:g} s "
        "per run, no subscriber (the broker authenticates, checks ACLs and drops). The baseline "
        "is bare paho on one connection sending the same messages, made beforehand. QoS 0 "
        "counts what was handed to the sockets (the broker may still have been reading it); "
        "QoS 1 counts only what the broker acknowledged, so it is the figure to rely on.",
        "",
        "| publisher | msg/s | vs bare paho, same QoS |",
        "|---|---:|---:|",
    ]
    for name, rate in rows:
        qos = 1 if "QoS 1" in name else 0
        lines.append(f"| {name} | {rate:,.0f} | {rate / baselines[qos]:.0%} |")
    best = max(rate for name, rate in rows if name.startswith("parktwin"))
    verdict = "met" if best >= 50_000 else "not met on this run"
    lines += ["", f"Target >= 50,000 msg/s: {verdict} (best {best:,.0f} msg/s).", ""]
    replace_section(HEADING, "\n".join(lines))


if __name__ == "__main__":
    main()
