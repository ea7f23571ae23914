"""The API's read routes read from a standby, its writes and its other reads from the primary.

Made visible by pausing WAL replay on every standby: the standbys then stop at the pause, so
what the primary has committed since is seen by primary routes and not by replica routes until
replay resumes. (Synchronous mode waits for the standby's flush, not its replay: commits go on.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from app.core.db import READ_APPLICATION
from tests.ingest_support import add_park, wait_until
from tests_cluster.conftest import Api
from tests_cluster.patroni import Node, PatroniCluster


@contextmanager
def replay_paused(cluster: PatroniCluster) -> Iterator[list[Node]]:
    """WAL replay paused on every standby; yields the standbys. ``pg_wal_replay_pause`` only
    asks: the standby stops before the next record it would replay (``confirm_paused``)."""
    cluster.wait_healthy()
    standbys = [n for n in cluster.nodes if n is not cluster.leader()]
    for node in standbys:
        with psycopg.connect(cluster.node_url(node), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
    try:
        yield standbys
    finally:
        for node in standbys:
            with psycopg.connect(cluster.node_url(node), autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")


def confirm_paused(cluster: PatroniCluster, standbys: list[Node]) -> None:
    """Every standby has reached its pause: it replays nothing more until resumed (a standby
    Patroni restarted meanwhile would say ``not paused`` and fail here, not later)."""

    def state(node: Node) -> str:
        with psycopg.connect(cluster.node_url(node), autocommit=True) as conn:
            row = conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
        assert row is not None
        return str(row[0])

    wait_until(
        lambda: all(state(n) == "paused" for n in standbys),
        30,
        f"the standbys to pause: {[(n.name, state(n)) for n in standbys]}",
    )


def read_backends(cluster: PatroniCluster) -> dict[str, int]:
    """How many of the API's read-pool connections each node holds (application_name)."""
    counts = {}
    for node in cluster.nodes:
        with psycopg.connect(cluster.node_url(node), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (READ_APPLICATION,),
            ).fetchone()
        counts[node.name] = int(row[0]) if row else 0
    return counts


def _reject(cluster: PatroniCluster, park_id: str) -> None:
    """A rejection committed on the primary (as the ingestor would write it)."""
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ingest_rejection (received_at, park_id, topic, reason, detail, "
            "payload, payload_size) VALUES (now(), %s, %s, 'malformed_json', 'test', '', 0)",
            (park_id, f"parks/{park_id}/devices/x/telemetry"),
        )


def _rejections(api: Api, park_id: str) -> int:
    with api.client() as client:
        reply = client.get("/api/v1/ingest/rejections", params={"park_id": park_id})
    assert reply.status_code == 200, reply.text
    return len(reply.json()["items"])


def test_reads_go_to_the_replica_and_writes_to_the_primary(
    cluster: PatroniCluster, fresh_api: Api
) -> None:
    # A fresh process: libpq chooses a standby when a connection is made, so the session API's
    # read connections may sit on a standby the failover test promoted (replaced within
    # READ_POOL_RECYCLE_S; docs/scale-out.md).
    api = fresh_api
    park_id = f"rr-{uuid.uuid4().hex[:6]}"
    add_park(cluster.url(), park_id, {"m1": "electricity_meter"})
    _reject(cluster, park_id)
    wait_until(lambda: _rejections(api, park_id) == 1, 30, "the replica to have the rejection")

    with replay_paused(cluster) as standbys:
        _reject(cluster, park_id)
        confirm_paused(cluster, standbys)
        seen = _rejections(api, park_id)
        leader = cluster.leader()
        assert seen == 1, (  # a replica route: the standby is behind
            f"read {seen}; leader {leader.name if leader else None}, "
            f"read connections per node {read_backends(cluster)}, members {cluster.members()}"
        )
        with api.client() as client:
            made = client.post(  # a write: it reaches the primary (a standby refuses writes)
                f"/api/v1/parks/{park_id}/devices",
                json={"id": "m2", "type": "electricity_meter", "name": "m2"},
            )
            assert made.status_code == 201, made.text
            # a primary read: the device just created is there
            device = client.get(f"/api/v1/parks/{park_id}/devices/m2")
            assert device.status_code == 200, device.text

    wait_until(lambda: _rejections(api, park_id) == 2, 30, "replay to catch up")
