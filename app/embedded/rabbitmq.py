"""An N-node RabbitMQ cluster on this machine: ``parktwin cluster up|down|status``, and the
fault tests and ``bench.cluster``.

Each node is its own Erlang VM (``rabbitmq-server`` from Debian's package, run directly, not
through the system service) with its own node name ``{prefix}{i}@localhost``, its own ports
(AMQP ``base + i``, MQTT ``base + 100 + i``, management ``base + 200 + i``, Erlang
distribution ``base + 300 + i``), data and logs under ``{root}/n{i}``, and a cookie shared by
the cluster. One client-id auth service (app/broker/rabbit_auth.py, ``base + 398``) serves the
nodes. The cluster uses an epmd of its own (``base + 399``), so the system RabbitMQ on
5672 and its epmd are never touched. Keep ``base`` below the kernel's ephemeral ports (32768 on
Linux): a node restarted on a port some client connection happens to use fails with
``eaddrinuse`` (seen in the fault tests). The nodes find each other by classic peer discovery.

``setup`` (through the management HTTP API, as the admin account) declares the durable quorum
queue the MQTT plugin routes telemetry and status into (``amq.topic``, routing keys in AMQP
form: app/broker/rabbit.py) and the ingest and API service accounts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.broker.rabbit import RabbitAccounts
from app.broker.rabbit_auth import advanced_config
from app.core.config import Settings
from app.embedded.process import pid_alive, port_open, read_pid, wait_for

logger = logging.getLogger(__name__)

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
PLUGINS = (
    "[rabbitmq_management,rabbitmq_mqtt,rabbitmq_auth_backend_cache,rabbitmq_auth_backend_http]."
)
INGEST_USER = "parktwin-ingest"
API_USER = "parktwin-api"

CONFIG = """\
listeners.tcp.default = 127.0.0.1:{amqp}
mqtt.listeners.tcp.default = 127.0.0.1:{mqtt}
management.tcp.port = {http}
management.tcp.ip = 127.0.0.1
loopback_users = none
default_user = {admin}
default_pass = {password}
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
mqtt.allow_anonymous = false
mqtt.vhost = /
mqtt.exchange = amq.topic
mqtt.prefetch = 100
cluster_formation.peer_discovery_backend = classic_config
{peers}
cluster_formation.randomized_startup_delay_range.min = 0
cluster_formation.randomized_startup_delay_range.max = 0
cluster_partition_handling = pause_minority
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 50MB
log.file.level = warning
log.console = false
"""


@dataclass(frozen=True)
class RabbitNode:
    index: int
    root: Path
    base_port: int
    prefix: str

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.index}@localhost"

    @property
    def amqp_port(self) -> int:
        return self.base_port + self.index

    @property
    def mqtt_port(self) -> int:
        return self.base_port + 100 + self.index

    @property
    def http_port(self) -> int:
        return self.base_port + 200 + self.index

    @property
    def dist_port(self) -> int:
        return self.base_port + 300 + self.index

    @property
    def dir(self) -> Path:
        return self.root / f"n{self.index}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "pid"

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid is not None and pid_alive(pid) else None


@dataclass
class RabbitCluster:
    """The nodes 1..size under ``root``; ``admin`` and ``password`` are the cluster's admin."""

    root: Path
    size: int = 3
    base_port: int = 27600
    prefix: str = "parktwin"
    admin: str = "parktwin"
    nodes: list[RabbitNode] = field(init=False)
    _launched: dict[int, subprocess.Popen[bytes]] = field(init=False, default_factory=dict)
    _auth: subprocess.Popen[bytes] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.nodes = [
            RabbitNode(i, self.root, self.base_port, self.prefix) for i in range(1, self.size + 1)
        ]

    @property
    def epmd_port(self) -> int:
        return self.base_port + 399

    @property
    def auth_port(self) -> int:
        return self.base_port + 398

    @property
    def password(self) -> str:
        return _secret(self.root / "admin.password")

    @property
    def cookie(self) -> str:
        return _secret(self.root / "cookie")

    def amqp_urls(self, user: str, password: str) -> list[str]:
        return [f"amqp://{user}:{password}@127.0.0.1:{n.amqp_port}/%2F" for n in self.nodes]

    def http_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{n.http_port}" for n in self.nodes]

    def env(self, node: RabbitNode) -> dict[str, str]:
        home = self.root / "home"
        return {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(node.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(node.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(node.pid_file),
            "RABBITMQ_CONF_ENV_FILE": str(node.dir / "rabbitmq-env.conf"),
        }

    def _write(self, node: RabbitNode) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        home = self.root / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        peers = "\n".join(
            f"cluster_formation.classic_config.nodes.{n.index} = {n.name}" for n in self.nodes
        )
        (node.dir / "rabbitmq.conf").write_text(
            CONFIG.format(
                amqp=node.amqp_port,
                mqtt=node.mqtt_port,
                http=node.http_port,
                admin=self.admin,
                password=self.password,
                peers=peers,
            )
        )
        (node.dir / "advanced.config").write_text(
            advanced_config(f"http://127.0.0.1:{self.auth_port}")
        )
        (node.dir / "enabled_plugins").write_text(PLUGINS + "\n")
        (node.dir / "rabbitmq-env.conf").write_text("")

    def start_node(self, node: RabbitNode) -> None:
        """Start one node in the background (returns at once; ``ensure_nodes`` waits); nothing if
        it runs or is booting."""
        previous = self._launched.get(node.index)
        if previous is not None and previous.poll() is None:
            return  # launched here and still running (poll reaps it if it has ended)
        launcher = read_pid(node.dir / "launcher.pid")
        if node.pid() is not None or (launcher is not None and pid_alive(launcher)):
            return
        if port_open(node.dist_port):  # an Erlang VM of this node is booting
            return
        self._write(node)
        log = (node.dir / "stdout.log").open("ab")
        process = subprocess.Popen(
            [str(SERVER)],
            env=self.env(node),
            cwd=node.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        node.dir.joinpath("launcher.pid").write_text(str(process.pid))
        self._launched[node.index] = process

    def _not_booted(self, node: RabbitNode) -> str | None:
        """Why ``node`` does not count as booted yet, or None once its own management API says
        its AMQP and MQTT listeners run. An open port is not enough: the AMQP listener opens
        last, and a node whose AMQP listener fails (its port taken by another process, which
        then answers on it) has its MQTT and HTTP ports open for a few seconds before it stops.

        A refused admin account is a reason to go on waiting, not an error: while the cluster
        restarts, a node's internal user lookups fail for a while ("authentication failed with
        internal error" in its log) and its management API answers 401 to the right password.
        ``ensure_nodes`` names the refusal if it lasts until its timeout."""
        if not port_open(node.http_port):
            return "its management port is closed"
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{node.http_port}",
                auth=(self.admin, self.password),
                timeout=5,
            ) as client:
                for name, port in (("AMQP", node.amqp_port), ("MQTT", node.mqtt_port)):
                    status = client.get(f"/api/health/checks/port-listener/{port}").status_code
                    if status == 401:
                        return (
                            f"its management API refuses the cluster's admin account "
                            f"{self.admin!r} (its password is in {self.root}/admin.password; "
                            "changed or deleted through the management API?)"
                        )
                    if status != 200:
                        return f"its {name} listener does not run (health check: {status})"
                return None
        except httpx.HTTPError as error:
            return f"its management API does not answer ({type(error).__name__})"

    def _exited(self, node: RabbitNode) -> bool:
        """The node's launch has ended without a VM left running or booting."""
        launcher = read_pid(node.dir / "launcher.pid")
        return (
            launcher is not None
            and not pid_alive(launcher)
            and node.pid() is None
            and not port_open(node.dist_port)
        )

    def ensure_nodes(
        self, nodes: list[RabbitNode], timeout: float = 300, attempts: int = 3
    ) -> None:
        """Start ``nodes`` together and wait until every one answers, starting again any that
        exits while booting, as a service manager's ``Restart=on-failure`` would, while the
        others go on booting. After the whole cluster stopped, each node but the last one to
        stop waits at boot for its peers' Mnesia tables: a peer that stops at boot (a transient
        Mnesia disagreement, a port still taken) must be started again while they wait, not
        after (a clean-clone CI run waited 300 s on the first node while the third, whose
        tables it waited for, had exited). ``timeout`` is per launch of a node."""
        for node in nodes:
            self.start_node(node)
        launches = {node.index: (1, time.monotonic()) for node in nodes}
        booting = list(nodes)

        def all_answer() -> bool:
            for node in list(booting):
                attempt, since = launches[node.index]
                reason = self._not_booted(node)
                if reason is None:
                    booting.remove(node)
                    continue
                if self._exited(node):
                    launched = self._launched.pop(node.index, None)
                    if launched is not None:
                        launched.wait(timeout=30)
                    if attempt == attempts:
                        raise NodeExited(
                            f"{node.name} did not start ({attempts} launches): "
                            f"see {node.dir}/stdout.log"
                        )
                    logger.warning("%s stopped while booting; starting it again", node.name)
                    self.start_node(node)
                    launches[node.index] = (attempt + 1, time.monotonic())
                elif time.monotonic() - since > timeout:
                    raise TimeoutError(
                        f"timed out after {timeout:.0f} s waiting for RabbitMQ node {node.name}: "
                        f"{reason}"
                    )
            return not booting

        wait_for(
            all_answer, timeout * attempts, "RabbitMQ nodes " + ", ".join(n.name for n in nodes)
        )

    def ensure_node(self, node: RabbitNode, timeout: float = 300, attempts: int = 3) -> None:
        """Start one node and wait for it (``ensure_nodes``)."""
        self.ensure_nodes([node], timeout, attempts)

    def up(self, timeout: float = 300) -> None:
        """Start the auth service and every node, together (classic peer discovery needs the
        others answering; a restarted cluster's nodes wait for each other's tables)."""
        self.start_auth()
        self.ensure_nodes(self.nodes, timeout)

    def start_auth(self) -> None:
        """The client-id auth service the nodes ask (``parktwin broker auth``)."""
        pid_file = self.root / "auth.pid"
        pid = read_pid(pid_file)
        if pid is not None and pid_alive(pid):
            return
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "auth.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "broker", "auth", "--port", str(self.auth_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        pid_file.write_text(str(process.pid))
        self._auth = process
        wait_for(lambda: port_open(self.auth_port), 60, "the broker auth service")

    def stop_auth(self) -> None:
        pid = read_pid(self.root / "auth.pid")
        if pid is not None and pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if self._auth is not None and self._auth.pid == pid:
                self._auth.wait(timeout=30)
            wait_for(lambda: not pid_alive(pid), 30, "the broker auth service to stop")
        self._auth = None

    def kill(self, node: RabbitNode, sig: signal.Signals = signal.SIGKILL) -> None:
        """Stop one node: SIGKILL is the fault tests' crash; SIGTERM a clean stop."""
        pids = [p for p in (node.pid(), read_pid(node.dir / "launcher.pid")) if p is not None]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(pid), sig)
        launched = self._launched.pop(node.index, None)
        if launched is not None:
            launched.wait(timeout=120)
        wait_for(lambda: not any(pid_alive(p) for p in pids), 120, f"{node.name} to stop")

    def down(self) -> None:
        for node in self.nodes:
            self.kill(node, signal.SIGTERM)
        self._stop_epmd()
        self.stop_auth()

    def _stop_epmd(self) -> None:
        """Our own epmd (started by the first node on ``epmd_port``): only that one, and only
        once no node is registered (epmd refuses otherwise)."""
        subprocess.run(
            ["epmd", "-port", str(self.epmd_port), "-kill"],
            check=False,
            capture_output=True,
            env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)},
        )

    def status(self) -> dict[str, str]:
        states = {
            node.name: f"running (pid {node.pid()}, mqtt {node.mqtt_port}, amqp {node.amqp_port})"
            if port_open(node.amqp_port)
            else "stopped"
            for node in self.nodes
        }
        auth = "running" if port_open(self.auth_port) else "stopped"
        states["client-id auth"] = f"{auth} (http {self.auth_port})"
        return states


