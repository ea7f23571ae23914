"""Multi-node fixtures: a Patroni cluster (three PostgreSQL nodes over etcd) migrated to head, an
embedded Mosquitto, and parktwin's processes (ingest, API, worker) as child processes pointed at
the cluster by the multi-host URL. Not part of ``make test``: ``pytest tests_cluster`` runs them
(``make test-cluster``); they need patroni and etcd-server installed (docs/scale-out.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.broker.dynsec import DynsecClient
from app.core.config import Settings
from app.core.migrate import upgrade_to_head
from app.core.mqtt import MqttTarget
from app.embedded.process import free_port
from app.embedded.services import EmbeddedServices
from tests.ingest_support import ROOT, stop_process, wait_until
from tests_cluster.patroni import PatroniCluster


def _missing() -> list[str]:
    return [b for b in ("patroni", "etcd") if shutil.which(b) is None]


@pytest.fixture(scope="session")
def cluster() -> Iterator[PatroniCluster]:
    if _missing():
        pytest.skip(f"not installed: {_missing()} (apt-get install patroni etcd-server)")
    cluster = PatroniCluster()
    try:
        cluster.start()
        upgrade_to_head(cluster.url())
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def broker(cluster: PatroniCluster) -> Iterator[EmbeddedServices]:
    """An embedded Mosquitto only (the database is the cluster)."""
    state = Path(tempfile.mkdtemp(prefix="cluster-pg-broker-"))
    state.chmod(0o755)
    settings = Settings(
        state_dir=state,
        database_url=cluster.url(),
        mqtt_url=None,
        embedded_pg_port=free_port(),
        embedded_mqtt_port=free_port(),
        embedded_mqtt_service_port=free_port(),
        embedded_mqtts_port=free_port(),
    )
    services = EmbeddedServices.from_settings(settings)
    try:
        services.up()
        yield services
    finally:
        services.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def mqtt_url(broker: EmbeddedServices) -> str:
    return broker.mosquitto.url()


@pytest.fixture
def dynsec(mqtt_url: str) -> Iterator[DynsecClient]:
    client = DynsecClient(MqttTarget.from_url(mqtt_url))
    client.connect()
    yield client
    client.close()


def process_env(cluster: PatroniCluster, mqtt_url: str, **extra: str) -> dict[str, str]:
    """A parktwin process's environment: the primary by the multi-host URL, reads from a
    standby by ``prefer-standby``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")}
    return env | {
        "PARKTWIN_DATABASE_URL": cluster.url(),
        "PARKTWIN_DATABASE_READ_URL": cluster.url("prefer-standby"),
        "PARKTWIN_MQTT_URL": mqtt_url,
        "PARKTWIN_DB_CONNECT_TIMEOUT": "PT3S",
        "PYTHONPATH": str(ROOT),
        # the tests' webhook receivers listen on 127.0.0.1, on ports the system picks
        "PARKTWIN_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "PARKTWIN_WEBHOOK_ALLOWED_PORTS": "1-65535",
        **extra,
    }


@dataclass
class Child:
    """A ``parktwin`` command as a child process with its log under .pytest_cache."""

    args: list[str]
    env: dict[str, str]
    log: Path = field(
        default_factory=lambda: ROOT / ".pytest_cache" / f"cluster-{uuid.uuid4().hex[:8]}.log"
    )
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        self.log.parent.mkdir(exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def api_key(env: dict[str, str], role: str = "admin") -> str:
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "apikey", "create", "--role", role],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().splitlines()[-1]


@dataclass
class Api:
    child: Child
    base: str
    key: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.key}"}, timeout=10
        )


@pytest.fixture(scope="session")
def api(cluster: PatroniCluster, mqtt_url: str) -> Iterator[Api]:
    """``parktwin api --workers 2`` on the cluster."""
    yield from start_api(cluster, mqtt_url)


@pytest.fixture
def fresh_api(cluster: PatroniCluster, mqtt_url: str) -> Iterator[Api]:
    """An API process of its own, whose read pool connects now (to today's standbys). The
    cluster is healthy first: a read connection made while the previous test's failed primary is
    still rejoining finds no standby, and ``prefer-standby`` then settles on the primary for
    the connection's life (CI: a replica route saw a row the paused standbys had not)."""
    cluster.wait_healthy()
    yield from start_api(cluster, mqtt_url)


def start_api(cluster: PatroniCluster, mqtt_url: str) -> Iterator[Api]:
    port = free_port()
    env = process_env(cluster, mqtt_url)
    child = Child(["api", "--port", str(port), "--workers", "2"], env).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/healthz"), 180, "the API to answer")
        yield Api(child, base, api_key(env))
    finally:
        child.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
