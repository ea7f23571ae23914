"""The rejection log's retention job (review H4): rejections older than
``PARKTWIN_REJECTION_RETENTION`` are deleted, in bounded batches, newer ones kept."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest

from app.core.config import Settings
from app.telemetry import jobs
from app.telemetry.jobs import rejection_retention
from app.worker.jobs import default_jobs
from app.worker.loop import Job
from tests.api.worker_util import drain, run_once


def _add(database_url: str, topic: str, age: timedelta, count: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ingest_rejection (received_at, topic, reason, detail, payload, "
            "payload_size) SELECT now() - %s, %s, 'malformed_json', 'x', '\\x00', 1 "
            "FROM generate_series(1, %s)",
            (age, topic, count),
        )


def _ages(database_url: str, topic: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT extract(day FROM now() - received_at)::int FROM ingest_rejection "
            "WHERE topic = %s ORDER BY 1",
            (topic,),
        ).fetchall()
    return [r[0] for r in rows]


def test_old_rejections_are_deleted_in_batches_and_recent_ones_kept(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"parks/retention/devices/{uuid.uuid4().hex[:8]}/telemetry"
    _add(database_url, topic, timedelta(days=31), 25)
    _add(database_url, topic, timedelta(days=29), 3)
    assert settings.rejection_retention == timedelta(days=30)  # the documented default
    monkeypatch.setattr(jobs, "REJECTION_PURGE_BATCH", 10)
    job = Job("rejection_retention", rejection_retention)
    assert run_once(settings, job) == 10  # one run deletes one bounded batch
    assert len(_ages(database_url, topic)) == 28 - 10
    assert drain(settings, job) >= 15  # other tests' old rejections may go too
    assert _ages(database_url, topic) == [29, 29, 29]
    assert "rejection_retention" in [job.name for job in default_jobs()]
