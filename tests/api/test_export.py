"""Bulk exports: exact CSV text, Parquet read back, filters, resumption, hostile input."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import create_device, create_park, series_id, write_readings

T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
BOM = "\ufeff"


@pytest.fixture(scope="module")
def park(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, str]:
    """Two meters (ids ``<x>-a`` < ``<x>-b``), three readings of one metric each."""
    p = create_park(client, admin)
    a = create_device(client, admin, p.id)["id"]
    b = create_device(client, admin, p.id, "temperature_sensor")["id"]
    ids = sorted([str(a), str(b)])
    readings = {
        (str(a), "energy_kwh"): [(T0, 10.0), (T0.replace(minute=1), 10.5),
                                 (T0.replace(minute=2, second=30, microsecond=500000), 11.25)],
        (str(b), "temperature_c"): [(T0, -1.5), (T0.replace(hour=1), 20.0),
                                    (T0.replace(hour=2), 21.0)],
    }  # fmt: skip
    for (device, metric), rows in readings.items():
        write_readings(database_url, series_id(database_url, p.id, device, metric), rows)
    return {"park": p.id, "a": str(a), "b": str(b), "first": ids[0], "second": ids[1]}


def url(park: dict[str, str], dataset: str = "readings") -> str:
    return f"/api/v1/parks/{park['park']}/export/{dataset}"


RANGE = {"from": "2026-11-28T00:00:00Z", "to": "2026-11-28T03:00:00Z"}


def zh_lines(park: dict[str, str]) -> list[str]:
    """The six readings in (time, device_id, metric) order, as the Excel CSV has them."""
    a, b = park["a"], park["b"]
    rows = [
        ("2026-11-28 08:00:00", a, f"{a},energy_kwh,10,kWh"),
        ("2026-11-28 08:00:00", b, f"{b},temperature_c,-1.5,°C"),
        ("2026-11-28 08:01:00", a, f"{a},energy_kwh,10.5,kWh"),
        ("2026-11-28 08:02:30.5", a, f"{a},energy_kwh,11.25,kWh"),
        ("2026-11-28 09:00:00", b, f"{b},temperature_c,20,°C"),
        ("2026-11-28 10:00:00", b, f"{b},temperature_c,21,°C"),
    ]
    return [f"{ts},{rest}" for ts, _device, rest in sorted(rows)]


def test_csv_for_excel_is_exact(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    response = client.get(url(park), params=RANGE, headers=viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    expected = BOM + "时间（Asia/Shanghai）,设备编号,指标,读数,单位\r\n"
    expected += "\r\n".join(zh_lines(park)) + "\r\n"
    assert response.content.decode("utf-8") == expected


def test_machine_csv_has_names_and_utc(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    params = {**RANGE, "lang": "en", "device_id": park["a"]}
    body = client.get(url(park), params=params, headers=viewer).content.decode()
    assert body.splitlines() == [
        BOM + "ts,device_id,metric,value,unit",
        f"2026-11-28T00:00:00Z,{park['a']},energy_kwh,10,kWh",
        f"2026-11-28T00:01:00Z,{park['a']},energy_kwh,10.5,kWh",
        f"2026-11-28T00:02:30.5Z,{park['a']},energy_kwh,11.25,kWh",
    ]


@pytest.mark.parametrize("chunked", [False, True])
def test_parquet_reads_back_as_the_rows(
    request: pytest.FixtureRequest, viewer: dict[str, str], park: dict[str, str], chunked: bool
) -> None:
    client: TestClient = request.getfixturevalue("small_chunks" if chunked else "client")
    response = client.get(url(park), params={**RANGE, "format": "parquet"}, headers=viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == ["ts", "device_id", "metric", "value", "unit"]
    rows = [tuple(r.values()) for r in table.to_pylist()]
    a, b = park["a"], park["b"]
    expected = [
        (t, a, "energy_kwh", v, "kWh")
        for t, v in (
            (T0, 10.0),
            (T0.replace(minute=1), 10.5),
            (T0.replace(minute=2, second=30, microsecond=500000), 11.25),
        )
    ]
    expected += [(t, b, "temperature_c", v, "°C") for t, v in (
        (T0, -1.5), (T0.replace(hour=1), 20.0), (T0.replace(hour=2), 21.0))]  # fmt: skip
    assert rows == sorted(expected)
    assert pq.ParquetFile(io.BytesIO(response.content)).num_row_groups == (3 if chunked else 1)


def test_filters_by_range_device_and_metric(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    params = {"from": "2026-11-28T00:00:30Z", "to": "2026-11-28T01:00:00Z", "lang": "en"}
    body = client.get(url(park), params=params, headers=viewer).content.decode()
    assert [line.split(",")[:3] for line in body.splitlines()[1:]] == [
        ["2026-11-28T00:01:00Z", park["a"], "energy_kwh"],
        ["2026-11-28T00:02:30.5Z", park["a"], "energy_kwh"],
    ]
    only = {**RANGE, "metric": "temperature_c", "lang": "en"}
    body = client.get(url(park), params=only, headers=viewer).content.decode()
    assert len(body.splitlines()) == 4 and "energy_kwh" not in body


@pytest.fixture(scope="module")
def small_chunks(settings: Settings) -> Iterator[TestClient]:
    """The API reading two rows per query (below the setting's floor, for the test)."""
    with TestClient(create_app(settings.model_copy(update={"export_chunk_rows": 2}))) as app:
        yield app


@pytest.mark.parametrize("chunked", [False, True])
def test_resumes_after_the_last_row(
    request: pytest.FixtureRequest, viewer: dict[str, str], park: dict[str, str], chunked: bool
) -> None:
    """Cut after every row in turn: the rows after the cut are exactly the rest (also when
    each query reads two rows, so windows need several queries)."""
    client: TestClient = request.getfixturevalue("small_chunks" if chunked else "client")
    params = {**RANGE, "lang": "en"}
    whole = client.get(url(park), params=params, headers=viewer).content.decode().splitlines()
    for i, line in enumerate(whole[1:], start=1):
        after = ",".join(line.split(",")[:3])  # time, device_id, metric
        rest = client.get(url(park), params={**params, "after": after}, headers=viewer)
        assert rest.content.decode().splitlines() == [whole[0], *whole[i + 1 :]]
    local = {**RANGE, "after": f"2026-11-28T08:01:00+08:00,{park['a']},energy_kwh"}
    rest = client.get(url(park), params=local, headers=viewer).content.decode()
    assert "08:01:00" not in rest and "08:02:30" in rest


def test_rollups_hourly_and_daily(
    client: TestClient, viewer: dict[str, str], park: dict[str, str]
) -> None:
    params = {**RANGE, "lang": "en", "level": "hour", "device_id": park["a"]}
    body = client.get(url(park, "rollups"), params=params, headers=viewer).content.decode()
    assert body.splitlines() == [
        BOM + "bucket,device_id,metric,count,avg,min,max,first,last,delta,unit",
        f"2026-11-28T00:00:00Z,{park['a']},energy_kwh,3,10.583333333333334,10.0,11.25,10.0,"
        "11.25,1.25,kWh",
    ]
    day = {"from": "2026-11-28T00:00:00+08:00", "to": "2026-11-29T00:00:00+08:00",
           "level": "day", "device_id": park["b"], "format": "parquet"}  # fmt: skip
    response = client.get(url(park, "rollups"), params=day, headers=viewer)
    rows = pq.read_table(io.BytesIO(response.content)).to_pylist()
    assert [(r["count"], r["min"], r["max"], r["delta"]) for r in rows] == [(3, -1.5, 21.0, None)]
    assert rows[0]["bucket"] == datetime(2026, 11, 27, 16, tzinfo=UTC)  # local midnight


def test_another_parks_device_is_404(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], park: dict[str, str]
) -> None:
    other = create_park(client, admin)
    theirs = create_device(client, admin, other.id)["id"]
    response = client.get(url(park), params={"device_id": theirs}, headers=viewer)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},  # over the longest range
        {"from": "2026-11-28T03:00:00Z", "to": "2026-11-28T00:00:00Z"},  # backwards
        {"from": "not a time"},
        {"device_id": "../../etc/passwd"},
        {"device_id": ["d"] * 1001},
        {"metric": "no_such_metric"},
        {"metric": "x" * 65},
        {"format": "xlsx"},
        {"lang": "fr"},
        {"level": "minute"},
        {"after": "only-two,parts"},
        {"after": "2026-11-28T00:00:00,d,energy_kwh"},  # no offset
        {"after": "yesterday,d,energy_kwh"},
        {"after": "2026-11-28T00:00:00Z,d/x,energy_kwh"},
        {"after": "x" * 201},
    ],
)
def test_hostile_input_is_422(
    client: TestClient, viewer: dict[str, str], park: dict[str, str], params: dict[str, object]
) -> None:
    response = client.get(url(park, "rollups"), params=params, headers=viewer)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_too_many_series_is_422_before_the_file_starts(
    client: TestClient, viewer: dict[str, str], park: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from app.export import service

    monkeypatch.setattr(service, "MAX_SERIES", 1)
    response = client.get(url(park), params=RANGE, headers=viewer)
    assert response.status_code == 422
    assert "series" in response.json()["detail"]


@pytest.mark.parametrize("level", ["hour", "day"])
def test_rollups_resume_after_the_last_row(
    client: TestClient, viewer: dict[str, str], park: dict[str, str], level: str
) -> None:
    params = {**RANGE, "lang": "en", "level": level}
    whole = client.get(url(park, "rollups"), params=params, headers=viewer).content.decode()
    lines = whole.splitlines()
    assert len(lines) == (5 if level == "hour" else 3)  # header + a's hour, b's three; or days
    for i, line in enumerate(lines[1:], start=1):
        after = ",".join(line.split(",")[:3])
        rest = client.get(url(park, "rollups"), params={**params, "after": after}, headers=viewer)
        assert rest.content.decode().splitlines() == [lines[0], *lines[i + 1 :]]
