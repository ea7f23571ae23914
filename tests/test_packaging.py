"""The image and the compose file, read as files (no Docker engine here), and their steps run
outside Docker: the distribution the Dockerfile installs carries the migrations and the
console script; its dependencies are pinned; compose waits for TCP, binds to loopback, retries
the migrations and prints the first admin key once."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import yaml

from app.embedded.process import free_port
from tests.conftest import ServiceEnv

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_wheel_ships_migrations_and_entry_point(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("parktwin-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "migrations/env.py" in names
    assert "migrations/script.py.mako" in names
    assert any(n.startswith("migrations/versions/") and n.endswith("_foundation.py") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "parktwin = app.cli:main" in text
    assert not any(n.startswith("tests/") for n in names)
    cockpit = {  # the page works from an installed package, with no Node and no internet
        "app/cockpit/static/index.html",
        "app/cockpit/static/cockpit.css",
        "app/cockpit/static/js/main.js",
        "app/cockpit/static/enterprise.html",
        "app/cockpit/static/js/enterprise.js",
        "app/cockpit/static/js/panels/map.js",
        "app/cockpit/static/vendor/echarts.esm.min.js",
    }
    assert cockpit <= names


def test_every_runtime_dependency_is_pinned_at_the_tested_version() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock_constraints.py")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line[:1] != "#"]
    assert pins and all(re.fullmatch(r"[a-z0-9-]+==[^=\s]+", line) for line in pins)
    assert {"fastapi", "sqlalchemy", "psycopg", "paho-mqtt", "starlette", "pydantic-core"} <= {
        line.split("==")[0] for line in pins
    }


def test_the_image_installs_with_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*\bconstraints\.txt\b", dockerfile, re.M)
    assert "pip install --constraint constraints.txt ." in dockerfile
    assert "constraints.txt" not in (ROOT / ".dockerignore").read_text()
    assert (
        '--constraint "$work/src/constraints.txt"'
        in (ROOT / "scripts" / "check-image-steps.sh").read_text()
    )


def test_healthchecks_wait_for_tcp_without_secrets_on_argv() -> None:
    db = SERVICES["db"]["healthcheck"]["test"]
    assert db[:2] == ["CMD", "pg_isready"] and db[db.index("-h") + 1] == "127.0.0.1"
    mqtt = SERVICES["mqtt"]["healthcheck"]["test"]
    assert mqtt == ["CMD", "nc", "-z", "127.0.0.1", "1884"]
    for service in SERVICES.values():
        check = " ".join(service.get("healthcheck", {}).get("test", []))
        assert "-P" not in check.split() and "PASSWORD" not in check


def test_published_ports_listen_on_loopback_unless_told() -> None:
    published = [port for s in SERVICES.values() for port in s.get("ports", [])]
    assert "${PARKTWIN_BIND:-127.0.0.1}:8000:8000" in published
    assert "${PARKTWIN_MQTT_BIND:-127.0.0.1}:8883:8883" in published
    for port in published:
        assert port.startswith(
            ("127.0.0.1:", "${PARKTWIN_BIND:-127.0.0.1}:", "${PARKTWIN_MQTT_BIND:-127.0.0.1}:")
        )


def test_migrations_retry_and_the_first_admin_key_follows_them() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"][:2] == ["migrate", "--wait"] and float(migrate["command"][2]) > 0
    bootstrap = SERVICES["bootstrap"]
    assert bootstrap["command"] == ["apikey", "bootstrap"]
    assert bootstrap["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bootstrap["restart"] == "no"
    for name in ("api", "ingest", "worker"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


class LateDatabase:
    """A TCP port that refuses connections until :meth:`open`, then forwards them to the
    database: PostgreSQL starting late, as a container may."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def open(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for sock in self._sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        with suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self.target)
                self._sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def fresh_url(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_late")
    yield url
    services.drop_database(url)


def parktwin(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PARKTWIN_DATABASE_URL": url}
    env.pop("PARKTWIN_MIGRATE_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_migrate_waits_for_a_late_database_then_bootstrap_prints_one_key(fresh_url: str) -> None:
    parts = urlsplit(fresh_url)
    late = LateDatabase((parts.hostname or "127.0.0.1", parts.port or 5432))
    late_url = urlunsplit(parts._replace(netloc=re.sub(r":\d+$", f":{late.port}", parts.netloc)))
    migrate = parktwin(late_url, "migrate", "--wait", "120")
    try:
        assert migrate.stderr is not None
        first = migrate.stderr.readline()  # printed after the first refused connection
        assert first.startswith(f"waiting for the database at 127.0.0.1:{late.port}"), first
        assert "@" not in first and (parts.password or "\0") not in first
        late.open()
        out, err = migrate.communicate(timeout=120)
    finally:
        migrate.kill()
        late.close()
    assert migrate.returncode == 0, err
    assert "migrated empty database -> " in out

    first_run, _ = parktwin(fresh_url, "apikey", "bootstrap").communicate(timeout=60)
    token = first_run.splitlines()[-1]
    assert token.startswith("ptk_")
    second_run, _ = parktwin(fresh_url, "apikey", "bootstrap").communicate(timeout=60)
    assert "made before" in second_run and "ptk_" not in second_run
    with psycopg.connect(fresh_url) as conn:
        keys = conn.execute("SELECT id, role, created_by FROM api_key").fetchall()
    assert keys == [(token.split("_")[1], "admin", "bootstrap")]


def test_migrate_gives_up_after_its_wait(services: ServiceEnv) -> None:
    nobody = f"postgresql://parktwin:secret@127.0.0.1:{free_port()}/parktwin"
    out, err = parktwin(nobody, "migrate", "--wait", "1").communicate(timeout=60)
    assert "no answer from the database at 127.0.0.1:" in err
    assert "secret" not in err + out
