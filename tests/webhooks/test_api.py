"""The webhook API: subscriptions, validation, private-address refusal, admin-only access."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import auth, create_park, make_key
from tests.routes import app_routes
from tests.webhooks.conftest import create_webhook, query

HOOK = "http://127.0.0.1:9/hook"  # the discard port: nothing is delivered in this module


def test_create_get_list_patch_delete(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str
) -> None:
    base = f"/api/v1/parks/{park_id}/webhooks"
    created = create_webhook(
        wh_client, wh_admin, park_id, HOOK, event_types=["alarm.*"], min_severity="major"
    )
    assert created["event_types"] == ["alarm.*"] and created["min_severity"] == "major"
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["secret"])
    hook_url = f"{base}/{created['id']}"
    got = wh_client.get(hook_url, headers=wh_admin).json()
    assert "secret" not in got and got["url"] == HOOK and got["active"] is True
    second = create_webhook(wh_client, wh_admin, park_id, HOOK + "2")
    page = wh_client.get(base, params={"limit": 1}, headers=wh_admin).json()
    rest = wh_client.get(
        base, params={"limit": 1, "cursor": page["next_cursor"]}, headers=wh_admin
    ).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {created["id"], second["id"]}
    assert rest["next_cursor"] is None
    patched = wh_client.patch(
        hook_url, json={"min_severity": None, "active": False}, headers=wh_admin
    ).json()
    assert patched["min_severity"] is None and patched["active"] is False
    assert patched["event_types"] == ["alarm.*"]
    bad = wh_client.patch(hook_url, json={"event_types": None}, headers=wh_admin)
    assert bad.status_code == 422
    assert wh_client.delete(hook_url, headers=wh_admin).status_code == 204
    assert wh_client.get(hook_url, headers=wh_admin).status_code == 404
    assert wh_client.delete(hook_url, headers=wh_admin).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": HOOK, "event_types": []},
        {"url": HOOK, "event_types": ["Alarm Raised"]},
        {"url": HOOK, "event_types": ["*"], "min_severity": "info"},
        {"url": "ftp://127.0.0.1/x", "event_types": ["*"]},
        {"url": "http:///nohost", "event_types": ["*"]},
        {"event_types": ["*"]},
    ],
)
def test_invalid_subscriptions_are_422(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, body: dict[str, Any]
) -> None:
    response = wh_client.post(f"/api/v1/parks/{park_id}/webhooks", json=body, headers=wh_admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def strict_client(wh_settings: Settings) -> Iterator[TestClient]:
    """The app with the address and port guards at their defaults."""
    strict = wh_settings.model_copy(
        update={"webhook_allowed_networks": [], "webhook_allowed_ports": "80,443,8080,8443"}
    )
    with TestClient(create_app(strict)) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://172.16.0.1/",
        "http://192.168.1.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/",
        "http://[fec0::1]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
    ],
)
def test_non_public_addresses_are_refused(
    strict_client: TestClient, wh_admin: dict[str, str], park_id: str, url: str
) -> None:
    response = strict_client.post(
        f"/api/v1/parks/{park_id}/webhooks",
        json={"url": url, "event_types": ["*"]},
        headers=wh_admin,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "not a public address" in response.json()["detail"]


def test_a_public_address_is_accepted_and_patching_to_a_private_one_is_refused(
    strict_client: TestClient, wh_admin: dict[str, str], park_id: str, database_url: str
) -> None:
    # An IP literal: accepted without any lookup; nothing is ever sent to it (no events).
    hook = create_webhook(strict_client, wh_admin, park_id, "https://8.8.8.8/hook")
    url = f"/api/v1/parks/{park_id}/webhooks/{hook['id']}"
    refused = strict_client.patch(url, json={"url": "http://127.0.0.1/"}, headers=wh_admin)
    assert refused.status_code == 422
    assert strict_client.delete(url, headers=wh_admin).status_code == 204
    assert query(database_url, "SELECT count(*) FROM webhook WHERE id = %s", hook["id"]) == [(0,)]


# --- admin only, in the style of tests/api/test_access.py -----------------------------------


def webhook_routes() -> list[tuple[str, str]]:
    """(method, path) of every webhook route."""
    return [(method, path) for method, path, _d in app_routes() if "/webhooks" in path]


ROUTES = webhook_routes()
KEYS = ["none", "viewer", "operator", "admin", "admin@park", "viewer@park", "admin@other"]


@pytest.fixture(scope="module")
def world(
    wh_client: TestClient, wh_admin: dict[str, str], database_url: str
) -> Iterator[dict[str, Any]]:
    park, other = create_park(wh_client, wh_admin), create_park(wh_client, wh_admin)
    keys = {"none": {}, **{r: auth(make_key(database_url, r)) for r in ("viewer", "operator")}}
    keys["admin"] = wh_admin
    for name in ("admin", "viewer"):
        keys[f"{name}@park"] = auth(make_key(database_url, name, park.id))
    keys["admin@other"] = auth(make_key(database_url, "admin", other.id))
    yield {"park": park.id, "keys": keys}
    query(database_url, "DELETE FROM park WHERE id IN (%s, %s) RETURNING id", park.id, other.id)


def _expected(key: str) -> int | None:
    if key == "none":
        return 401
    if key == "admin@other":
        return 404
    return None if key.startswith("admin") else 403


def test_every_webhook_route_is_here() -> None:
    assert len(ROUTES) == 10, ROUTES


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("key", KEYS)
def test_webhooks_are_for_admins_only(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    world: dict[str, Any],
    method: str,
    path: str,
    key: str,
) -> None:
    park = world["park"]
    hook = create_webhook(wh_client, wh_admin, park, HOOK)
    ping = wh_client.post(f"/api/v1/parks/{park}/webhooks/{hook['id']}/test", headers=wh_admin)
    values = {"park_id": park, "webhook_id": hook["id"], "event_id": ping.json()["event_id"]}
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    body = {"url": HOOK, "event_types": ["*"]} if path.endswith("/webhooks") else {}
    response = wh_client.request(
        method,
        url,
        json=body if method in ("POST", "PATCH") else None,
        headers=world["keys"][key],
    )
    expected = _expected(key)
    if expected is None:
        assert response.status_code < 400, (key, response.text)
    else:
        assert response.status_code == expected, (key, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_unknown_webhook_ids_are_404(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str
) -> None:
    url = f"/api/v1/parks/{park_id}/webhooks/{uuid.uuid4()}"
    for method, suffix in (("GET", ""), ("GET", "/deliveries"), ("POST", "/test")):
        assert wh_client.request(method, url + suffix, headers=wh_admin).status_code == 404
