"""``Idempotency-Key`` on the POSTs that create things (review L17): a retry with the same key
and body creates one row and gets the first answer back; another body with the key is 422; a
request while the first is in flight is 409; without the header nothing changes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine_for
from app.idempotency.jobs import prune
from app.idempotency.route import HEADER, REPLAYED
from tests.api.conftest import auth, create_device, make_key
from tests.assets.support import make_building, make_enterprise
from tests.emergency.support import LAT, LON, FixturePark, fixture_park
from tests.webhooks.conftest import wh_admin, wh_client, wh_settings

__all__ = ["wh_admin", "wh_client", "wh_settings"]


@dataclass
class Case:
    """A creating POST: its path, two different bodies, and how to count what it creates."""

    path: str
    body: dict[str, Any]
    other: dict[str, Any]
    count: Callable[[], int]
    status: int = 201


def count(database_url: str, query: str, *params: Any) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def park(client: TestClient, admin: dict[str, str], database_url: str) -> FixturePark:
    return fixture_park(client, admin, database_url)


def _incident(client: TestClient, admin: dict[str, str], park: FixturePark) -> str:
    body = {"type": "gas_leak", "location": {"lon": LON, "lat": LAT}}
    response = client.post(f"/api/v1/parks/{park.id}/incidents", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _cases(
    client: TestClient, admin: dict[str, str], park: FixturePark, database_url: str
) -> dict[str, Case]:
    pid, url = park.id, f"/api/v1/parks/{park.id}"

    def rows(query: str, *params: Any) -> Callable[[], int]:
        return lambda: count(database_url, query, *params)

    incident = _incident(client, admin, park)
    alarm = park.alarm(park.device("gas_detector", 10, 0), "gas_lel_pct", datetime.now(UTC))
    reported = _incident(client, admin, park)
    building, _ = make_building(database_url, pid)
    enterprise = make_enterprise(client, admin, pid)
    now = datetime.now(UTC)
    shift = {"name": "王五", "role": "值班长", "starts_at": now.isoformat(),
             "ends_at": (now + timedelta(hours=8)).isoformat()}  # fmt: skip
    lease = {"id": f"L-{uuid.uuid4().hex[:8]}", "enterprise_id": enterprise,
             "building_id": building, "start_date": "2030-01-01",
             "end_date": "2030-12-31"}  # fmt: skip
    manual = {"carrier": "diesel", "day": "2026-05-12", "quantity": 200}
    green = {"kind": "contract", "month": "2026-05-01", "kwh": 5000}
    return {
        "incidents": Case(
            f"{url}/incidents",
            {"type": "gas_leak", "location": {"lon": LON, "lat": LAT}},
            {"type": "fire", "location": {"lon": LON, "lat": LAT}},
            rows("SELECT count(*) FROM incident WHERE park_id = %s", pid),
        ),
        "leases": Case(
            f"{url}/leases",
            lease,
            {**lease, "id": f"L-{uuid.uuid4().hex[:8]}"},
            rows("SELECT count(*) FROM lease WHERE park_id = %s", pid),
        ),
        "incident reports": Case(
            f"{url}/incidents/{reported}/report",
            {"comment": "phoned the county office"},
            {"comment": "e-mailed the county office"},
            rows("SELECT count(*) FROM incident_event WHERE incident_id = %s", reported),
            status=200,
        ),
        "incident comments": Case(
            f"{url}/incidents/{incident}/comments",
            {"comment": "wind from the east"},
            {"comment": "wind from the west"},
            rows("SELECT count(*) FROM incident_event WHERE incident_id = %s", incident),
            status=200,
        ),
        "alarm comments": Case(
            f"{url}/alarms/{alarm}/comments",
            {"comment": "vented"},
            {"comment": "not vented"},
            rows("SELECT count(*) FROM alarm_event WHERE alarm_id = %s", alarm),
            status=200,
        ),
        "roster": Case(
            f"{url}/emergency/roster",
            shift,
            {**shift, "name": "赵六"},
            rows("SELECT count(*) FROM duty_roster WHERE park_id = %s", pid),
        ),
        "carbon manual entries": Case(
            f"{url}/carbon/manual-entries",
            manual,
            {**manual, "quantity": 201},
            rows("SELECT count(*) FROM carbon_manual_entry WHERE park_id = %s", pid),
        ),
        "carbon green power": Case(
            f"{url}/carbon/green-power",
            green,
            {**green, "kwh": 5001},
            rows("SELECT count(*) FROM carbon_green_power WHERE park_id = %s", pid),
        ),
    }


CASES = (
    "incidents",
    "leases",
    "incident reports",
    "incident comments",
    "alarm comments",
    "roster",
    "carbon manual entries",
    "carbon green power",
)


@pytest.fixture(scope="module")
def cases(
    client: TestClient, admin: dict[str, str], park: FixturePark, database_url: str
) -> dict[str, Case]:
    return _cases(client, admin, park, database_url)


def with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, HEADER: key}


@pytest.mark.parametrize("name", CASES)
def test_a_retry_creates_once_and_replays_the_first_answer(
    client: TestClient, admin: dict[str, str], cases: dict[str, Case], name: str
) -> None:
    case, key = cases[name], str(uuid.uuid4())
    before = case.count()
    first = client.post(case.path, json=case.body, headers=with_key(admin, key))
    assert first.status_code == case.status, first.text
    assert REPLAYED not in first.headers
    assert case.count() == before + 1

    retry = client.post(case.path, json=case.body, headers=with_key(admin, key))
    assert retry.status_code == case.status
    assert retry.headers[REPLAYED] == "true"
    assert retry.content == first.content
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert case.count() == before + 1

    other = client.post(case.path, json=case.other, headers=with_key(admin, key))
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert HEADER in other.json()["detail"]
    assert case.count() == before + 1


@pytest.mark.parametrize("name", ("incidents", "incident comments", "carbon manual entries"))
def test_without_the_header_every_request_creates(
    client: TestClient, admin: dict[str, str], cases: dict[str, Case], name: str
) -> None:
    case = cases[name]
    before = case.count()
    for _ in range(2):
        response = client.post(case.path, json=case.body, headers=admin)
        assert response.status_code == case.status, response.text
        assert REPLAYED not in response.headers
    assert case.count() == before + 2


def test_the_same_body_in_another_spelling_is_the_same_request(
    client: TestClient, admin: dict[str, str], cases: dict[str, Case]
) -> None:
    case, key = cases["carbon manual entries"], str(uuid.uuid4())
    before = case.count()
    first = client.post(case.path, json=case.body, headers=with_key(admin, key))
    assert first.status_code == 201
    spaced = '{ "quantity": 200,  "day": "2026-05-12", "carrier": "diesel" }'
    headers = {**with_key(admin, key), "content-type": "application/json"}
    retry = client.post(case.path, content=spaced, headers=headers)
    assert retry.status_code == 201 and retry.headers[REPLAYED] == "true"
    assert retry.json() == first.json() and case.count() == before + 1


def test_keys_are_scoped_to_the_api_key_and_the_route(
    client: TestClient, admin: dict[str, str], cases: dict[str, Case], database_url: str
) -> None:
    incidents, manual, key = cases["incidents"], cases["carbon manual entries"], str(uuid.uuid4())
    other_admin = auth(make_key(database_url, "admin"))
    before = incidents.count()
    first = client.post(incidents.path, json=incidents.body, headers=with_key(admin, key))
    second = client.post(incidents.path, json=incidents.body, headers=with_key(other_admin, key))
    assert first.status_code == second.status_code == 201
    assert REPLAYED not in second.headers and first.json()["id"] != second.json()["id"]
    assert incidents.count() == before + 2
    elsewhere = client.post(manual.path, json=manual.body, headers=with_key(admin, key))
    assert elsewhere.status_code == 201 and REPLAYED not in elsewhere.headers


def test_a_request_while_the_first_is_in_flight_is_409(
    client: TestClient, admin: dict[str, str], cases: dict[str, Case], database_url: str
) -> None:
    """A transaction holding the key's advisory lock is what an in-flight first request is."""
    case, key = cases["incidents"], str(uuid.uuid4())
    key_id = admin["Authorization"].split("_")[1]
    lock = f"idempotency {key_id} POST {case.path} {key}"
    before = case.count()
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
        busy = client.post(case.path, json=case.body, headers=with_key(admin, key))
        assert busy.status_code == 409, busy.text
        assert busy.headers["content-type"] == "application/problem+json"
        assert case.count() == before
    done = client.post(case.path, json=case.body, headers=with_key(admin, key))
    assert done.status_code == 201 and case.count() == before + 1


