"""The request's transaction commits before the answer is sent (review M4): a commit that fails
reaches the client as an error, never as a 2xx, and a device whose row did not commit keeps no
broker account (nor the reverse).

The commit is made to fail for real: a ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger
runs at COMMIT and raises a serialization failure (SQLSTATE 40001), as a conflicting
concurrent transaction would, for ids starting with ``commitfail-`` only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.broker.dynsec import DynsecClient, device_username
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from tests.api.conftest import create_park

FAIL_AT_COMMIT = """
CREATE OR REPLACE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(NEW.id, OLD.id) LIKE 'commitfail-%' THEN
        RAISE EXCEPTION 'test: conflict at commit' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit();
"""


@pytest.fixture
def fail_at_commit(database_url: str) -> Iterator[None]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in ("park", "device"):
            conn.execute(FAIL_AT_COMMIT.format(table=table))
    yield
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in ("park", "device"):
            conn.execute(f"DROP TRIGGER test_fail_at_commit ON {table}")
        conn.execute("DROP FUNCTION test_fail_at_commit()")


@pytest.fixture(scope="module")
def broker(settings: Settings) -> Iterator[DynsecClient]:
    client = DynsecClient(MqttTarget.from_url(settings.resolved_mqtt_url()))
    client.connect()
    yield client
    client.close()


def has_account(broker: DynsecClient, park_id: str, device_id: str) -> bool:
    username = device_username(park_id, device_id)
    [answer] = broker.execute(
        [{"command": "getClient", "username": username}], ignore=("Client not found",)
    )
    return answer.get("error") is None


def exists(database_url: str, query: str, *params: str) -> bool:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchone() is not None


def test_a_commit_that_fails_is_not_answered_2xx(
    client: TestClient, admin: dict[str, str], database_url: str, fail_at_commit: None
) -> None:
    park_id = f"commitfail-{uuid.uuid4().hex[:8]}"
    body = {"id": park_id, "name": "never committed", "timezone": "Asia/Shanghai"}
    response = client.post("/api/v1/parks", json=body, headers=admin)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert not exists(database_url, "SELECT 1 FROM park WHERE id = %s", park_id)
    assert client.get(f"/api/v1/parks/{park_id}", headers=admin).status_code == 404
    fine = {**body, "id": f"p-{uuid.uuid4().hex[:8]}"}  # the trigger spares other ids
    assert client.post("/api/v1/parks", json=fine, headers=admin).status_code == 201


def test_a_device_whose_commit_fails_keeps_no_broker_account(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    broker: DynsecClient,
    fail_at_commit: None,
) -> None:
    park_id = create_park(client, admin).id
    device_id = f"commitfail-{uuid.uuid4().hex[:8]}"
    body = {"id": device_id, "type": "electricity_meter", "name": "never committed"}
    response = client.post(f"/api/v1/parks/{park_id}/devices", json=body, headers=admin)
    assert response.status_code == 503, response.text
    assert "mqtt_password" not in response.text
    row = "SELECT 1 FROM device WHERE park_id = %s AND id = %s"
    assert not exists(database_url, row, park_id, device_id)
    assert not has_account(broker, park_id, device_id)

    control = {**body, "id": f"d-{uuid.uuid4().hex[:8]}"}  # the same path, committed
    created = client.post(f"/api/v1/parks/{park_id}/devices", json=control, headers=admin)
    assert created.status_code == 201, created.text
    assert exists(database_url, row, park_id, control["id"])
    assert has_account(broker, park_id, control["id"])


def test_a_device_delete_whose_commit_fails_keeps_row_and_account(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    broker: DynsecClient,
) -> None:
    park_id = create_park(client, admin).id
    device_id = f"commitfail-{uuid.uuid4().hex[:8]}"
    body = {"id": device_id, "type": "electricity_meter", "name": "kept"}
    created = client.post(f"/api/v1/parks/{park_id}/devices", json=body, headers=admin)
    assert created.status_code == 201, created.text  # before the trigger exists
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(FAIL_AT_COMMIT.format(table="device"))
    try:
        url = f"/api/v1/parks/{park_id}/devices/{device_id}"
        assert client.delete(url, headers=admin).status_code == 503
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER test_fail_at_commit ON device")
            conn.execute("DROP FUNCTION test_fail_at_commit()")
    row = "SELECT 1 FROM device WHERE park_id = %s AND id = %s"
    assert exists(database_url, row, park_id, device_id)
    assert has_account(broker, park_id, device_id)  # re-made, with a password nobody knows
    rotated = client.post(f"{url}/credentials", headers=admin)
    assert rotated.status_code == 200 and rotated.json()["mqtt_password"]


def test_an_import_whose_commit_fails_keeps_no_broker_accounts(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    broker: DynsecClient,
    fail_at_commit: None,
) -> None:
    park_id = create_park(client, admin).id
    doomed = [f"commitfail-{uuid.uuid4().hex[:8]}", f"ok-{uuid.uuid4().hex[:8]}"]
    body = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": None,
             "properties": {"id": d, "type": "water_meter", "name": d}}
            for d in doomed
        ],
    }  # fmt: skip
    headers = {**admin, "Content-Type": "application/geo+json"}
    url = f"/api/v1/parks/{park_id}/import/devices"
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 503, response.text
    assert "mqtt_password" not in response.text
    for device_id in doomed:  # the row that failed at commit took the other down with it
        row = "SELECT 1 FROM device WHERE park_id = %s AND id = %s"
        assert not exists(database_url, row, park_id, device_id)
        assert not has_account(broker, park_id, device_id)
