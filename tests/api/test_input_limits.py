"""HTTP input limits: request bodies refused (413) before the key is checked, crafted cursors
refused (422) on every list, and the metrics' method label bounded (review M1, L14, L18)."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from app.core.config import Settings
from app.core.metrics import method_label
from app.core.pagination import page_params
from app.main import create_app
from tests.api.conftest import create_park
from tests.assets.land_util import park_with_boundary
from tests.assets.support import make_building
from tests.conftest import wait_ready
from tests.economy.support import credit_code
from tests.routes import app_routes

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
SMALL = 4096
SMALL_IMPORT = 64 * 1024


def assert_413(response: Any) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/content-too-large")
    assert problem["status"] == 413 and problem["title"] == "Content too large"
    assert "at most" in problem["detail"]
    assert response.headers["x-request-id"]  # the request id middleware is outside the limit


def test_a_body_over_the_limit_without_a_key_is_413(client: TestClient) -> None:
    body = b"{" + b" " * MIB + b"}"  # announced by Content-Length: refused unread
    assert_413(client.post("/api/v1/parks", content=body, headers=JSON))
    assert_413(client.post("/api/v1/parks", content=b"{not json" + b" " * MIB, headers=JSON))


def test_a_chunked_body_over_the_limit_without_a_key_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * (64 * 1024)

    response = client.post("/api/v1/parks", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_413(response)


def test_reading_stops_as_soon_as_a_chunked_body_passes_the_limit(settings: Settings) -> None:
    """Driven at the ASGI level, where chunks arrive one by one: the app asks for no more
    chunks once the limit is passed, and answers 413 though its body parser was cut short."""
    app = create_app(settings.model_copy(update={"api_body_max": SMALL}))
    chunk, pulled, sent = b" " * 1024, [0], list[dict[str, Any]]()

    async def receive() -> dict[str, Any]:
        pulled[0] += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled[0] < 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/parks", "raw_path": b"/api/v1/parks",
        "query_string": b"", "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert pulled[0] == SMALL // len(chunk) + 1
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["status"] == 413
    assert len([m for m in sent if m["type"] == "http.response.start"]) == 1


def test_a_json_body_under_the_limit_still_works(client: TestClient, admin: dict[str, str]) -> None:
    park = create_park(client, admin)
    attributes = {"notes": "x" * (MIB - 4096)}
    body = {"id": f"d-{uuid.uuid4().hex[:8]}", "type": "electricity_meter", "name": "big"}
    body["attributes"] = attributes  # type: ignore[assignment]
    response = client.post(f"/api/v1/parks/{park.id}/devices", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["attributes"] == attributes


@pytest.fixture(scope="module")
def small_client(settings: Settings) -> Iterator[TestClient]:
    small = {"api_body_max": SMALL, "api_import_body_max": SMALL_IMPORT}
    with TestClient(create_app(settings.model_copy(update=small))) as client:
        wait_ready(client)
        yield client


def enterprises_csv(size: int) -> bytes:
    """A CSV of one enterprise exactly ``size`` bytes long, padded by ignored note columns."""
    notes = ["n1", "n2", "n3", "n4"]
    row = ["e-1", "one", credit_code(), *("x" * 16_000 for _ in notes[:-1]), ""]
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([["id", "name", "credit_code", *notes], row])
    body = out.getvalue().encode()
    return body[:-1] + b"x" * (size - len(body)) + b"\n"


def test_an_import_just_under_its_limit_is_accepted(
    small_client: TestClient, admin: dict[str, str]
) -> None:
    park_id = park_with_boundary(small_client, admin)
    url = f"/api/v1/parks/{park_id}/import/enterprises?dry_run=true"
    headers = {**admin, "Content-Type": "text/csv"}
    fits = small_client.post(url, content=enterprises_csv(SMALL_IMPORT), headers=headers)
    assert fits.status_code == 200, fits.text
    assert fits.json()["created"] == 1 and fits.json()["ignored_fields"] == ["n1", "n2", "n3", "n4"]
    assert_413(small_client.post(url, content=enterprises_csv(SMALL_IMPORT + 1), headers=headers))
    # Chunked: counted while streaming, the same limit.
    body = enterprises_csv(SMALL_IMPORT + 1)
    assert_413(small_client.post(url, content=iter([body]), headers=headers))
    # The economy import has the import limit too; every other route the small one.
    economy = f"/api/v1/parks/{park_id}/economy/reports/import?dry_run=true"
    assert small_client.post(economy, content=b"x" * SMALL * 2, headers=headers).status_code != 413
    devices = f"/api/v1/parks/{park_id}/devices"
    assert_413(small_client.post(devices, content=b" " * (SMALL + 1), headers=admin))


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def j(value: Any) -> str:
    return b64(json.dumps(value).encode())


CRAFTED = [
    "!!!!",
    "%",
    "a",
    b64(b"not json"),
    b64(b"\xff\xfe\x00"),
    j({"a": 1}),
    j("x"),
    j(1),
    j(None),
    j([]),
    j(["a", "b", "c"]),
    j([[1]]),
    j([{"a": 1}]),
    j(["x", ["y"]]),
    j([{"a": "b"}, "x"]),
    j([True]),
    j([True, False]),
    j([None]),
    j([None, None]),
    j([1.5]),
    j([1.5, "x"]),
    j([2**64]),
    j([2**64 - 1]),
    j([2**63, "x"]),
    j([-(2**63) - 1, 1]),
    b64(b"[1e400]"),
    b64(b"[123456789012345678901234567890]"),
    b64(b"[" * 400 + b"]" * 400),
    j(["\x00"]),
    j(["\x00", "\x00"]),
    j(["not-a-date", "\x00"]),
]


def list_paths() -> list[str]:
    def pages(dependant: Any) -> bool:
        return dependant.call is page_params or any(pages(d) for d in dependant.dependencies)

    return sorted({path for method, path, dep in app_routes() if method == "GET" and pages(dep)})


@pytest.fixture(scope="module")
def list_ids(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, str]:
    park_id = park_with_boundary(client, admin)
    building_id, _ = make_building(database_url, park_id)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO webhook (park_id, url, event_types, secret) "
            "VALUES (%s, 'https://example.com/hook', ARRAY['*'], 's') RETURNING id",
            (park_id,),
        ).fetchone()
        conn.execute(
            "INSERT INTO enterprise (park_id, id, name, credit_code) "
            "VALUES (%s, 'e-cursor', 'e', '91350100M000100Y43')",
            (park_id,),
        )
        conn.execute(
            "INSERT INTO lease (park_id, id, enterprise_id, building_id, area_m2, start_date, "
            "end_date) VALUES (%s, 'l-cursor', 'e-cursor', %s, 10, '2026-01-01', '2026-12-31')",
            (park_id, building_id),
        )
    assert row is not None
    return {
        "park_id": park_id,
        "building_id": building_id,
        "webhook_id": str(row[0]),
        "lease_id": "l-cursor",
        "enterprise_id": "e-cursor",
    }


@pytest.mark.parametrize("path", list_paths())
def test_crafted_cursors_are_422_on_every_list(
    client: TestClient, admin: dict[str, str], list_ids: dict[str, str], path: str
) -> None:
    url = path.format(**list_ids)
    assert client.get(url, headers=admin).status_code == 200  # the list itself works
    answers = {c: client.get(url, params={"cursor": c}, headers=admin) for c in CRAFTED}
    wrong = {c: (r.status_code, r.text[:200]) for c, r in answers.items() if r.status_code != 422}
    assert not wrong, wrong
    for response in answers.values():
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


def test_the_list_endpoints_are_all_tested() -> None:
    assert len(list_paths()) >= 18
    assert "/api/v1/parks/{park_id}/carbon/manual-entries" in list_paths()


def test_carbon_cursors_with_a_date_that_is_not_one(
    client: TestClient, admin: dict[str, str], list_ids: dict[str, str]
) -> None:
    for kind in ("manual-entries", "green-power"):
        url = f"/api/v1/parks/{list_ids['park_id']}/carbon/{kind}"
        for cursor in (j(["2026-13-01", "x"]), j([20260101, "x"]), j(["", ""])):
            response = client.get(url, params={"cursor": cursor}, headers=admin)
            assert response.status_code == 422, (kind, cursor, response.text)
            assert response.json()["detail"].startswith("cursor:")


def test_unknown_methods_are_counted_as_other(client: TestClient) -> None:
    assert [method_label(m) for m in ("GET", "POST", "DELETE")] == ["GET", "POST", "DELETE"]
    assert method_label("FOO") == method_label("get") == method_label("X" * 100) == "OTHER"
    for method in ("FOO", "BAR", "PROPFIND"):
        assert client.request(method, "/healthz").status_code == 405
    metrics = generate_latest(client.app.state.registry).decode()  # type: ignore[attr-defined]
    assert 'method="OTHER"' in metrics
    assert "FOO" not in metrics and "PROPFIND" not in metrics
