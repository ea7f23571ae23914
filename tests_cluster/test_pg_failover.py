"""kill -9 of the PostgreSQL primary's whole node mid-stream: Patroni promotes the synchronous
standby, ingest and the API carry on, and every reading a device had an acknowledgement for
(a PUBACK counted by a real QoS 1 publisher) is stored, once.

The chain that makes it so: the broker acknowledges a device's publish and keeps the message
for the ingestor's persistent session; the ingestor acknowledges it to the broker only after its
batch committed; a commit returns only once the synchronous standby has the WAL on disk
(Patroni's synchronous mode), and Patroni promotes only that standby. A batch whose commit was
cut off by the kill is not acknowledged, so the broker redelivers it and the unique key stores
its readings once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from app.broker.dynsec import DynsecClient
from app.core.mqtt import MqttTarget
from tests.ingest_support import Publisher, StreamPublisher, add_park, scalar, wait_until
from tests_cluster.conftest import Api, Child, process_env
from tests_cluster.patroni import PatroniCluster

logger = logging.getLogger(__name__)

DEVICES = 6
PER_DEVICE = 3000  # at 100/s each: 30 s of stream, the kill about 8 s in
RATE = 100.0


@pytest.fixture
def park(cluster: PatroniCluster) -> str:
    park_id = f"fo-{uuid.uuid4().hex[:6]}"
    devices = {f"m{i}": "electricity_meter" for i in range(DEVICES)} | {
        "probe": "electricity_meter"
    }
    add_park(cluster.url(), park_id, devices)
    return park_id


@pytest.fixture
def ingest(cluster: PatroniCluster, mqtt_url: str) -> Iterator[Child]:
    tag = uuid.uuid4().hex[:8]
    env = process_env(
        cluster,
        mqtt_url,
        PARKTWIN_INGEST_CLIENT_ID=f"cluster-ingest-{tag}",
        PARKTWIN_INGEST_SHARE_GROUP=f"cluster-{tag}",
        PARKTWIN_INGEST_SESSION_EXPIRY="PT10M",
        PARKTWIN_INGEST_METRICS_PORT="0",
        PARKTWIN_INGEST_BATCH_WAIT_MS="20",
    )
    child = Child(["ingest"], env).start()
    yield child
    child.stop()


def stored(cluster: PatroniCluster, park_id: str) -> int:
    count = scalar(
        cluster.url(),
        "SELECT count(*) FROM telemetry t JOIN series s ON s.id = t.series_id "
        "WHERE s.park_id = %s AND s.device_id <> 'probe'",
        park_id,
    )
    assert isinstance(count, int)
    return count


def test_primary_killed_mid_stream_loses_no_acknowledged_reading(
    cluster: PatroniCluster,
    mqtt_url: str,
    dynsec: DynsecClient,
    park: str,
    ingest: Child,
    api: Api,
) -> None:
    target = MqttTarget.from_url(mqtt_url)
    probe = Publisher(target, dynsec, park, "probe")
    _wait_subscribed(cluster, probe)
    devices = [Publisher(target, dynsec, park, f"m{i}") for i in range(DEVICES)]
    streams = [StreamPublisher(d, count=PER_DEVICE, rate=RATE).start() for d in devices]
    wait_until(lambda: stored(cluster, park) > 500, 60, "the stream to be stored")

    old = cluster.leader()
    assert old is not None
    cluster.kill_node(old)
    reads_during = _read_while_failing_over(cluster, api, park, old.name)
    wait_until(lambda: _new_leader(cluster, old.name), 90, "Patroni to promote a standby")

    for stream in streams:
        stream.join()
    acked = [d.acked for d in devices]
    wait_until(
        lambda: sum(d.acked for d in devices) == DEVICES * PER_DEVICE,
        60,
        f"every PUBACK ({sum(d.acked for d in devices)})",
    )
    wait_until(
        lambda: stored(cluster, park) >= DEVICES * PER_DEVICE,
        120,
        f"the acknowledged readings to be stored ({stored(cluster, park)}); "
        f"ingest log: {ingest.output()[-3000:]}",
    )
    acked = [d.acked for d in devices]
    logger.warning(
        "failover: %s killed; acknowledged %d, stored %d, reads answered while failing over %d",
        old.name,
        sum(acked),
        stored(cluster, park),
        reads_during,
    )
    assert stored(cluster, park) == sum(acked) == DEVICES * PER_DEVICE  # none lost, each once
    assert "database unavailable" in ingest.output()  # it did see the primary go
    assert reads_during > 0  # dashboards read on: the replica routes, auth from the replica
    assert ingest.process is not None and ingest.process.poll() is None

    # The API carries on: a write (primary) and a read (replica) after the failover.
    with api.client() as client:
        made = client.post(
            f"/api/v1/parks/{park}/devices",
            json={"id": "after", "type": "gas_detector", "name": "after failover"},
        )
        assert made.status_code == 201, made.text
        latest = client.get(f"/api/v1/parks/{park}/devices/m0/latest")
        assert latest.status_code == 200, latest.text
    for device in [probe, *devices]:
        device.close()

    cluster.restart_node(old)  # rewound, it rejoins as a replica: the next test has three
    cluster.wait_healthy(timeout=120)


def _wait_subscribed(cluster: PatroniCluster, probe: Publisher) -> None:
    def processed() -> bool:
        probe.send(b"online", kind="status")
        status = scalar(
            cluster.url(),
            "SELECT status FROM device WHERE park_id = %s AND id = %s",
            probe.park_id,
            probe.device_id,
        )
        return status == "online"

    wait_until(processed, 60, "the ingestor to subscribe")


def _new_leader(cluster: PatroniCluster, old: str) -> bool:
    leader = cluster.leader()
    return leader is not None and leader.name != old


def _read_while_failing_over(cluster: PatroniCluster, api: Api, park: str, old: str) -> int:
    """Dashboard reads (a replica route) every 0.5 s until a new leader is up (Patroni's ttl,
    20 s here): how many answered 200."""
    answered = 0
    with api.client() as client:
        while not _new_leader(cluster, old):
            try:
                reply = client.get(f"/api/v1/parks/{park}/devices/m0/latest")
                answered += reply.status_code == 200
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    return answered
