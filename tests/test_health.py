"""The app factory's operational endpoints against the real services."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.embedded.services import EmbeddedServices
from app.main import create_app
from tests.conftest import wait_ready


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_both_checks(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert (
        'parktwin_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    )


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["title"] and body["type"].startswith("https://")


@pytest.mark.embedded
def test_readyz_is_503_while_the_broker_is_down(
    client: TestClient, embedded: EmbeddedServices
) -> None:
    embedded.mosquitto.stop()
    try:
        deadline = time.monotonic() + 15
        while client.get("/readyz").status_code == 200:
            assert time.monotonic() < deadline, "readyz never noticed the broker going away"
            time.sleep(0.1)
        body = client.get("/readyz").json()
        assert body["checks"]["broker"] == "down"
        assert client.get("/healthz").status_code == 200
    finally:
        embedded.mosquitto.start()
    wait_ready(client, timeout=30)


@pytest.mark.embedded
def test_readyz_is_503_while_the_database_is_down(
    client: TestClient, embedded: EmbeddedServices
) -> None:
    embedded.postgres.stop()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "down"
    finally:
        embedded.postgres.start()
    wait_ready(client)
