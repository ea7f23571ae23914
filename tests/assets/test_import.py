"""Bulk import: every kind from GeoJSON or CSV, idempotent re-runs, dry runs, and imports with
bad rows that change nothing and report each row."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.imports import parse
from app.assets.imports.service import ImportRejected, import_features
from app.core.auth import ApiKey, Role
from app.core.config import Settings
from app.core.db import create_engine_for
from app.core.limits import TableLimits
from app.core.mqtt import MqttTarget
from app.parks.deps import ParkContext
from tests.assets.land_util import SOUTH, WEST, park_with_boundary, square
from tests.assets.support import CODES
from tests.conftest import ServiceEnv
from tests.test_broker import _connect

GEOJSON = {"Content-Type": "application/geo+json"}
CSV = {"Content-Type": "text/csv"}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def feature(properties: dict[str, Any], geometry: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def post(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    kind: str,
    body: Any,
    dry_run: bool = False,
) -> Any:
    url = f"/api/v1/parks/{park_id}/import/{kind}"
    params = {"dry_run": "true"} if dry_run else {}
    if isinstance(body, str):
        return client.post(url, content=body.encode(), headers={**admin, **CSV}, params=params)
    return client.post(url, json=body, headers={**admin, **GEOJSON}, params=params)


def count(database_url: str, table: str, park_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE park_id = %s", (park_id,))
        return int(row.fetchone()[0])  # type: ignore[index]


def park_imports(park_id: str) -> list[tuple[str, Any]]:
    """One import per kind, in dependency order: GeoJSON where there is geometry, else CSV."""
    p1, p2 = square(WEST, SOUTH, 0.005), square(WEST + 0.01, SOUTH, 0.005)
    return [
        ("parcels", collection(
            feature({"id": "A-01", "name": "A-01 地块", "land_use": "M1"}, p1),
            feature({"id": "A-02", "name": "A-02 地块", "OBJECTID": 7}, p2),
        )),
        ("buildings", collection(
            feature({"id": "B1", "name": "1号楼", "parcel_id": "A-01", "floors": 2},
                    square(WEST + 0.001, SOUTH + 0.001, 0.001)),
        )),
        ("floors", to_csv([
            {"building_id": "B1", "number": 1, "name": "一层", "area_m2": 1000},
            {"building_id": "B1", "number": 2, "name": "二层", "area_m2": ""},
        ])),
        ("spaces", to_csv([
            {"id": "B1-101", "building_id": "B1", "floor": 1, "name": "101", "area_m2": 300,
             "status": "available"},
            {"id": "B1-201", "building_id": "B1", "floor": 2, "name": "201", "area_m2": 200,
             "status": ""},
        ])),
        ("enterprises", to_csv([
            {"id": "acme", "name": "艾克美", "credit_code": CODES[0], "industry_code": "C34",
             "above_scale": "true", "contacts": '[{"name": "王工"}]'},
            {"id": "beta", "name": "贝塔", "credit_code": CODES[1], "industry_code": "",
             "above_scale": "false", "contacts": ""},
        ])),
        ("leases", collection(
            feature({"id": "L1", "enterprise_id": "acme", "space_id": "B1-101",
                     "start_date": "2026-01-01", "end_date": "2026-12-31", "rent_yuan": 9000}),
            feature({"id": "L2", "enterprise_id": "beta", "parcel_id": "A-02",
                     "start_date": "2026-01-01", "end_date": "2030-12-31"}),
        )),
        ("devices", collection(
            feature({"id": "main", "type": "electricity_meter", "name": "总表",
                     "building_id": "B1"}, point(WEST + 0.0015, SOUTH + 0.0015)),
            feature({"id": "sub", "type": "electricity_meter", "name": "分表",
                     "space_id": "B1-101", "parent_meter_id": "main"}),
        )),
        ("equipment", to_csv([
            {"id": "pump-1", "name": "1号泵", "category": "pump", "space_id": "B1-101",
             "lon": WEST + 0.0012, "lat": SOUTH + 0.0012, "device_id": "main",
             "maintenance_status": "due"},
        ])),
    ]  # fmt: skip


def test_every_kind_imports_and_a_rerun_changes_nothing(
    client: TestClient, admin: dict[str, str], database_url: str, services: ServiceEnv
) -> None:
    park_id = park_with_boundary(client, admin)
    imports = park_imports(park_id)
    sizes = {}
    for kind, body in imports:
        response = post(client, admin, park_id, kind, body)
        assert response.status_code == 200, (kind, response.text)
        result = response.json()
        sizes[kind] = result["created"]
        assert (result["kind"], result["updated"], result["dry_run"]) == (kind, 0, False)
    assert sizes == {"parcels": 2, "buildings": 1, "floors": 2, "spaces": 2, "enterprises": 2,
                     "leases": 2, "devices": 2, "equipment": 1}  # fmt: skip

    api = f"/api/v1/parks/{park_id}"
    parcel = client.get(f"{api}/parcels/A-01", headers=admin).json()
    assert parcel["land_use"] == "M1" and parcel["area_m2"] > 0
    space = client.get(f"{api}/spaces/B1-201", headers=admin).json()
    assert space["status"] == "available" and space["floor"] == 2
    acme = client.get(f"{api}/enterprises/acme", headers=admin).json()
    assert acme["above_scale"] is True and acme["contacts"][0]["name"] == "王工"
    sub = client.get(f"{api}/devices/sub", headers=admin).json()
    assert (sub["building_id"], sub["space_id"], sub["parent_meter_id"]) == (
        "B1", "B1-101", "main",
    )  # fmt: skip
    main = client.get(f"{api}/devices/main", headers=admin).json()
    assert main["location"] == {"lon": WEST + 0.0015, "lat": SOUTH + 0.0015}
    pump = client.get(f"{api}/equipment/pump-1", headers=admin).json()
    assert pump["building_id"] == "B1" and pump["location"]["lon"] == WEST + 0.0012

    again = {kind: post(client, admin, park_id, kind, body).json() for kind, body in imports}
    assert {k: (r["created"], r["updated"]) for k, r in again.items()} == {
        kind: (0, n) for kind, n in sizes.items()
    }
    assert again["devices"]["credentials"] == []
    retyped = collection(feature({"id": "sub", "type": "water_meter", "name": "分表"}))
    refused = post(client, admin, park_id, "devices", retyped)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "type"
    assert "'electricity_meter'" in refused.json()["errors"][0]["reason"]
    assert again["parcels"]["ignored_fields"] == ["OBJECTID"]
    assert count(database_url, "lease", park_id) == 2


def test_imported_devices_get_working_broker_accounts(
    client: TestClient, admin: dict[str, str], services: ServiceEnv
) -> None:
    park_id = park_with_boundary(client, admin)
    body = collection(*(
        feature({"id": f"det-{i}", "type": "gas_detector", "name": f"探测器 {i}"},
                point(WEST + 0.001 * i, SOUTH + 0.001))
        for i in range(1, 4)
    ))  # fmt: skip
    result = post(client, admin, park_id, "devices", body).json()
    credentials = {c["device_id"]: c for c in result["credentials"]}
    assert sorted(credentials) == ["det-1", "det-2", "det-3"]
    one = credentials["det-2"]
    assert one["mqtt_username"] == f"{park_id}:det-2"
    mqtt_client, reason = _connect(
        MqttTarget.from_url(services.mqtt_url), one["mqtt_username"], one["mqtt_password"]
    )
    assert reason == "Success"
    mqtt_client.disconnect()
    mqtt_client.loop_stop()


def test_bad_rows_change_nothing_and_each_is_reported(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park_id = park_with_boundary(client, admin)
    for kind, body in park_imports(park_id)[:2]:
        assert post(client, admin, park_id, kind, body).status_code == 200
    spaces = (
        "id,building_id,name,area_m2,status\n"
        "S1,B1,good,100,available\n"  # row 1: fine
        "S2,B1,negative,-5,available\n"  # row 2: area below 0
        "S3,ghost,nowhere,10,available\n"  # row 3: no such building (the service says)
        "S1,B1,again,10,available\n"  # row 4: S1 twice
        "S5,B1,odd,10,rented\n"  # row 5: not a status
        "S6,B1,long,10,available,extra\n"  # row 6: one cell too many
    )
    response = post(client, admin, park_id, "spaces", spaces)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/import-rejected")
    assert problem["detail"] == "5 of 6 rows are bad: nothing was imported"
    by_row = {e["row"]: e for e in problem["errors"]}
    assert sorted(by_row) == [2, 3, 4, 5, 6]
    assert by_row[2]["field"] == "area_m2" and "greater than or equal to 0" in by_row[2]["reason"]
    assert by_row[3]["field"] == "building_id" and "ghost" in by_row[3]["reason"]
    assert by_row[4]["field"] == "id" and by_row[4]["reason"] == "S1 is also row 1"
    assert by_row[5]["field"] == "status"
    assert by_row[6]["field"] is None and "more cells" in by_row[6]["reason"]
    assert count(database_url, "space", park_id) == 0  # S1 was applied, then rolled back


def test_bad_geometries_and_overlaps_are_reported_per_row(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park_id = park_with_boundary(client, admin)
    bowtie = {"type": "Polygon", "coordinates": [[[WEST, SOUTH], [WEST + 0.002, SOUTH + 0.002],
              [WEST + 0.002, SOUTH], [WEST, SOUTH + 0.002], [WEST, SOUTH]]]}  # fmt: skip
    body = collection(
        feature({"id": "ok", "name": "ok"}, square(WEST, SOUTH, 0.004)),
        feature({"id": "cross", "name": "self-intersecting"}, bowtie),
        feature({"id": "out", "name": "outside"}, square(WEST - 0.01, SOUTH, 0.002)),
        feature({"id": "over", "name": "overlapping ok"}, square(WEST + 0.003, SOUTH, 0.004)),
        feature({"id": "none", "name": "no geometry"}),
        feature({"id": "pt", "name": "a point"}, point(WEST, SOUTH)),
    )
    response = post(client, admin, park_id, "parcels", body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert response.json()["detail"] == "5 of 6 rows are bad: nothing was imported"
    assert [e["row"] for e in errors] == [2, 3, 4, 5, 6, 6, 6]  # row 6: type, coordinates
    assert all(e["field"].startswith("geometry") for e in errors), errors
    assert "Self-intersection" in errors[0]["reason"]
    assert "not inside the park's boundary" in errors[1]["reason"]
    assert "overlaps parcel 'ok'" in errors[2]["reason"]  # imported just before it
    assert errors[3]["reason"] == "Field required"
    assert count(database_url, "parcel", park_id) == 0


def test_overlapping_leases_within_one_import(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park_id = park_with_boundary(client, admin)
    for kind, body in park_imports(park_id)[:5]:
        assert post(client, admin, park_id, kind, body).status_code == 200
    leases = to_csv([
        {"id": "X1", "enterprise_id": "acme", "space_id": "B1-101", "start_date": "2026-01-01",
         "end_date": "2026-06-30"},
        {"id": "X2", "enterprise_id": "beta", "space_id": "B1-101", "start_date": "2026-06-30",
         "end_date": "2026-12-31"},
        {"id": "X3", "enterprise_id": "beta", "space_id": "B1-201", "start_date": "2026-07-01",
         "end_date": "2026-01-01"},
    ])  # fmt: skip
    response = post(client, admin, park_id, "leases", leases)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(2, "space_id"), (3, None)]
    assert "overlaps lease 'X1'" in errors[0]["reason"]
    assert "end_date: before start_date" in errors[1]["reason"]
    assert count(database_url, "lease", park_id) == 0


def test_dry_run_checks_everything_and_keeps_nothing(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park_id = park_with_boundary(client, admin)
    kind, body = park_imports(park_id)[0]
    result = post(client, admin, park_id, kind, body, dry_run=True)
    assert result.status_code == 200, result.text
    assert (result.json()["created"], result.json()["dry_run"]) == (2, True)
    assert count(database_url, "parcel", park_id) == 0
    devices = collection(feature({"id": "d1", "type": "no_such_type", "name": "x"}))
    refused = post(client, admin, park_id, "devices", devices, dry_run=True)
    assert refused.status_code == 422 and refused.json()["errors"][0]["row"] == 1


def test_bodies_that_are_not_imports(client: TestClient, admin: dict[str, str]) -> None:
    park_id = park_with_boundary(client, admin)
    url = f"/api/v1/parks/{park_id}/import"
    not_fc = client.post(f"{url}/parcels", json={"type": "Feature"}, headers=admin)
    assert not_fc.status_code == 422 and "FeatureCollection" in not_fc.json()["detail"]
    xml = client.post(
        f"{url}/parcels", content=b"<x/>", headers={**admin, "Content-Type": "text/xml"}
    )
    assert xml.status_code == 415
    assert client.post(f"{url}/villas", json=collection(), headers=admin).status_code == 422
    empty = client.post(f"{url}/spaces", content=b"", headers={**admin, **CSV})
    assert empty.status_code == 422 and "header" in empty.json()["detail"]
    torn = client.post(f"{url}/spaces", content=b'id,"name\n\x00', headers={**admin, **CSV})
    assert torn.status_code == 422 and "CSV line" in torn.json()["detail"]
    windows = b"id,building_id,name,area_m2\r\nS1,ghost,x,1\r\n"
    crlf = client.post(f"{url}/spaces", content=windows, headers={**admin, **CSV})
    assert crlf.json()["errors"][0]["field"] == "building_id"  # parsed: row 1 reached the service
    floors = collection(feature({"building_id": "B", "number": 1}, point(WEST, SOUTH)))
    no_geometry = client.post(f"{url}/floors", json=floors, headers=admin)
    assert no_geometry.json()["errors"][0]["reason"] == "this kind takes no geometry"


def test_import_features_from_python(
    client: TestClient, admin: dict[str, str], database_url: str, services: ServiceEnv
) -> None:
    """The entry point of `parktwin seed demo`: all or nothing in the caller's session."""
    park_id = park_with_boundary(client, admin)
    ctx = ParkContext(key=ApiKey("test", Role.admin, None), park_id=park_id, timezone="UTC")
    good = [feature({"id": f"e{i}", "name": "e", "credit_code": c}) for i, c in enumerate(CODES)]

    async def run(features: list[dict[str, Any]]) -> Any:
        engine = create_engine_for(database_url, 1)
        try:
            async with AsyncSession(engine) as session, session.begin():
                return await import_features(
                    session, ctx=ctx, kind="enterprises", features=features, broker=None
                )
        finally:
            await engine.dispose()

    result = asyncio.run(run(good))
    assert (result.created, result.updated, result.credentials) == (4, 0, None)
    bad = [*good, feature({"id": "e9", "name": "e", "credit_code": "91350100M000100Y44"})]
    with pytest.raises(ImportRejected) as caught:
        asyncio.run(run(bad))
    assert caught.value.extra["errors"] == [
        {
            "row": 5,
            "field": "credit_code",
            "reason": "not a valid 统一社会信用代码: check character is '4' but the first 17 "
            "characters give '3'",
        }
    ]
    assert count(database_url, "enterprise", park_id) == 4


