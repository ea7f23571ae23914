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
    """A one-node cluster whose node's management API (played here) says both listeners run;
    ``ensure_node`` launches no RabbitMQ."""
    cluster = RabbitCluster(tmp_path, size=1)
    token = base64.b64encode(f"{cluster.admin}:{cluster.password}".encode()).decode()
    api = ManagementApi(f"Basic {token}")
    # node 1's management port is base + 201: put the base where the fake API listens
    cluster = RabbitCluster(tmp_path, size=1, base_port=api.server_address[1] - 201)
    (node,) = cluster.nodes
    api.statuses = {node.amqp_port: 200, node.mqtt_port: 200}
    cluster.start_node = lambda _node: None  # type: ignore[method-assign]  # the fake API is the node
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    yield cluster, node, api
    api.shutdown()
    api.server_close()
    thread.join(timeout=10)


def test_a_node_is_booted_when_its_amqp_and_mqtt_listeners_run(node_api: Booting) -> None:
    cluster, node, api = node_api
    assert cluster._not_booted(node) is None
    assert api.asked == [
        f"/api/health/checks/port-listener/{node.amqp_port}",
        f"/api/health/checks/port-listener/{node.mqtt_port}",
    ]


def test_a_node_whose_amqp_listener_failed_is_not_booted(node_api: Booting) -> None:
    """Its port may still be open (taken by another process): the node's own word counts."""
    cluster, node, api = node_api
    api.statuses = {node.mqtt_port: 200}  # the AMQP port: 503, as RabbitMQ answers
    assert cluster._not_booted(node) == "its AMQP listener does not run (health check: 503)"
    api.statuses = {node.amqp_port: 200}
    assert cluster._not_booted(node) == "its MQTT listener does not run (health check: 503)"


def test_a_refusal_while_the_cluster_restarts_is_waited_out(node_api: Booting) -> None:
    """A restarting cluster's node answers 401 to the right password for a while (its internal
    user lookups fail): ``ensure_node`` goes on asking and returns once the node says yes."""
    cluster, node, api = node_api
    right = api.expected_auth
    api.expected_auth = "Basic " + base64.b64encode(b"parktwin:another").decode()
    refusals = 3
    original = cluster._not_booted

    def probe(asked: RabbitNode) -> str | None:
        nonlocal refusals
        reason = original(asked)
        refusals -= 1
        if refusals == 0:
            api.expected_auth = right  # the node's user lookups work again
        return reason

    cluster._not_booted = probe  # type: ignore[method-assign]
    cluster.ensure_node(node, timeout=60)
    assert refusals < 0  # asked again after the third refusal, and booted then
    assert api.asked[-2:] == [
        f"/api/health/checks/port-listener/{node.amqp_port}",
        f"/api/health/checks/port-listener/{node.mqtt_port}",
    ]


def test_a_refusal_that_lasts_is_named_when_the_wait_ends(node_api: Booting) -> None:
    cluster, node, api = node_api
    api.expected_auth = "Basic " + base64.b64encode(b"parktwin:another").decode()
    with pytest.raises(
        TimeoutError,
        match=r"parktwin1@localhost: its management API refuses the cluster's admin account "
        r"'parktwin' \(its password is in .*/admin.password",
    ):
        cluster.ensure_node(node, timeout=1)


def test_a_node_without_its_management_port_is_not_booted(tmp_path: Path) -> None:
    cluster = RabbitCluster(tmp_path, size=1, base_port=1)  # ports 2, 102, 202: nothing there
    assert cluster._not_booted(cluster.nodes[0]) == "its management port is closed"
