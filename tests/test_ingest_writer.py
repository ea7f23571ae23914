"""The batch writer's transaction (ingest/writer.py): its statements are pipelined, and a batch
that meets readings already stored is rolled back and written again skipping them. The worker
runs in this process against the real database, fed by hand as in test_ingest_isolation.py
(nothing is acknowledged to a broker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from prometheus_client import CollectorRegistry

from app.core.migrate import upgrade_to_head
from ingest.consumer import Inbound
from ingest.pipeline import IngestWorker
from tests.conftest import ServiceEnv
from tests.ingest_support import add_park, hand_fed_worker

MINUTE_AGO = datetime.now(UTC) - timedelta(minutes=1)


@pytest.fixture(scope="module")
def db(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_writer")
    upgrade_to_head(url)
    yield url
    services.drop_database(url)


@pytest.fixture
def park(db: str) -> str:
    park_id = f"wr-{uuid.uuid4().hex[:6]}"
    add_park(db, park_id, {"m1": "electricity_meter", "m2": "electricity_meter"})
    return park_id


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def worker(db: str, services: ServiceEnv, registry: CollectorRegistry) -> Iterator[IngestWorker]:
    made = hand_fed_worker(db, services.mqtt_url, "writer", registry)
    yield made
    made._close()


def message(park: str, device: str, values: dict[str, float], offset_ms: int) -> Inbound:
    ts = int(MINUTE_AGO.timestamp() * 1000) + offset_ms
    payload = orjson.dumps({"ts": ts, "values": values})
    topic = f"parks/{park}/devices/{device}/telemetry"
    return Inbound(topic, payload, 1, 1, -1, datetime.now(UTC), len(payload))


def counted(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(f"parktwin_ingest_{name}_total") or 0.0


def test_a_batch_meeting_stored_readings_stores_the_rest_and_everything_else(
    db: str, park: str, worker: IngestWorker, registry: CollectorRegistry
) -> None:
    worker.process([message(park, "m1", {"power_kw": 1.0}, 1)])
    worker.process(
        [
            message(park, "m1", {"power_kw": 9.0}, 1),  # stored already: the first value stays
            message(park, "m1", {"power_kw": 2.0}, 2),
            message(park, "m2", {"power_kw": 5.0}, 2),
            message(park, "m2", {"gas_lel_pct": 1.0}, 3),  # not a meter's metric: a rejection
        ]
    )
    with psycopg.connect(db) as conn:
        stored = conn.execute(
            "SELECT s.device_id, t.value FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s ORDER BY 1, t.time",
            (park,),
        ).fetchall()
        latest = conn.execute(
            "SELECT s.device_id, l.value FROM latest_value l JOIN series s ON s.id = l.series_id "
            "WHERE s.park_id = %s ORDER BY 1",
            (park,),
        ).fetchall()
        dirty = conn.execute(
            "SELECT count(*) FROM telemetry_dirty d JOIN series s ON s.id = d.series_id "
            "WHERE s.park_id = %s",
            (park,),
        ).fetchone()
        rejected = conn.execute(
            "SELECT device_id, reason FROM ingest_rejection WHERE park_id = %s", (park,)
        ).fetchall()
        seen = conn.execute(
            "SELECT id FROM device WHERE park_id = %s AND last_seen_at IS NOT NULL ORDER BY id",
            (park,),
        ).fetchall()
    assert stored == [("m1", 1.0), ("m1", 2.0), ("m2", 5.0)]
    assert latest == [("m1", 2.0), ("m2", 5.0)]
    assert dirty == (2,)  # each series' one hour (every reading is at MINUTE_AGO + ms)
    assert rejected == [("m2", "unknown_metric")]
    assert seen == [("m1",), ("m2",)]
    # 1 + 2 readings stored, 1 skipped as already there
    assert counted(registry, "readings_stored") == 3
    assert counted(registry, "readings_duplicate") == 1


def test_a_batch_of_new_readings_counts_none_skipped(
    db: str, park: str, worker: IngestWorker, registry: CollectorRegistry
) -> None:
    worker.process(
        [message(park, "m1", {"power_kw": float(i)}, i) for i in range(1, 6)]
        + [message(park, "m2", {"power_kw": 7.0}, 1)]
    )
    with psycopg.connect(db) as conn:
        count = conn.execute(
            "SELECT count(*) FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s",
            (park,),
        ).fetchone()
    assert count == (6,)
    assert counted(registry, "readings_stored") == 6
    assert counted(registry, "readings_duplicate") == 0
