"""deploy/haproxy.cfg, as shipped, in front of the test cluster and API: its hosts and ports
swapped for this machine's, and maxconn lowered to what the open-file limit here allows.
:5000 reaches the primary, :5001 a standby, :8000 the API; after a Patroni switchover :5000
reaches the new primary."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from app.embedded.process import free_port
from tests.ingest_support import ROOT, wait_until
from tests_cluster.conftest import Api
from tests_cluster.patroni import PatroniCluster


@dataclass
class Ports:
    api: int
    primary: int
    replicas: int


def render(cluster: PatroniCluster, api_port: int, ports: Ports) -> str:
    cfg = (ROOT / "deploy" / "haproxy.cfg").read_text()
    for i, node in enumerate(cluster.nodes, start=1):
        here = f"127.0.0.1:{node.pg_port} check port {node.rest_port}"
        cfg = cfg.replace(f"10.0.0.1{i}:5432 check port 8008", here)
    cfg = cfg.replace("10.0.0.21:8000", f"127.0.0.1:{api_port}")
    cfg = cfg.replace("    server api2 10.0.0.22:8000 check\n", "")
    cfg = cfg.replace("bind *:8000", f"bind 127.0.0.1:{ports.api}")
    cfg = cfg.replace("bind *:5000", f"bind 127.0.0.1:{ports.primary}")
    cfg = cfg.replace("bind *:5001", f"bind 127.0.0.1:{ports.replicas}")
    cfg = cfg.replace("127.0.0.1:5000 backup", f"127.0.0.1:{ports.primary} backup")
    cfg = cfg.replace("maxconn 20000", "maxconn 1000")  # within this sandbox's open-file limit
    assert not [line for line in cfg.splitlines() if "10.0.0." in line.split("#")[0]]
    return cfg


@pytest.fixture
def haproxy(cluster: PatroniCluster, api: Api) -> Iterator[Ports]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    ports = Ports(free_port(), free_port(), free_port())
    config = cluster.root / "haproxy.cfg"
    config.write_text(render(cluster, int(api.base.rsplit(":", 1)[1]), ports))
    with (cluster.root / "haproxy.log").open("ab") as log:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield ports
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _port_behind(cluster: PatroniCluster, port: int) -> tuple[int, bool] | None:
    """(the node's own port, whether it is a standby) of a session through haproxy's ``port``."""
    url = cluster.url(attrs="any").replace(cluster.hosts(), f"127.0.0.1:{port}")
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone()
    except psycopg.OperationalError:
        return None
    assert row is not None
    return int(row[0]), bool(row[1])


def test_haproxy_routes_to_the_primary_and_the_standbys(
    cluster: PatroniCluster, api: Api, haproxy: Ports
) -> None:
    cluster.wait_healthy()
    leader = cluster.leader()
    assert leader is not None
    wait_until(
        lambda: _port_behind(cluster, haproxy.primary) == (leader.pg_port, False),
        30,
        ":5000 to reach the primary",
    )
    # haproxy starts with every server up until its checks say otherwise: wait for them
    wait_until(lambda: _standby_behind(cluster, haproxy.replicas), 30, ":5001 to reach a standby")
    wait_until(
        lambda: httpx.get(f"http://127.0.0.1:{haproxy.api}/healthz").status_code == 200,
        30,
        ":8000 to reach the API",
    )

    _switchover(cluster, leader.name)
    wait_until(lambda: _new_primary(cluster, leader.name), 60, "the switchover")
    new = cluster.leader()
    assert new is not None
    wait_until(
        lambda: _port_behind(cluster, haproxy.primary) == (new.pg_port, False),
        30,
        ":5000 to follow the new primary",
    )
    cluster.wait_healthy(timeout=120)  # the old primary back as a standby


def _standby_behind(cluster: PatroniCluster, port: int) -> bool:
    """A session through ``port`` reaches a standby."""
    behind = _port_behind(cluster, port)
    return behind is not None and behind[1]


def _switchover(cluster: PatroniCluster, leader: str) -> None:
    node = next(n for n in cluster.nodes if n.name == leader)
    request = urllib.request.Request(
        f"http://127.0.0.1:{node.rest_port}/switchover",
        data=json.dumps({"leader": leader}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def _new_primary(cluster: PatroniCluster, old: str) -> bool:
    leader = cluster.leader()
    return leader is not None and leader.name != old
