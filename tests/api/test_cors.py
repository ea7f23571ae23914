"""CORS: ``PARKTWIN_API_CORS_ORIGINS`` lists the origins whose pages may read the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.main import create_app
from tests.conftest import ServiceEnv

ALLOWED = "https://screen.example.cn"
REFUSED = "https://evil.example.com"


@pytest.fixture(scope="module")
def cors_client(services: ServiceEnv, database_url: str) -> Iterator[TestClient]:
    settings = services.settings(database_url, api_cors_origins=f"{ALLOWED}, http://10.0.0.5:8080")
    with TestClient(create_app(settings)) as client:
        yield client


def test_an_allowed_origin_may_read_answers(
    cors_client: TestClient, viewer: dict[str, str]
) -> None:
    response = cors_client.get("/api/v1/parks", headers={**viewer, "Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "ETag" in response.headers["access-control-expose-headers"]
    assert "Origin" in response.headers["vary"] and "Authorization" in response.headers["vary"]
    refused = cors_client.get("/api/v1/parks", headers={"Origin": ALLOWED})  # no key: 401
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED  # the page can read why


def test_another_origin_gets_no_cors_header(
    cors_client: TestClient, viewer: dict[str, str]
) -> None:
    response = cors_client.get("/api/v1/parks", headers={**viewer, "Origin": REFUSED})
    assert "access-control-allow-origin" not in response.headers


def test_preflight(cors_client: TestClient) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key",
    }
    allowed = cors_client.options(
        "/api/v1/parks/demo/alarms/1/ack", headers={**asked, "Origin": ALLOWED}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    assert allowed.headers["access-control-max-age"] == "600"
    refused = cors_client.options(
        "/api/v1/parks/demo/alarms/1/ack", headers={**asked, "Origin": REFUSED}
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_off_by_default(client: TestClient, viewer: dict[str, str]) -> None:
    response = client.get("/api/v1/parks", headers={**viewer, "Origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/api/v1/parks", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    "value",
    ["*", "screen.example.cn", "https://screen.example.cn/", "ftp://x.cn", "https://a/b",
     "https://ok.example.cn,http://b[1", "https://screen.example.cn:99999"],
)  # fmt: skip
def test_only_origins_are_accepted(value: str) -> None:
    """Each refusal names the item (a bracket or a port out of range too, where urlsplit's own
    error named nothing)."""
    with pytest.raises(ValidationError, match="is not an origin such as"):
        Settings(api_cors_origins=value)