class NodeExited(RuntimeError):
    """A node's process ended before it answered."""


def _secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16))
        path.chmod(0o600)
    return path.read_text().strip()


def cluster_from_settings(settings: Settings, size: int | None = None) -> RabbitCluster:
    """The cluster of ``parktwin cluster``: under the state dir, its size remembered."""
    root = settings.state_dir.resolve() / "rabbitmq-cluster"
    remembered = root / "size"
    if size is None:
        size = int(remembered.read_text()) if remembered.exists() else 3
    root.mkdir(parents=True, exist_ok=True)
    remembered.write_text(str(size))
    return RabbitCluster(root, size, base_port=settings.embedded_rabbitmq_base_port)


def cluster_up(cluster: RabbitCluster, queue: str) -> dict[str, str]:
    """Start the nodes, declare the ingest queue and the service accounts; the settings that
    switch parktwin to this cluster, as ``NAME=value`` pairs."""
    cluster.up()
    auth = f"{cluster.admin}:{cluster.password}@"
    admin = RabbitAccounts([u.replace("http://", "http://" + auth) for u in cluster.http_urls()])
    try:
        ingest, api = (_secret(cluster.root / f"{name}.password") for name in ("ingest", "api"))
        admin.declare_ingest_queue(queue)
        admin.ensure_ingest_account(INGEST_USER, ingest, queue)
        admin.ensure_api_account(API_USER, api)
    finally:
        admin.close()
    api_auth = f"http://{API_USER}:{api}@"
    return {
        "PARKTWIN_INGEST_SOURCE": "amqp",
        "PARKTWIN_AMQP_URL": ",".join(cluster.amqp_urls(INGEST_USER, ingest)),
        "PARKTWIN_MQTT_CREDENTIALS": "rabbitmq",
        "PARKTWIN_RABBITMQ_API_URL": ",".join(
            u.replace("http://", api_auth) for u in cluster.http_urls()
        ),
        "PARKTWIN_DEVICE_MQTT_URLS": ",".join(
            f"mqtt://127.0.0.1:{n.mqtt_port}" for n in cluster.nodes
        ),
    }
