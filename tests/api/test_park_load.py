"""GET /parks/{park_id}/energy/load against hand-computed answers: the root meters' load (a
sub-meter never counts twice), PV output, a reset, the baseline before the range, hours and
park-local days, before and after the rollup worker has run, and the ETag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.api.worker_util import drain_rollups


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Asia/Shanghai (UTC+8): 2026-11-20 local starts at 2026-11-19T16:00Z.
ROOT_A = [
    ("2026-11-19T15:30:00Z", 100.0),  # 23:30 local on the 19th: the baseline of the 20th
    ("2026-11-19T16:10:00Z", 110.0),  # 16h: 110 - 100 = 10
    ("2026-11-19T16:40:00Z", 115.0),  # 16h: + 5 -> 15
    ("2026-11-19T17:20:00Z", 5.0),  # 17h: a reset counts in full: 5
    ("2026-11-19T17:50:00Z", 12.0),  # 17h: + 7 -> 12
]
ROOT_C = [
    ("2026-11-19T16:30:00Z", 50.0),  # its first reading: nothing before it, 0
    ("2026-11-19T17:30:00Z", 58.0),  # 17h: 8
]
SUB_B = [  # under A: its 400 kWh are inside A's and must not count again
    ("2026-11-19T16:20:00Z", 1000.0),
    ("2026-11-19T17:20:00Z", 1400.0),
]
PV = [
    ("2026-11-19T17:00:00Z", 20.0),  # first reading: 0
    ("2026-11-19T17:45:00Z", 26.0),  # 17h: 6
]

HOURS = {"from": "2026-11-19T16:00:00Z", "to": "2026-11-19T18:00:00Z"}
HOURLY = [
    {"ts": "2026-11-19T16:00:00Z", "load_kwh": 15.0, "pv_kwh": None},
    {"ts": "2026-11-19T17:00:00Z", "load_kwh": 20.0, "pv_kwh": 6.0},
]
DAYS = {"from": "2026-11-18T16:00:00Z", "to": "2026-11-20T16:00:00Z", "bucket": "1d"}
DAILY = [
    {"ts": "2026-11-18T16:00:00Z", "load_kwh": 0.0, "pv_kwh": None},  # A's first reading only
    {"ts": "2026-11-19T16:00:00Z", "load_kwh": 35.0, "pv_kwh": 6.0},
]


@pytest.fixture(scope="module")
def park(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, str]:
    park = create_park(client, admin)
    a = create_device(client, admin, park.id, name="A 总表")
    c = create_device(client, admin, park.id, name="C 总表")
    b = create_device(client, admin, park.id, name="B 分表", parent_meter_id=a["id"])
    pv = create_device(client, admin, park.id, "pv_inverter", name="屋顶光伏")
    for device, readings in ((a, ROOT_A), (c, ROOT_C), (b, SUB_B), (pv, PV)):
        sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
        write_readings(database_url, sid, [(utc(t), v) for t, v in readings])
    return {"url": f"/api/v1/parks/{park.id}/energy/load", "a": str(a["id"]), "c": str(c["id"])}


def read(client: TestClient, headers: dict[str, str], url: str, **params: str) -> dict:  # type: ignore[type-arg]
    response = client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()  # type: ignore[type-arg]
    return body


def meters(body: dict, ids: dict[str, str]) -> set[tuple[str, str, float]]:  # type: ignore[type-arg]
    names = {ids["a"]: "a", ids["c"]: "c"}
    return {(names[m["device_id"]], m["date"], m["kwh"]) for m in body["meters"]}


def check_answers(client: TestClient, viewer: dict[str, str], park: dict[str, str]) -> None:
    hourly = read(client, viewer, park["url"], **HOURS)
    assert hourly["points"] == HOURLY
    assert (hourly["bucket"], hourly["from"], hourly["to"]) == ("1h", HOURS["from"], HOURS["to"])
    assert meters(hourly, park) == {("a", "2026-11-20", 27.0), ("c", "2026-11-20", 8.0)}
    daily = read(client, viewer, park["url"], **DAYS)
    assert daily["points"] == DAILY
    assert meters(daily, park) == {
        ("a", "2026-11-19", 0.0),
        ("a", "2026-11-20", 27.0),
        ("c", "2026-11-20", 8.0),
    }


def test_load_and_pv_from_raw_and_from_rollups(
    client: TestClient, viewer: dict[str, str], park: dict[str, str], settings: Settings
) -> None:
    check_answers(client, viewer, park)  # the hours still queued: made from raw readings
    drain_rollups(settings)
    check_answers(client, viewer, park)  # read back from rollup_hour / rollup_day


def test_the_range_is_widened_to_whole_buckets(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    body = read(client, viewer, park["url"], **{"from": "2026-11-19T16:25:00Z", "to": HOURS["to"]})
    assert body["from"] == HOURS["from"] and body["points"] == HOURLY


def test_default_range_is_yesterday_and_today(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    body = read(client, viewer, park["url"])
    start = utc(body["from"]).astimezone(ZoneInfo("Asia/Shanghai"))
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert start.date() == today - timedelta(days=1) and start.hour == 0
    assert utc(body["to"]) - utc(body["from"]) == timedelta(days=2)
    assert body["points"] == [] and body["meters"] == []


def test_etag_and_bad_bucket(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    first = client.get(park["url"], params=HOURS, headers=viewer)
    again = client.get(
        park["url"], params=HOURS, headers={**viewer, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    refused = client.get(park["url"], params={**HOURS, "bucket": "5m"}, headers=viewer)
    assert refused.status_code == 422


def test_top_keeps_each_days_biggest_root_meters(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    """``top=1``: of 20 Nov, A (27 kWh) over C (8); of 19 Nov, A's 0 (the only one); the points
    are unchanged. The cockpit asks for its 8 top consumers so (40,000 meters a day at
    100,000 devices)."""
    daily = read(client, viewer, park["url"], **DAYS, top="1")
    assert daily["points"] == DAILY
    assert meters(daily, park) == {("a", "2026-11-19", 0.0), ("a", "2026-11-20", 27.0)}
    both = read(client, viewer, park["url"], **DAYS, top="2")
    assert len(both["meters"]) == 3
    refused = client.get(park["url"], params={**DAYS, "top": "0"}, headers=viewer)
    assert refused.status_code == 422
