"""GET /parks/{park_id}/energy/now against a hand-computed answer: the root meters' newest
power summed (a sub-meter never counts twice, an offline meter's last value is left out and
counted as offline), the PV inverters' apart, an empty park, the ETag, another park's key."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient

from tests.api.conftest import create_device, create_park, make_key, series_id, write_readings

T0 = datetime(2026, 11, 28, 2, 14, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 28, 2, 14, 45, tzinfo=UTC)


def power(database_url: str, park: str, device: dict[str, object], *readings: tuple) -> None:  # type: ignore[type-arg]
    sid = series_id(database_url, park, str(device["id"]), "power_kw")
    write_readings(database_url, sid, list(readings))


def test_the_park_power_now_by_hand(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    other = create_park(client, admin).id  # nothing in it
    empty = client.get(f"/api/v1/parks/{other}/energy/now", headers=viewer)
    assert empty.status_code == 200, empty.text
    nothing = {"kw": 0.0, "devices": 0, "offline": 0, "newest": None}
    assert empty.json() == {"unit": "kW", "load": nothing, "pv": nothing}

    park = create_park(client, admin).id
    url = f"/api/v1/parks/{park}/energy/now"

    a = create_device(client, admin, park, name="A 总表")
    b = create_device(client, admin, park, name="B 分表", parent_meter_id=a["id"])
    c = create_device(client, admin, park, name="C 总表")
    create_device(client, admin, park, name="D 总表")  # no power reading yet: not counted
    pv1 = create_device(client, admin, park, "pv_inverter", name="屋顶光伏 1")
    pv2 = create_device(client, admin, park, "pv_inverter", name="屋顶光伏 2")
    power(database_url, park, a, (T0, 100.0), (T1, 120.5))  # the newest: 120.5
    power(database_url, park, b, (T1, 400.0))  # inside A's 120.5 kW: not again
    power(database_url, park, c, (T0, 80.25))
    power(database_url, park, pv1, (T0, 30.0))
    power(database_url, park, pv2, (T1, 5.5))
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE device SET status = 'offline' WHERE park_id = %s AND id = %s", (park, c["id"])
        )

    response = client.get(url, headers=viewer)
    assert response.status_code == 200, response.text
    # load: A 120.5 (B under it, C offline, D silent); PV: 30.0 + 5.5 = 35.5
    assert response.json() == {
        "unit": "kW",
        "load": {"kw": 120.5, "devices": 1, "offline": 1, "newest": "2026-11-28T02:14:45Z"},
        "pv": {"kw": 35.5, "devices": 2, "offline": 0, "newest": "2026-11-28T02:14:45Z"},
    }
    etag = response.headers["etag"]
    assert client.get(url, headers={**viewer, "If-None-Match": etag}).status_code == 304

    outsider = {"Authorization": f"Bearer {make_key(database_url, 'viewer', other)}"}
    refused = client.get(url, headers=outsider)
    assert refused.status_code in (403, 404)
    assert refused.headers["content-type"].startswith("application/problem+json")
