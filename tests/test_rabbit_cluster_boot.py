"""When ``parktwin cluster up`` counts a RabbitMQ node as booted (app/embedded/rabbitmq.py):
its own management API says its AMQP and MQTT listeners run. A local HTTP server plays the
node's management API and checks the admin account it is asked with; the whole-cluster
restart with a node failing its boot is in tests_cluster/test_broker_cluster.py."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.embedded.rabbitmq import RabbitCluster, RabbitNode


class ManagementApi(ThreadingHTTPServer):
    """Answers ``GET /api/health/checks/port-listener/{port}`` with ``statuses[port]`` (503
    for a port not listed) to the right admin account, 401 to any other."""

    def __init__(self, expected_auth: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.expected_auth = expected_auth
        self.statuses: dict[int, int] = {}
        self.asked: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: ManagementApi

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        prefix = "/api/health/checks/port-listener/"
        if self.headers.get("Authorization") != self.server.expected_auth:
            status = 401
        elif self.path.startswith(prefix):
            status = self.server.statuses.get(int(self.path[len(prefix) :]), 503)
        else:
            status = 404
        body = b'{"status": "ok"}' if status == 200 else b'{"status": "failed"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


Booting = tuple[RabbitCluster, RabbitNode, ManagementApi]


@pytest.fixture
def node_api(tmp_path: Path) -> Iterator[Booting]:
    """A one-node cluster whose node's management API says both listeners run."""
    cluster = RabbitCluster(tmp_path, size=1)
    token = base64.b64encode(f"{cluster.admin}:{cluster.password}".encode()).decode()
    api = ManagementApi(f"Basic {token}")
    # node 1's management port is base + 201: put the base where the fake API listens
    cluster = RabbitCluster(tmp_path, size=1, base_port=api.server_address[1] - 201)
    (node,) = cluster.nodes
    api.statuses = {node.amqp_port: 200, node.mqtt_port: 200}
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    yield cluster, node, api
    api.shutdown()
    api.server_close()
    thread.join(timeout=10)


def test_a_node_is_booted_when_its_amqp_and_mqtt_listeners_run(node_api: Booting) -> None:
    cluster, node, api = node_api
    assert cluster._answers(node)
    assert api.asked == [
        f"/api/health/checks/port-listener/{node.amqp_port}",
        f"/api/health/checks/port-listener/{node.mqtt_port}",
    ]


def test_a_node_whose_amqp_listener_failed_is_not_booted(node_api: Booting) -> None:
    """Its port may still be open (taken by another process): the node's own word counts."""
    cluster, node, api = node_api
    api.statuses = {node.mqtt_port: 200}  # the AMQP port: 503, as RabbitMQ answers
    assert not cluster._answers(node)
    api.statuses = {node.amqp_port: 200}
    assert not cluster._answers(node)


def test_a_refused_admin_account_is_a_clear_error_not_a_five_minute_wait(
    node_api: Booting,
) -> None:
    cluster, node, api = node_api
    api.expected_auth = "Basic " + base64.b64encode(b"parktwin:another").decode()
    with pytest.raises(RuntimeError, match="refuses the cluster's admin account 'parktwin'"):
        cluster._answers(node)


def test_a_node_without_its_management_port_is_not_booted(tmp_path: Path) -> None:
    cluster = RabbitCluster(tmp_path, size=1, base_port=1)  # ports 2, 102, 202: nothing there
    assert not cluster._answers(cluster.nodes[0])
