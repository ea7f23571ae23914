"""A three-node PostgreSQL + TimescaleDB cluster under Patroni, over a one-member etcd, on this
machine: every node a separate process tree with its own ports and data directory under
``/tmp/cluster-pg-*``. Synchronous mode: a commit returns once the synchronous standby has the
WAL on disk, and Patroni promotes only that standby, so nothing committed is lost by a failover.

Used by tests_cluster (and by hand: ``python -m tests_cluster.patroni`` starts one and prints
its URLs until Ctrl-C). The same settings, for real hosts, are in deploy/patroni/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

import psycopg

from app.embedded import install
from app.embedded.postgres import SERVER_SETTINGS, SYSTEM_USER
from app.embedded.process import as_user, chown_tree, free_port

SCOPE = "parktwin"
SUPERUSER = "postgres"
REPLICATOR = "replicator"
DATABASE = "parktwin"

# The embedded server's settings (TimescaleDB preloaded, JIT off), smaller: three nodes share
# this machine with the tests. Patroni owns listen_addresses, port and the replication settings.
PG_PARAMETERS = {
    key: value.strip("'")
    for key, value in SERVER_SETTINGS.items()
    if key not in {"listen_addresses", "unix_socket_directories", "max_connections"}
} | {
    "shared_buffers": "128MB",
    "effective_cache_size": "512MB",
    "maintenance_work_mem": "64MB",
    "max_wal_size": "1GB",
    "max_connections": "100",
    "wal_keep_size": "256MB",
    "hot_standby_feedback": "on",
    "wal_log_hints": "on",  # pg_rewind brings a failed primary back as a replica
}


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return json.loads(answer.read())


@dataclass
class Node:
    name: str
    pg_port: int
    rest_port: int
    data_dir: Path
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def rest(self, path: str) -> object:
        return _get_json(f"http://127.0.0.1:{self.rest_port}/{path}")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


@dataclass
class PatroniCluster:
    """``start()`` brings up etcd and the nodes and waits for a leader with a synchronous
    standby; ``stop()`` stops them all (SIGKILL for what does not exit) and removes the dirs."""

    size: int = 3
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cluster-pg-")))
    password: str = field(default_factory=lambda: os.urandom(12).hex())
    nodes: list[Node] = field(default_factory=list)
    etcd: subprocess.Popen[bytes] | None = None
    etcd_port: int = field(default_factory=free_port)

    # -- URLs ---------------------------------------------------------------------------------

    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes)

    def url(self, attrs: str = "read-write", database: str = DATABASE) -> str:
        """The multi-host libpq URL: libpq tries the hosts in turn and keeps the first whose
        session matches ``target_session_attrs`` (``read-write``: the primary)."""
        user = f"{SUPERUSER}:{quote(self.password, safe='')}"
        return f"postgresql://{user}@{self.hosts()}/{database}?target_session_attrs={attrs}"

    def node_url(self, node: Node, database: str = DATABASE) -> str:
        user = f"{SUPERUSER}:{quote(self.password, safe='')}"
        return f"postgresql://{user}@127.0.0.1:{node.pg_port}/{database}"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> PatroniCluster:
        self.root.chmod(0o755)  # the postgres system user must reach its data directories
        self._start_etcd()
        for i in range(1, self.size + 1):
            self.nodes.append(self._node(f"pg{i}"))
        for node in self.nodes:
            self._start_node(node)
        self.wait_healthy(timeout=180)
        with psycopg.connect(self.url(database="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        return self

    def _start_etcd(self) -> None:
        peer = free_port()
        data = self.root / "etcd"
        with (self.root / "etcd.log").open("ab") as log:
            self.etcd = self._popen_etcd(data, peer, log)
        _wait(lambda: _etcd_healthy(self.etcd_port), 30, "etcd to answer")

    def _popen_etcd(self, data: Path, peer: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                "etcd",
                "--name=e1",
                f"--data-dir={data}",
                f"--listen-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=e1=http://127.0.0.1:{peer}",
                "--log-level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _node(self, name: str) -> Node:
        pg_port, rest_port = free_port(), free_port()
        node_dir = self.root / name
        node_dir.mkdir()
        node = Node(
            name, pg_port, rest_port, node_dir / "data", node_dir / "patroni.yml", node_dir / "log"
        )
        # JSON is YAML too: Patroni reads it, and the tests need no YAML library
        node.config.write_text(json.dumps(self._config(node), indent=2))
        node.config.chmod(0o600)
        chown_tree(node_dir, SYSTEM_USER)
        return node

    def _config(self, node: Node) -> dict[str, object]:
        bindir = install.pg_bindir()
        assert bindir is not None, "PostgreSQL is not installed: run `parktwin services install`"
        address = f"127.0.0.1:{node.pg_port}"
        return {
            "scope": SCOPE,
            "namespace": f"/{self.root.name}/",
            "name": node.name,
            "log": {"level": "WARNING", "dir": str(node.log.parent), "file_num": 1},
            "restapi": {
                "listen": f"127.0.0.1:{node.rest_port}",
                "connect_address": f"127.0.0.1:{node.rest_port}",
            },
            "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
            "bootstrap": {
                "dcs": {
                    # a dead primary's leader key expires after ttl: failover in ~ttl seconds
                    "ttl": 20,
                    "loop_wait": 2,
                    "retry_timeout": 5,
                    "maximum_lag_on_failover": 1024 * 1024,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": PG_PARAMETERS,
                    },
                },
                "initdb": ["no-locale", {"encoding": "UTF8"}, {"auth": "scram-sha-256"}],
            },
            "postgresql": {
                "listen": address,
                "connect_address": address,
                "data_dir": str(node.data_dir),
                "bin_dir": str(bindir),
                "pgpass": str(node.data_dir.parent / "pgpass"),
                # An asynchronous standby may have received WAL past the point where the
                # promoted synchronous one forked (never a commit: those waited for the sync
                # standby); it cannot follow the new timeline, and Patroni 3.0 does not rewind
                # a replica: clone it again instead of leaving it failing to start.
                "remove_data_directory_on_diverged_timelines": True,
                "remove_data_directory_on_rewind_failure": True,
                "authentication": {
                    "superuser": {"username": SUPERUSER, "password": self.password},
                    "replication": {"username": REPLICATOR, "password": self.password},
                    "rewind": {"username": SUPERUSER, "password": self.password},
                },
                "parameters": {"unix_socket_directories": str(node.data_dir.parent)},
                "pg_hba": [
                    "local all all scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                    f"host replication {REPLICATOR} 127.0.0.1/32 scram-sha-256",
                ],
            },
            "tags": {"nofailover": False, "noloadbalance": False},
        }

    def _start_node(self, node: Node) -> None:
        with (node.data_dir.parent / "patroni.out").open("ab") as out:
            node.process = subprocess.Popen(
                as_user(SYSTEM_USER, ["patroni", str(node.config)]),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes the whole node
                # the postgres user's own directory: a checkout under a 0700 directory (a CI
                # clone in `mktemp -d`) is no working directory for it (initdb fails there)
                cwd=node.data_dir.parent,
            )

    def restart_node(self, node: Node) -> None:
        """Start a killed node again: Patroni rewinds it and it rejoins as a replica."""
        self._start_node(node)

    def kill_node(self, node: Node) -> None:
        """``kill -9`` of the whole node (Patroni and every PostgreSQL process): a host lost."""
        assert node.process is not None
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait()
        pid = node.postmaster_pid()  # the postmaster daemonises out of Patroni's group
        _wait(lambda: not _kill_group(pid), 30, f"{node.name}'s PostgreSQL to die")

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            _reap(node.process)
            _kill_group(node.postmaster_pid())
        if self.etcd is not None:
            self.etcd.send_signal(signal.SIGTERM)
            _reap(self.etcd)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- state --------------------------------------------------------------------------------

    def members(self) -> list[dict[str, object]]:
        """Patroni's view of the cluster (``GET /cluster`` of any live node)."""
        for node in self.nodes:
            try:
                answer = node.rest("cluster")
            except OSError:
                continue
            assert isinstance(answer, dict)
            members = answer.get("members", [])
            assert isinstance(members, list)
            return members
        return []

    def role_of(self, role: str) -> list[Node]:
        names = {m["name"] for m in self.members() if m.get("role") == role}
        return [n for n in self.nodes if n.name in names]

    def leader(self) -> Node | None:
        leaders = self.role_of("leader")
        return leaders[0] if leaders else None

    def healthy(self, size: int | None = None) -> bool:
        """A leader, a synchronous standby, and every other member running on the leader's
        timeline with a known lag. Patroni 3.0 says ``running`` for a rejoining former primary
        before its rewind too (timeline unknown): it is then stopped, rewound and started
        again, which would drop a test's connections and its ``pg_wal_replay_pause``."""
        members = self.members()
        roles = [m.get("role") for m in members]
        leaders = [m for m in members if m.get("role") == "leader"]
        timeline = leaders[0].get("timeline") if len(leaders) == 1 else None
        running = all(m.get("state") in {"running", "streaming"} for m in members)
        caught_up = all(
            m.get("timeline") == timeline and isinstance(m.get("lag"), int)
            for m in members
            if m.get("role") != "leader"
        )
        return (
            len(members) == (size or self.size)
            and running
            and timeline is not None
            and caught_up
            and roles.count("sync_standby") >= 1
        )

    def wait_healthy(self, timeout: float = 120, size: int | None = None) -> None:
        _wait(lambda: self.healthy(size), timeout, f"a healthy cluster: {self.members()}")


def _etcd_healthy(port: int) -> bool:
    try:
        answer = _get_json(f"http://127.0.0.1:{port}/health")
    except OSError:
        return False
    return isinstance(answer, dict) and answer.get("health") == "true"


def _kill_group(pid: int | None) -> bool:
    """SIGKILL ``pid`` (a postmaster) if alive; True if it was."""
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def _reap(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


if __name__ == "__main__":
    cluster = PatroniCluster().start()
    sys.stdout.write(f"PARKTWIN_DATABASE_URL={cluster.url()}\n")
    sys.stdout.write(f"PARKTWIN_DATABASE_READ_URL={cluster.url('prefer-standby')}\n")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it cleanly too
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
