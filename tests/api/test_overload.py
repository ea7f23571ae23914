"""A request whose SQL runs past PARKTWIN_API_STATEMENT_TIMEOUT is cancelled by PostgreSQL and
answered 503 with a problem that says what to do, not a 500 (and not a connection held for
minutes). The statement is made to wait on a lock another transaction holds."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api.conftest import auth, make_key
from tests.conftest import ServiceEnv, wait_ready


def test_a_statement_past_the_timeout_is_a_503(services: ServiceEnv, database_url: str) -> None:
    settings = services.settings(database_url, api_statement_timeout=timedelta(milliseconds=300))
    admin = auth(make_key(database_url, "admin"))
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        assert client.get("/api/v1/parks", headers=admin).status_code == 200
        with psycopg.connect(database_url) as blocker:
            blocker.execute("LOCK TABLE park IN ACCESS EXCLUSIVE MODE")
            response = client.get("/api/v1/parks", headers=admin)
            blocker.rollback()
        assert response.status_code == 503, response.text
        problem = response.json()
        assert problem["type"].endswith("/query-timeout")
        assert "PARKTWIN_API_STATEMENT_TIMEOUT" in problem["detail"]
        assert client.get("/api/v1/parks", headers=admin).status_code == 200  # and carries on
