"""The real stack for the cockpit's browser tests and its benchmark: the demo park seeded, and
``parktwin api``, ``ingest`` and ``worker`` as processes, with a key of each role.

``python -m tests.cockpit.stack`` runs the same on embedded services of its own (in a temporary
state directory, on free ports) with the simulator at a gentle rate, and prints the cockpit's
signed-in link: a development server for the page.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.core.config import Settings
from app.embedded.process import free_port
from sensors_sim.seed import seed_park
from tests.api.conftest import make_key
from tests.ingest_support import ROOT, stop_process, wait_until

PARK = "demo"
ROLES = ("viewer", "operator", "admin")


@dataclass
class Stack:
    """A running stack: the API's base URL, a key per role, the child processes."""

    base: str
    settings: Settings
    keys: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: Path = ROOT / ".pytest_cache"
    env: dict[str, str] = field(default_factory=dict)  # more PARKTWIN_* for the processes

    def link(self, role: str) -> str:
        """The cockpit, signed in with the key of ``role`` (the key rides in the fragment)."""
        return f"{self.base}/#key={self.keys[role]}&park={PARK}"

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def stop_api(self) -> None:
        """Stop ``parktwin api`` (the first process): open streams drop."""
        stop_process(self.processes[0])

    def start_api(self) -> None:
        """Start ``parktwin api`` again on the same port and wait until it answers."""
        command = ("api", "--port", str(self.port))
        log = self.logs / "api.log"
        start = log.stat().st_size if log.exists() else 0
        process = self.processes[0] = _spawn(self.settings, log, *command, env=self.env)

        def ready() -> bool:
            if process.poll() is not None:  # it exited: say why, do not wait out the timeout
                said = log.read_bytes()[start:].decode(errors="replace")[-3000:]
                raise AssertionError(f"the API exited ({process.returncode}): {said}")
            return _api_ready(self.base)

        # 120 s: it imports the whole app again on a two-core host busy with the browser, the
        # ingestor, the worker and the simulator (a CI run gave up at 60 s, the API silent)
        wait_until(ready, 120, f"the API to be ready (its log: {log})")

    def api(self, role: str = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")}
    return env | {
        "PARKTWIN_DATABASE_URL": settings.resolved_database_url(),
        "PARKTWIN_MQTT_URL": settings.resolved_mqtt_url(),
        "PARKTWIN_STATE_DIR": str(settings.state_dir),
        "PARKTWIN_WORKER_INTERVAL": "PT0.5S",
        "PARKTWIN_INGEST_METRICS_PORT": "0",
        "PARKTWIN_WORKER_METRICS_PORT": "0",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def _spawn(
    settings: Settings, log: Path, *command: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *command],
            env=child_env(settings, **(env or {})),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _api_ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_stack(
    settings: Settings, devices: int = 120, sim_rate: float = 0, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """The demo park seeded with ``devices`` devices, the three processes (and the simulator at
    ``sim_rate`` msg/s when > 0) started, with ``env`` added to their environment; everything
    stopped at the end."""
    # In a thread of its own: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, seed_park(settings, PARK, device_count=devices)).result()
    database_url = settings.resolved_database_url()
    keys = {role: make_key(database_url, role, PARK) for role in ROLES}
    port = free_port()
    logs = ROOT / ".pytest_cache" / f"cockpit-{port}"
    stack = Stack(f"http://127.0.0.1:{port}", settings, keys, logs=logs, env=dict(env or {}))
    commands = [
        ("api", "--port", str(port)),
        ("ingest",),
        ("worker",),
    ]
    if sim_rate > 0:
        commands.append(("sim", "--park", PARK, "--rate", str(sim_rate)))
    try:
        for command in commands:
            log = logs / f"{command[0]}.log"
            stack.processes.append(_spawn(settings, log, *command, env=stack.env))
        wait_until(lambda: _api_ready(stack.base), 60, "the API to be ready")
        yield stack
    finally:
        for process in stack.processes:
            stop_process(process)


@contextmanager
def private_services() -> Iterator[Settings]:
    """Embedded PostgreSQL and Mosquitto of their own (a temporary state directory, free
    ports), a database migrated to head: settings for :func:`running_stack`."""
    from app.core.migrate import upgrade_to_head
    from app.embedded.services import EmbeddedServices

    state = Path(tempfile.mkdtemp(prefix="parktwin-cockpit-"))
    state.chmod(0o755)  # the postgres and mosquitto system users must reach it
    base = Settings(
        state_dir=state,
        embedded_pg_port=free_port(),
        embedded_mqtt_port=free_port(),
        embedded_mqtt_service_port=free_port(),
        embedded_mqtts_port=free_port(),
        database_url=None,
        mqtt_url=None,
    )
    services = EmbeddedServices.from_settings(base)
    urls = services.up()
    try:
        upgrade_to_head(urls["PARKTWIN_DATABASE_URL"])
        yield base.model_copy(
            update={
                "database_url": urls["PARKTWIN_DATABASE_URL"],
                "mqtt_url": services.mosquitto.url(),
            }
        )
    finally:
        services.down()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:  # pragma: no cover - a development server
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    with private_services() as settings, running_stack(settings, 300, rate) as stack:
        for role in ROLES:
            print(f"{role}: {stack.link(role)}", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    main()
