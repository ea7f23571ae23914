"""``GET /api/v1/me``: the calling key's role and park, what the cockpit shows buttons by."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import auth, create_park, make_key
from tests.api.test_access import make_tenancy


def test_me_tells_each_role_what_it_may_do(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    expected = {
        "viewer": (False, False),
        "operator": (True, False),
        "admin": (True, True),
    }
    for role, (can_acknowledge, can_manage) in expected.items():
        token = make_key(database_url, role, park.id)
        body = client.get("/api/v1/me", headers=auth(token)).json()
        assert body == {
            "key_id": token.split("_")[1],
            "role": role,
            "park_id": park.id,
            "enterprise_id": None,
            "can_acknowledge": can_acknowledge,
            "can_manage": can_manage,
        }


def test_me_tells_an_enterprise_key_its_enterprise(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    enterprise = make_tenancy(database_url, park.id)["enterprise_id"]
    token = make_key(database_url, "enterprise", park.id, enterprise)
    assert client.get("/api/v1/me", headers=auth(token)).json() == {
        "key_id": token.split("_")[1],
        "role": "enterprise",
        "park_id": park.id,
        "enterprise_id": enterprise,
        "can_acknowledge": False,
        "can_manage": False,
    }
    # and nothing park-wide: not the park's devices, not the park itself
    for url in (f"/api/v1/parks/{park.id}/devices", f"/api/v1/parks/{park.id}", "/api/v1/parks"):
        assert client.get(url, headers=auth(token)).status_code == 403, url


def test_me_needs_a_key(client: TestClient) -> None:
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_cockpit_is_served_at_the_root_without_shadowing_the_api(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in page.text
    assert client.get("/js/main.js").headers["content-type"].startswith("text/javascript")
    enterprise = client.get("/enterprise")  # an enterprise key's own page
    assert '<script type="module" src="js/enterprise.js">' in enterprise.text
    assert "frame-ancestors 'none'" in enterprise.headers["content-security-policy"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    assert client.get("/metrics").status_code == 200
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_the_cockpit_allows_only_its_own_scripts_and_origin(client: TestClient) -> None:
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert client.get("/vendor/echarts.esm.min.js").headers["x-content-type-options"] == "nosniff"
