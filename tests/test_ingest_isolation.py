"""One message's failure stays that message's (review C1): whatever a stage raises for it
(parse, row building, the write), it becomes a rejection with reason ``internal_error``, the
rest of its batch is stored, and the worker goes on. The worker runs in this process against
the real database, fed by hand (its MQTT client is never started: the messages carry no
connection, so nothing is acknowledged to a broker). A fault is injected in one stage for one
marked value: a stand-in for a bug no payload known today triggers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import pytest

from app.core.migrate import upgrade_to_head
from ingest import pipeline, rows, writer
from ingest.consumer import Inbound
from ingest.pipeline import IngestWorker
from tests.conftest import ServiceEnv
from tests.ingest_support import add_park, hand_fed_worker

BAD = 13.25  # the value the injected fault fails on


@pytest.fixture(scope="module")
def db(services: ServiceEnv) -> Iterator[str]:
    url = services.create_database("parktwin_isolation")
    upgrade_to_head(url)
    yield url
    services.drop_database(url)


@pytest.fixture
def park(db: str) -> str:
    park_id = f"iso-{uuid.uuid4().hex[:6]}"
    add_park(db, park_id, {"m1": "electricity_meter", "m2": "electricity_meter"})
    return park_id


@pytest.fixture
def worker(db: str, services: ServiceEnv) -> Iterator[IngestWorker]:
    made = hand_fed_worker(db, services.mqtt_url, "isolation")
    yield made
    made._close()


def message(park: str, device: str, value: float, offset_ms: int) -> Inbound:
    at = datetime.now(UTC)
    ts = int(at.timestamp() * 1000) - 60_000 + offset_ms
    payload = orjson.dumps({"ts": ts, "values": {"power_kw": value}})
    topic = f"parks/{park}/devices/{device}/telemetry"
    return Inbound(topic, payload, 1, 1, -1, at, len(payload))


def batch(park: str) -> list[Inbound]:
    return [
        message(park, "m1", 1.0, 1),
        message(park, "m2", BAD, 2),
        message(park, "m1", 2.0, 3),
        message(park, "m2", 3.0, 4),
    ]


def outcome(db: str, park: str) -> tuple[list[float], list[tuple[str, str, str]]]:
    with psycopg.connect(db) as conn:
        values = conn.execute(
            "SELECT t.value FROM telemetry t JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s ORDER BY t.value",
            (park,),
        ).fetchall()
        rejected = conn.execute(
            "SELECT device_id, reason, detail FROM ingest_rejection WHERE park_id = %s",
            (park,),
        ).fetchall()
    return [v for (v,) in values], rejected


def fail_on_bad(real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, except that it raises when one of its arguments holds the BAD value."""

    def failing(*args: Any) -> Any:
        if str(BAD) in repr(args):
            raise RecursionError("injected")
        return real(*args)

    return failing


def test_a_parser_failure_rejects_only_its_message(
    db: str, park: str, worker: IngestWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "parse_telemetry", fail_on_bad(pipeline.parse_telemetry))
    worker.process(batch(park))
    values, rejected = outcome(db, park)
    assert values == [1.0, 2.0, 3.0]
    assert rejected == [("m2", "internal_error", "the parser failed: RecursionError")]


def test_a_row_building_failure_rejects_only_its_message(
    db: str, park: str, worker: IngestWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rows.RowBuilder.add_readings
    monkeypatch.setattr(rows.RowBuilder, "add_readings", fail_on_bad(real))
    worker.process(batch(park))
    values, rejected = outcome(db, park)
    assert values == [1.0, 2.0, 3.0]
    assert rejected == [("m2", "internal_error", "storing it failed: RecursionError")]


def test_a_failure_inside_the_write_rejects_only_its_message(
    db: str, park: str, worker: IngestWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "row_arrays", fail_on_bad(writer.row_arrays))
    worker.process(batch(park))
    worker.process([message(park, "m1", 4.0, 5)])  # the worker goes on, its connection too
    values, rejected = outcome(db, park)
    assert values == [1.0, 2.0, 3.0, 4.0]
    assert rejected == [("m2", "internal_error", "storing it failed: RecursionError")]