def test_an_error_answer_is_not_stored_and_a_retry_runs_again(
    client: TestClient, admin: dict[str, str], park: FixturePark
) -> None:
    path, key = f"/api/v1/parks/{park.id}/carbon/manual-entries", str(uuid.uuid4())
    body = {"carrier": "diesel", "day": "2026-05-12", "quantity": 1, "enterprise_id": "ghost"}
    for _ in range(2):
        response = client.post(path, json=body, headers=with_key(admin, key))
        assert response.status_code == 422 and REPLAYED not in response.headers


@pytest.mark.parametrize("key", [b"", b"x" * 256, "é".encode("latin-1"), b"a b"])
def test_a_malformed_key_is_422(
    client: TestClient, admin: dict[str, str], cases: dict[str, Case], key: bytes
) -> None:
    case = cases["incidents"]
    before = case.count()
    headers: dict[str, Any] = {**admin, HEADER: key}
    response = client.post(case.path, json=case.body, headers=headers)
    assert response.status_code == 422 and case.count() == before


def test_a_device_retry_is_409_with_its_id_and_no_password_is_stored(
    client: TestClient, admin: dict[str, str], park: FixturePark, database_url: str
) -> None:
    path, key = f"/api/v1/parks/{park.id}/devices", str(uuid.uuid4())
    body = {"id": f"d-{uuid.uuid4().hex[:8]}", "type": "electricity_meter", "name": "meter"}
    first = client.post(path, json=body, headers=with_key(admin, key))
    assert first.status_code == 201 and first.json()["mqtt_password"]
    retry = client.post(path, json=body, headers=with_key(admin, key))
    assert retry.status_code == 409 and retry.json()["resource_id"] == body["id"]
    assert first.json()["mqtt_password"] not in retry.text
    devices = "SELECT count(*) FROM device WHERE park_id = %s AND id = %s"
    assert count(database_url, devices, park.id, body["id"]) == 1
    stored = "SELECT count(*) FROM idempotency_key WHERE key = %s AND body IS NULL"
    assert count(database_url, stored, key) == 1
    other = client.post(path, json={**body, "name": "another"}, headers=with_key(admin, key))
    assert other.status_code == 422
    plain = create_device(client, admin, park.id)  # no header: as before
    assert plain["mqtt_password"]


