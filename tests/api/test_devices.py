"""Devices through the API: MQTT accounts that work on the real broker, update, delete, lists,
filters, pagination, latest values (one and many), the rejection log, API keys from the CLI.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.cli import main as cli_main
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from tests.api.conftest import auth, create_device, create_park, series_id, write_readings
from tests.conftest import ServiceEnv
from tests.test_broker import _connect, _publish


def test_created_device_connects_publishes_and_rotates(
    client: TestClient, admin: dict[str, str], services: ServiceEnv
) -> None:
    target = MqttTarget.from_url(services.mqtt_url)
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    username, password = str(device["mqtt_username"]), str(device["mqtt_password"])
    assert username == f"{park.id}:{device['id']}"
    mqtt_client, reason = _connect(target, username, password)
    assert reason == "Success"
    # Accepted (with or without a subscriber listening) on its own prefix, refused elsewhere.
    own = _publish(mqtt_client, f"parks/{park.id}/devices/{device['id']}/telemetry")
    assert own in ("Success", "No matching subscribers")
    assert _publish(mqtt_client, f"parks/{park.id}/devices/other/telemetry") == "Not authorized"
    mqtt_client.disconnect()
    mqtt_client.loop_stop()

    url = f"/api/v1/parks/{park.id}/devices/{device['id']}"
    rotated = client.post(url + "/credentials", headers=admin)
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["mqtt_username"] == username and new["mqtt_password"] != password
    old_client, reason = _connect(target, username, password)
    old_client.loop_stop()
    assert reason == "Not authorized"
    new_client, reason = _connect(target, username, new["mqtt_password"])
    new_client.disconnect()
    new_client.loop_stop()
    assert reason == "Success"

    assert client.delete(url, headers=admin).status_code == 204
    gone_client, reason = _connect(target, username, new["mqtt_password"])
    gone_client.loop_stop()
    assert reason == "Not authorized"
    assert client.get(url, headers=admin).status_code == 404


def test_create_refuses_duplicates_and_unknown_types(
    client: TestClient, admin: dict[str, str]
) -> None:
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    url = f"/api/v1/parks/{park.id}/devices"
    again = client.post(
        url, json={"id": device["id"], "type": "gas_meter", "name": "x"}, headers=admin
    )
    assert again.status_code == 409
    odd = client.post(url, json={"id": "x1", "type": "flux_capacitor", "name": "x"}, headers=admin)
    assert odd.status_code == 422 and "device type" in odd.json()["detail"]


def test_update_changes_only_what_is_sent(client: TestClient, admin: dict[str, str]) -> None:
    park = create_park(client, admin)
    device = create_device(
        client, admin, park.id, building_id="b1", location={"lon": 120.7, "lat": 31.3}
    )
    url = f"/api/v1/parks/{park.id}/devices/{device['id']}"
    changed = client.patch(url, json={"name": "renamed", "enterprise_id": "acme"}, headers=admin)
    assert changed.status_code == 200
    body = changed.json()
    assert (body["name"], body["enterprise_id"], body["building_id"]) == ("renamed", "acme", "b1")
    assert body["location"] == {"lon": 120.7, "lat": 31.3}
    cleared = client.patch(url, json={"location": None}, headers=admin).json()
    assert cleared["location"] is None and cleared["name"] == "renamed"
    assert client.patch(url, json={"name": None}, headers=admin).status_code == 422


def test_list_filters_and_pages(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park = create_park(client, admin)
    meters = [create_device(client, admin, park.id, building_id="b1") for _ in range(3)]
    create_device(client, admin, park.id, "gas_detector", building_id="b2")
    url = f"/api/v1/parks/{park.id}/devices"

    def ids(**params: str) -> list[str]:
        return [d["id"] for d in client.get(url, params=params, headers=viewer).json()["items"]]

    assert sorted(ids(type="electricity_meter")) == sorted(str(m["id"]) for m in meters)
    assert len(ids(domain="safety")) == 1 and len(ids(building_id="b1")) == 3
    assert len(ids(status="unknown")) == 4 and ids(status="online") == []
    seen, cursor = [], None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = client.get(url, params=params, headers=viewer).json()
        seen += [d["id"] for d in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == sorted(seen) and len(seen) == 4
    assert client.get(url, params={"cursor": "!!"}, headers=viewer).status_code == 422
    assert client.get(url, params={"limit": "1001"}, headers=viewer).status_code == 422


def test_latest_for_one_and_many(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    devices = [create_device(client, admin, park.id) for _ in range(3)]
    now = datetime.now(UTC).replace(microsecond=0)
    for i, device in enumerate(devices[:2]):
        sid = series_id(database_url, park.id, str(device["id"]), "power_kw")
        write_readings(database_url, sid, [(now - timedelta(minutes=1), 1.0), (now, 10.0 + i)])
    first = devices[0]["id"]
    one = client.get(f"/api/v1/parks/{park.id}/devices/{first}/latest", headers=viewer).json()
    stamp = now.isoformat().replace("+00:00", "Z")
    assert one == {"device_id": first, "values": {"power_kw": {"ts": stamp, "value": 10.0}}}
    twin = client.get(f"/api/v1/parks/{park.id}/devices/{first}", headers=viewer).json()
    assert twin["latest"] == one["values"] and twin["status"] == "unknown"

    bulk = client.get(f"/api/v1/parks/{park.id}/latest", headers=viewer).json()
    assert [len(item["values"]) for item in bulk["items"]] == [
        len(i["values"]) for i in sorted(bulk["items"], key=lambda i: i["device_id"])
    ]
    values = {i["device_id"]: i["values"] for i in bulk["items"]}
    assert values[devices[1]["id"]]["power_kw"]["value"] == 11.0 and values[devices[2]["id"]] == {}
    chosen = client.get(
        f"/api/v1/parks/{park.id}/latest",
        params={"device_id": [first, "missing"], "metric": "energy_kwh"},
        headers=viewer,
    ).json()
    assert chosen == {"items": [{"device_id": first, "values": {}}]}
    elsewhere = create_device(client, admin, create_park(client, admin).id)["id"]
    asked = [str(d["id"]) for d in reversed(devices)] + [first, elsewhere]  # a repeat, a stranger
    twice = client.get(
        f"/api/v1/parks/{park.id}/latest", params={"device_id": asked}, headers=viewer
    )
    assert twice.json() == bulk  # each asked device once, in id order; another park's never
    page = client.get(
        f"/api/v1/parks/{park.id}/latest", params={"device_id": asked, "limit": 2}, headers=viewer
    ).json()
    rest = client.get(
        f"/api/v1/parks/{park.id}/latest",
        params={"device_id": asked, "cursor": page["next_cursor"]},
        headers=viewer,
    ).json()
    assert page["items"] + rest["items"] == bulk["items"] and rest["next_cursor"] is None
    posted = client.post(
        f"/api/v1/parks/{park.id}/latest/query",
        json={"device_ids": [str(d["id"]) for d in devices], "metrics": ["power_kw"]},
        headers=viewer,
    )
    assert posted.status_code == 200 and posted.json() == bulk
    etag = client.get(f"/api/v1/parks/{park.id}/latest", headers=viewer).headers["etag"]
    cached = client.get(
        f"/api/v1/parks/{park.id}/latest", headers={**viewer, "If-None-Match": f'W/{etag}, "x"'}
    )
    assert cached.status_code == 304


def test_rejections_filter_and_show_payload_as_text(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    with psycopg.connect(database_url) as conn:
        for reason, payload in (("malformed_json", b"{nope \xff"), ("unknown_metric", b"{}")):
            conn.execute(
                "INSERT INTO ingest_rejection (park_id, device_id, topic, reason, detail, "
                "payload, payload_size) VALUES (%s, 'd1', 't', %s, 'why', %s, %s)",
                (park.id, reason, payload, len(payload)),
            )
    url = "/api/v1/ingest/rejections"
    body = client.get(url, params={"park_id": park.id}, headers=viewer).json()
    assert [r["reason"] for r in body["items"]] == ["unknown_metric", "malformed_json"]
    assert body["items"][1]["payload"] == "{nope \ufffd"
    only = client.get(url, params={"park_id": park.id, "reason": "malformed_json"}, headers=viewer)
    assert len(only.json()["items"]) == 1
    later = client.get(
        url, params={"park_id": park.id, "since": "2999-01-01T00:00:00+08:00"}, headers=viewer
    )
    assert later.json()["items"] == []
    first = client.get(url, params={"park_id": park.id, "limit": 1}, headers=viewer).json()
    second = client.get(
        url,
        params={"park_id": park.id, "limit": 1, "cursor": first["next_cursor"]},
        headers=viewer,
    ).json()
    assert [r["reason"] for r in first["items"] + second["items"]] == [
        "unknown_metric",
        "malformed_json",
    ]


def test_parks(client: TestClient, admin: dict[str, str]) -> None:
    body = {
        "id": f"p-{uuid.uuid4().hex[:8]}",
        "name": "园区",
        "boundary": {
            "type": "Polygon",
            "coordinates": [[[120, 31], [121, 31], [121, 32], [120, 31]]],
        },
    }
    created = client.post("/api/v1/parks", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["timezone"] == "Asia/Shanghai"
    assert client.post("/api/v1/parks", json=body, headers=admin).status_code == 409
    bad_tz = {**body, "id": "p-x", "timezone": "Mars/Olympus"}
    assert client.post("/api/v1/parks", json=bad_tz, headers=admin).status_code == 422
    open_ring = {
        **body,
        "id": "p-y",
        "boundary": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
    }
    assert client.post("/api/v1/parks", json=open_ring, headers=admin).status_code == 422
    got = client.get(f"/api/v1/parks/{body['id']}", headers=admin).json()
    assert got["boundary"] == body["boundary"] and got["name"] == "园区"


def test_device_types_catalogue(client: TestClient, viewer: dict[str, str]) -> None:
    items = client.get("/api/v1/device-types", headers=viewer).json()["items"]
    by_type = {i["type"]: i for i in items}
    assert by_type["gas_meter"]["domain"] == "energy"
    smoke = by_type["smoke_detector"]["metrics"]
    assert {"name": "smoke", "unit": "", "kind": "state"} in smoke  # the contract's metric
    assert {"name": "fault", "unit": "", "kind": "state"} in smoke  # the detector's own fault
    assert len(by_type) >= 10


def test_apikey_cli_prints_a_working_key_last(
    client: TestClient,
    admin: dict[str, str],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    park = create_park(client, admin)
    monkeypatch.setenv("PARKTWIN_DATABASE_URL", str(settings.database_url))
    assert cli_main(["apikey", "create", "--role", "viewer", "--park", park.id]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert client.get("/api/v1/parks", headers=auth(key)).json()["items"][0]["id"] == park.id
    assert client.post("/api/v1/parks", json={}, headers=auth(key)).status_code == 403
    assert cli_main(["apikey", "create", "--role", "admin", "--park", "nope"]) == 1
    with psycopg.connect(str(settings.database_url)) as conn:
        stored = conn.execute("SELECT secret_hash FROM api_key WHERE id = %s", (key.split("_")[1],))
        assert key.split("_", 2)[2].encode() not in bytes(stored.fetchone()[0])  # type: ignore[index]