def test_import_features_makes_accounts_from_the_settings(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    services: ServiceEnv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Called as the seed calls it (no broker given): the broker comes from the settings."""
    monkeypatch.setenv("PARKTWIN_MQTT_URL", services.mqtt_url)
    monkeypatch.setenv("PARKTWIN_MQTT_CREDENTIALS", "dynsec")
    park_id = park_with_boundary(client, admin)
    ctx = ParkContext(key=ApiKey("test", Role.admin, None), park_id=park_id, timezone="UTC")
    devices = [feature({"id": "m1", "type": "water_meter", "name": "水表"}, point(WEST, SOUTH))]

    async def run() -> Any:
        engine = create_engine_for(database_url, 1)
        try:
            async with AsyncSession(engine) as session, session.begin():
                return await import_features(session, ctx=ctx, kind="devices", features=devices)
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    (made,) = result.credentials
    assert made.device_id == "m1" and made.mqtt_username == f"{park_id}:m1"
    mqtt_client, reason = _connect(
        MqttTarget.from_url(services.mqtt_url), made.mqtt_username, made.mqtt_password
    )
    assert reason == "Success"
    mqtt_client.disconnect()
    mqtt_client.loop_stop()


# --- parsing (pure) ----------------------------------------------------------------------------


def test_records_from_features() -> None:
    parcel = {"type": "Feature", "id": "A", "properties": {"name": "a"}, "geometry": {"x": 1}}
    assert parse.record(parcel, "geometry") == {"id": "A", "name": "a", "geometry": {"x": 1}}
    given_too = feature({"id": "B", "footprint": {"y": 2}}, {"x": 1})
    assert parse.record(given_too, "footprint")["footprint"] == {"y": 2}  # the property wins
    assert parse.record(feature({"id": "d"}, point(1.5, 2.5)), "location") == {
        "id": "d",
        "location": {"lon": 1.5, "lat": 2.5},
    }
    with pytest.raises(parse.RowError, match="a Point is needed"):
        parse.record(feature({"id": "d"}, square(0, 0, 1)), "location")
    with pytest.raises(parse.RowError, match="lon and lat go together"):
        parse.record({"id": "d", "lon": "1"}, "location")
    with pytest.raises(parse.RowError, match="must be an object"):
        parse.record(["not", "a", "row"], None)


def csv_rows(body: bytes) -> list[Any]:
    return parse.csv_rows(io.BytesIO(body), TableLimits.of(Settings()))


def test_csv_cells() -> None:
    rows = csv_rows(b'id,geometry,attributes,name\r\nB1,"{""type"": ""Polygon""}","[1, 2]",\r\n')
    assert rows == [{"id": "B1", "geometry": {"type": "Polygon"}, "attributes": [1, 2]}]
    assert parse.record(rows[0], "footprint") == {
        "id": "B1",
        "attributes": [1, 2],
        "footprint": {"type": "Polygon"},
    }
    assert csv_rows("\ufeffid\nx\n".encode()) == [{"id": "x"}]  # a BOM is not a name


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["id", "name", "area_m2"]),
            st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1).filter(
                lambda v: v.strip() == v and v[0] not in "{["
            ),
            min_size=3,
            max_size=3,
        ),
        max_size=5,
    )
)
def test_csv_round_trip(rows: list[dict[str, str]]) -> None:
    """What a spreadsheet writes (quotes, commas, CJK) comes back cell for cell."""
    if not rows:
        return
    assert csv_rows(to_csv(rows).encode()) == rows