def test_a_webhook_retry_is_409_with_its_id_and_no_secret_is_stored(
    wh_client: TestClient, wh_admin: dict[str, str], database_url: str
) -> None:
    park_id = f"p-{uuid.uuid4().hex[:8]}"
    park = {"id": park_id, "name": "webhooks", "timezone": "Asia/Shanghai"}
    assert wh_client.post("/api/v1/parks", json=park, headers=wh_admin).status_code == 201
    path, key = f"/api/v1/parks/{park_id}/webhooks", str(uuid.uuid4())
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}
    first = wh_client.post(path, json=body, headers=with_key(wh_admin, key))
    assert first.status_code == 201, first.text
    retry = wh_client.post(path, json=body, headers=with_key(wh_admin, key))
    assert retry.status_code == 409 and retry.json()["resource_id"] == first.json()["id"]
    assert first.json()["secret"] not in retry.text
    hooks = "SELECT count(*) FROM webhook WHERE park_id = %s"
    assert count(database_url, hooks, park_id) == 1
    other = {**body, "url": "http://127.0.0.1:9/other"}
    assert wh_client.post(path, json=other, headers=with_key(wh_admin, key)).status_code == 422


def _prune(settings: Settings) -> int:
    async def run() -> int:
        engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
        try:
            async with AsyncSession(engine) as session, session.begin():
                return await prune(session, settings)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_expired_keys_run_again_and_the_worker_prunes_them(
    client: TestClient,
    admin: dict[str, str],
    cases: dict[str, Case],
    database_url: str,
    settings: Settings,
) -> None:
    case, key = cases["roster"], str(uuid.uuid4())
    before = case.count()
    assert client.post(case.path, json=case.body, headers=with_key(admin, key)).status_code == 201
    stored = "SELECT count(*) FROM idempotency_key WHERE key = %s"
    assert count(database_url, stored, key) == 1
    retention = "SELECT extract(epoch FROM expires_at - created_at) FROM idempotency_key "
    assert count(database_url, retention + "WHERE key = %s", key) == 24 * 3600  # the default
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE idempotency_key SET expires_at = now() - interval '1 s' WHERE key = %s", (key,)
        )
    again = client.post(case.path, json=case.body, headers=with_key(admin, key))
    assert again.status_code == 201 and REPLAYED not in again.headers
    assert case.count() == before + 2  # an expired key is forgotten: the request ran again
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE idempotency_key SET expires_at = now() - interval '1 s' WHERE key = %s", (key,)
        )
    _prune(settings)
    assert count(database_url, stored, key) == 0
