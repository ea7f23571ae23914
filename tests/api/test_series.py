"""Series history against hand-computed answers: counter resets, bucket edges, month buckets
in Asia/Shanghai, fill, the 10,000-point limit, CSV and ETags.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.api.worker_util import drain_rollups


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# A counter read over four hours (UTC): a reset at 01:30 (22 -> 3), nothing in the 02:00 hour.
COUNTER = [
    ("2026-11-20T00:00:00Z", 10.0),
    ("2026-11-20T00:20:00Z", 15.0),
    ("2026-11-20T00:40:00Z", 20.0),
    ("2026-11-20T01:00:00Z", 22.0),
    ("2026-11-20T01:30:00Z", 3.0),
    ("2026-11-20T01:50:00Z", 8.0),
    ("2026-11-20T03:10:00Z", 12.0),
]


@pytest.fixture(scope="module")
def meter(client: TestClient, admin: dict[str, str], database_url: str) -> str:
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    sid = series_id(database_url, park.id, str(device["id"]), "energy_kwh")
    write_readings(database_url, sid, [(utc(t), v) for t, v in COUNTER])
    return f"/api/v1/parks/{park.id}/devices/{device['id']}/series/energy_kwh"


def points(response: object) -> list[tuple[str, float | None]]:
    body = response.json()  # type: ignore[attr-defined]
    return [(p["ts"], p["value"]) for p in body["points"]]


def get(client: TestClient, headers: dict[str, str], url: str, **params: str) -> object:
    response = client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


RANGE = {"from": "2026-11-20T00:00:00Z", "to": "2026-11-20T04:00:00Z"}


def test_delta_counts_a_reset_in_full_and_bridges_bucket_edges(
    client: TestClient, viewer: dict[str, str], meter: str
) -> None:
    # 00h: first reading has nothing before it (0), +5, +5; 01h: 22-20=2 across the edge,
    # then 3 after the drop counts in full, +5; 03h: 12-8 across the empty 02h.
    response = get(client, viewer, meter, interval="1h", agg="delta", **RANGE)
    assert points(response) == [
        ("2026-11-20T00:00:00Z", 10.0),
        ("2026-11-20T01:00:00Z", 10.0),
        ("2026-11-20T03:00:00Z", 4.0),
    ]
    assert response.json()["agg"] == "delta"  # type: ignore[attr-defined]


def test_a_later_start_still_measures_against_the_reading_before_it(
    client: TestClient, viewer: dict[str, str], meter: str
) -> None:
    response = get(
        client, viewer, meter, interval="1h", to=RANGE["to"], **{"from": "2026-11-20T01:00:00Z"}
    )
    assert points(response)[0] == ("2026-11-20T01:00:00Z", 10.0)  # default agg for counters


def test_the_range_widens_to_whole_buckets(
    client: TestClient, viewer: dict[str, str], meter: str
) -> None:
    body = get(
        client,
        viewer,
        meter,
        interval="1h",
        agg="count",
        **{"from": "2026-11-20T00:30:00Z", "to": "2026-11-20T01:10:00Z"},
    ).json()  # type: ignore[attr-defined]
    assert (body["from"], body["to"]) == ("2026-11-20T00:00:00Z", "2026-11-20T02:00:00Z")
    assert [p["value"] for p in body["points"]] == [3.0, 3.0]


@pytest.mark.parametrize(
    ("agg", "expected"),
    [
        ("avg", 11.0),
        ("min", 3.0),
        ("max", 22.0),
        ("sum", 33.0),
        ("count", 3.0),
        ("first", 22.0),
        ("last", 8.0),
        ("delta", 10.0),
    ],
)
def test_every_aggregate_of_one_bucket(
    client: TestClient, viewer: dict[str, str], meter: str, agg: str, expected: float
) -> None:
    response = get(client, viewer, meter, interval="1h", agg=agg, **RANGE)
    assert dict(points(response))["2026-11-20T01:00:00Z"] == expected


@pytest.mark.parametrize(("fill", "value"), [("null", None), ("zero", 0.0), ("previous", 10.0)])
def test_fill(
    client: TestClient, viewer: dict[str, str], meter: str, fill: str, value: float | None
) -> None:
    response = get(client, viewer, meter, interval="1h", agg="delta", fill=fill, **RANGE)
    assert len(points(response)) == 4
    assert dict(points(response))["2026-11-20T02:00:00Z"] == value


def test_raw_points_are_the_readings_of_the_half_open_range(
    client: TestClient, viewer: dict[str, str], meter: str
) -> None:
    response = get(
        client, viewer, meter, **{"from": "2026-11-20T00:00:00Z", "to": "2026-11-20T01:00:00Z"}
    )
    assert points(response) == [(t, v) for t, v in COUNTER[:3]]
    assert response.json()["interval"] is None  # type: ignore[attr-defined]


def test_csv(client: TestClient, viewer: dict[str, str], meter: str) -> None:
    response = client.get(
        meter,
        params={"interval": "1h", "agg": "delta", **RANGE},
        headers={**viewer, "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines() == [
        "ts,value",
        "2026-11-20T00:00:00Z,10.0",
        "2026-11-20T01:00:00Z,10.0",
        "2026-11-20T03:00:00Z,4.0",
    ]


def test_etag_answers_304_until_the_data_changes(
    client: TestClient, viewer: dict[str, str], meter: str, database_url: str
) -> None:
    first = client.get(meter, params={"interval": "1h", **RANGE}, headers=viewer)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("private, max-age=")
    again = client.get(
        meter, params={"interval": "1h", **RANGE}, headers={**viewer, "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    other = client.get(
        meter,
        params={"interval": "1h", "agg": "max", **RANGE},
        headers={**viewer, "If-None-Match": etag},
    )
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_too_many_buckets_is_refused_with_a_way_out(
    client: TestClient, viewer: dict[str, str], meter: str
) -> None:
    response = client.get(
        meter,
        params={"interval": "1m", "from": "2026-11-01T00:00:00Z", "to": "2026-11-10T00:00:00Z"},
        headers=viewer,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/too-many-points") and body["max_points"] == 10000
    assert "shorten the range" in body["detail"] and "coarser interval" in body["detail"]


def test_too_many_raw_readings_is_refused(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    device = create_device(client, admin, park.id, "gas_detector")
    sid = series_id(database_url, park.id, str(device["id"]), "gas_lel_pct")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO telemetry (time, series_id, value) SELECT "
            "'2026-11-01T00:00:00Z'::timestamptz + i * interval '1 second', %s, i %% 50 "
            "FROM generate_series(0, 10000) i",
            (sid,),
        )
    url = f"/api/v1/parks/{park.id}/devices/{device['id']}/series/gas_lel_pct"
    window = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}
    response = client.get(url, params=window, headers=viewer)
    assert response.status_code == 422 and "interval" in response.json()["detail"]
    fine = client.get(url, params={**window, "interval": "1m", "agg": "max"}, headers=viewer)
    assert fine.status_code == 200 and len(fine.json()["points"]) == 167


# Month and day buckets follow Asia/Shanghai (UTC+8): local midnight is 16:00 UTC.
MONTHS = [
    ("2026-10-31T15:59:59Z", 100.0),  # 23:59:59 on 31 October, local
    ("2026-10-31T16:00:00Z", 110.0),  # 00:00 on 1 November, local
    ("2026-11-30T15:59:00Z", 150.0),  # the last minute of November, local
    ("2026-11-30T16:00:00Z", 151.0),  # 1 December, local
]


@pytest.fixture(scope="module")
def monthly(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> str:
    park = create_park(client, admin, tz="Asia/Shanghai")
    device = create_device(client, admin, park.id, "water_meter")
    sid = series_id(database_url, park.id, str(device["id"]), "volume_m3")
    write_readings(database_url, sid, [(utc(t), v) for t, v in MONTHS])
    drain_rollups(settings)
    return f"/api/v1/parks/{park.id}/devices/{device['id']}/series/volume_m3"


@pytest.mark.parametrize("source", ["raw", "rollup"])
def test_month_buckets_in_the_park_timezone(
    client: TestClient, viewer: dict[str, str], monthly: str, source: str
) -> None:
    window = {"from": "2026-10-15T00:00:00Z", "to": "2026-12-15T00:00:00Z", "source": source}
    delta = get(client, viewer, monthly, interval="1mo", agg="delta", **window)
    assert points(delta) == [
        ("2026-09-30T16:00:00Z", 0.0),
        ("2026-10-31T16:00:00Z", 50.0),
        ("2026-11-30T16:00:00Z", 1.0),
    ]
    count = get(client, viewer, monthly, interval="1mo", agg="count", **window)
    assert [v for _, v in points(count)] == [1.0, 2.0, 1.0]
    body = delta.json()  # type: ignore[attr-defined]
    assert body["source"] == ("raw" if source == "raw" else "rollup_day")
    assert (body["from"], body["to"]) == ("2026-09-30T16:00:00Z", "2026-12-31T16:00:00Z")


def test_day_buckets_start_at_local_midnight(
    client: TestClient, viewer: dict[str, str], monthly: str
) -> None:
    window = {"from": "2026-10-31T00:00:00Z", "to": "2026-11-02T00:00:00Z"}
    response = get(client, viewer, monthly, interval="1d", agg="last", **window)
    assert points(response) == [("2026-10-30T16:00:00Z", 100.0), ("2026-10-31T16:00:00Z", 110.0)]


def test_week_buckets_start_on_monday(
    client: TestClient, viewer: dict[str, str], monthly: str
) -> None:
    # 2026-11-30 is a Monday: the reading at 23:59 local on the 30th opens that week.
    window = {"from": "2026-11-25T00:00:00Z", "to": "2026-12-05T00:00:00Z"}
    response = get(client, viewer, monthly, interval="1w", agg="count", **window)
    assert points(response) == [("2026-11-29T16:00:00Z", 2.0)]


def test_unknown_metric_and_device_are_404(
    client: TestClient, viewer: dict[str, str], meter: str
) -> None:
    assert client.get(meter.replace("energy_kwh", "volume_m3"), headers=viewer).status_code == 404
    other = meter.rsplit("/devices/", 1)[0] + "/devices/nope/series/energy_kwh"
    assert client.get(other, headers=viewer).status_code == 404


def test_out_of_range_dates_are_422(client: TestClient, viewer: dict[str, str], meter: str) -> None:
    for params in ({"from": "0001-01-01T00:00:00Z"}, {"to": "1970-01-01T00:00:00Z"}):
        assert client.get(meter, params=params, headers=viewer).status_code == 422
    now = datetime.now(UTC)
    backwards = {"from": now.isoformat(), "to": (now - timedelta(hours=1)).isoformat()}
    assert client.get(meter, params=backwards, headers=viewer).status_code == 422
