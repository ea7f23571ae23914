"""``parktwin worker``'s Prometheus endpoint (PARKTWIN_WORKER_METRICS_PORT): after a webhook
delivery and a rollup, a real worker process exposes every job's runs, failures, duration,
last success and backlog, labelled by job, and ``parktwin_worker_up 1``."""

from __future__ import annotations

import socket
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.worker.jobs import default_jobs
from tests.api.conftest import create_device, series_id, write_readings
from tests.webhooks.conftest import (
    Receiver,
    create_webhook,
    insert_event,
    start_worker,
    wait_until,
)

Samples = dict[tuple[str, str], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int) -> Samples:
    """Every sample of the endpoint, keyed by (name, job label or "")."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if set(sample.labels) <= {"job"}:
                samples[(sample.name, sample.labels.get("job", ""))] = sample.value
    return samples


def _dirty(database_url: str, sid: int) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM telemetry_dirty WHERE series_id = %s", (sid,))
        return int(row.fetchone()[0])  # type: ignore[index]


def test_the_worker_exposes_its_jobs_metrics_after_a_delivery_and_a_rollup(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    receiver: Receiver,
    database_url: str,
) -> None:
    db = database_url
    device = create_device(wh_client, wh_admin, park_id)
    sid = series_id(db, park_id, str(device["id"]), "energy_kwh")
    now = datetime.now(UTC).replace(microsecond=0)
    write_readings(db, sid, [(now - timedelta(hours=h), float(100 - h)) for h in range(3)])
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    port = _free_port()
    started = time.time()
    worker = start_worker(db, worker_metrics_port=str(port), rollup_open_hour_interval="PT0S")
    try:
        event_id = insert_event(db, park_id)
        receiver.wait_for(lambda rs: event_id in [r.id for r in rs], "the delivery")
        wait_until(lambda: _dirty(db, sid) == 0, "the rollup")
        wait_until(lambda: _delivered(port), "the delivery's metrics")
        samples = _scrape(port)
    finally:
        worker.stop()
    names = {job.name for job in default_jobs()}
    for series in ("runs_total", "failures_total", "duration_seconds_count"):
        labelled = {job for (name, job) in samples if name == f"parktwin_worker_job_{series}"}
        assert labelled == names, series
    assert samples[("parktwin_worker_up", "")] == 1
    for job in ("webhooks", "rollup"):
        assert samples[("parktwin_worker_job_runs_total", job)] >= 1
        assert samples[("parktwin_worker_job_duration_seconds_count", job)] >= 1
        last = samples[("parktwin_worker_job_last_success_timestamp_seconds", job)]
        assert started <= last <= time.time()
        assert samples[("parktwin_worker_job_backlog", job)] >= 0
    assert samples[("parktwin_worker_job_failures_total", "webhooks")] == 0
    assert samples[("parktwin_worker_job_failures_total", "rollup")] == 0
    backlog = {job for (name, job) in samples if name == "parktwin_worker_job_backlog"}
    assert backlog == {"webhooks", "notify", "rollup"}  # only jobs that can tell it cheaply


def _delivered(port: int) -> bool:
    """The delivery and the rollup ran, and both backlogs were measured."""
    samples = _scrape(port)
    return (
        samples.get(("parktwin_worker_job_runs_total", "rollup"), 0) >= 1
        and samples.get(("parktwin_worker_job_backlog", "webhooks")) is not None
        and samples.get(("parktwin_worker_job_backlog", "rollup")) is not None
    )


def test_a_taken_metrics_port_does_not_stop_the_worker(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    receiver: Receiver,
    database_url: str,
) -> None:
    """The worker delivers the safety webhooks: a metrics port in use is logged, not fatal."""
    db = database_url
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = start_worker(db, worker_metrics_port=str(port))
        try:
            event_id = insert_event(db, park_id)
            receiver.wait_for(lambda rs: event_id in [r.id for r in rs], "the delivery")
            assert worker.process.poll() is None
        finally:
            worker.stop()
    assert f"metrics endpoint 127.0.0.1:{port} not served" in worker.output()
