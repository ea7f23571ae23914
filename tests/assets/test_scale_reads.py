"""Reads made for 100,000 devices, on small hand-made parks with exact answers: bulk latest
in pages, the map by zoom and box (clusters, simplification), the twin's roll-up counted in
SQL, and the asset version bumped once per statement (migration 0028)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.assets.twin import mapview
from app.core.config import Settings
from app.main import create_app
from app.webhooks import outbox
from tests.assets.land_util import SOUTH, WEST, building, parcel, park_with_boundary, square
from tests.ingest_support import wait_until


def sql(database_url: str, statement: str, *args: object) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(statement, args)  # type: ignore[arg-type]


def add_devices(database_url: str, park: str, rows: list[tuple[Any, ...]]) -> None:
    """``(id, type, lon, lat, building_id, status)`` rows in one INSERT, with their series."""
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO device (park_id, id, type, name, lon, lat, building_id, status) "
            "VALUES (%s, %s, %s, 'a device', %s, %s, %s, %s)",
            [(park, *row) for row in rows],
        )
        cur.execute(
            "INSERT INTO series (park_id, device_id, metric) SELECT d.park_id, d.id, m.name "
            "FROM device d JOIN device_type_metric m ON m.device_type = d.type "
            "WHERE d.park_id = %s ON CONFLICT DO NOTHING",
            (park,),
        )


def set_latest(database_url: str, park: str, device: str, metric: str, value: float) -> None:
    sql(
        database_url,
        "INSERT INTO latest_value (series_id, time, value) SELECT id, %s, %s FROM series "
        "WHERE park_id = %s AND device_id = %s AND metric = %s",
        datetime(2026, 12, 1, tzinfo=UTC),
        value,
        park,
        device,
        metric,
    )


def test_bulk_latest_in_pages(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = park_with_boundary(client, admin)
    add_devices(
        database_url,
        park,
        [(f"m{n}", "electricity_meter", None, None, None, "online") for n in range(1, 5)]
        + [("g1", "gas_detector", None, None, None, "online")],
    )
    set_latest(database_url, park, "m2", "power_kw", 7.5)
    set_latest(database_url, park, "g1", "gas_lel_pct", 3.0)
    url = f"/api/v1/parks/{park}/latest"
    whole = client.get(url, headers=viewer).json()
    assert [i["device_id"] for i in whole["items"]] == ["g1", "m1", "m2", "m3", "m4"]
    assert "next_cursor" not in whole  # the unpaged answer as it was

    pages, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(url, params=params, headers=viewer).json()
        pages.append([i["device_id"] for i in page["items"]])
        assert page["items"] == [i for i in whole["items"] if i["device_id"] in pages[-1]]
        if not (cursor := page["next_cursor"]):
            break
    assert pages == [["g1", "m1"], ["m2", "m3"], ["m4"]]
    stamp = "2026-12-01T00:00:00Z"
    assert pages[1] and whole["items"][2]["values"] == {"power_kw": {"ts": stamp, "value": 7.5}}

    meters = client.get(
        url, params={"type": "electricity_meter", "metric": "power_kw", "limit": 1}, headers=viewer
    ).json()
    assert meters["items"] == [{"device_id": "m1", "values": {}}] and meters["next_cursor"]
    second = client.get(
        url,
        params={"type": "electricity_meter", "metric": "power_kw", "cursor": meters["next_cursor"]},
        headers=viewer,
    ).json()  # a cursor alone pages too, 100 a page
    assert second == {
        "items": [
            {"device_id": "m2", "values": {"power_kw": {"ts": stamp, "value": 7.5}}},
            {"device_id": "m3", "values": {}},
            {"device_id": "m4", "values": {}},
        ],
        "next_cursor": None,
    }
    chosen = client.get(url, params={"device_id": ["m4", "g1"], "limit": 1}, headers=viewer)
    assert [i["device_id"] for i in chosen.json()["items"]] == ["g1"]
    twice = {"device_id": ["m4", "g1", "m4", "nope"]}  # asked twice, answered once
    listed = client.get(url, params=twice, headers=viewer).json()["items"]
    assert [i["device_id"] for i in listed] == ["g1", "m4"]
    paged = client.get(url, params={**twice, "limit": 5}, headers=viewer).json()
    assert paged == {"items": listed, "next_cursor": None}
    assert client.get(url, params={"cursor": "!!"}, headers=viewer).status_code == 422
    assert client.get(url, params={"limit": 1001}, headers=viewer).status_code == 422
    assert client.get(url, params={"limit": 0}, headers=viewer).status_code == 422


def features(client: TestClient, admin: dict[str, str], park: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/parks/{park}/map", params=params, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()["features"]


def by_kind(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in found if f["properties"]["kind"] == kind]


def cell(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    size = mapview.cell_degrees(zoom)
    return math.floor(lon / size), math.floor(lat / size)


def test_the_map_by_zoom_clusters_devices_below_device_zoom(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = park_with_boundary(client, admin)
    zoom = 10  # cells of 64 px = 0.0879°
    near = [(WEST + 0.0010, SOUTH + 0.0010), (WEST + 0.0020, SOUTH + 0.0010)]
    near.append((WEST + 0.0030, SOUTH + 0.0030))
    far = (WEST + 0.3, SOUTH + 0.3)
    assert len({cell(*p, zoom) for p in near}) == 1 and cell(*far, zoom) != cell(*near[0], zoom)
    add_devices(
        database_url,
        park,
        [
            ("a", "electricity_meter", *near[0], None, "online"),
            ("b", "electricity_meter", *near[1], None, "offline"),
            ("c", "gas_detector", *near[2], None, "online"),
            ("d", "gas_detector", *far, None, "unknown"),
            ("e", "gas_detector", None, None, None, "online"),  # not located: not on the map
        ],
    )
    sql(
        database_url,
        "INSERT INTO alarm (id, park_id, device_id, metric, type, severity, raised_at) "
        "VALUES (gen_random_uuid(), %s, 'c', 'gas_lel_pct', 'threshold', 'major', now())",
        park,
    )
    found = features(client, admin, park, zoom=zoom)
    assert by_kind(found, "device") == []
    clusters = by_kind(found, "device_cluster")
    ix, iy = cell(*near[0], zoom)
    fx, fy = cell(*far, zoom)
    assert [c["properties"]["id"] for c in clusters] == [f"z10:{ix}:{iy}", f"z10:{fx}:{fy}"]
    first, second = (c["properties"] for c in clusters)
    assert (first["count"], first["status"], first["first_device_id"]) == (3, "major", "a")
    assert {k: v for k, v in first["counts"].items() if v} == {
        "major": 1,
        "offline": 1,
        "normal": 1,
    }
    mean = [sum(p[0] for p in near) / 3, sum(p[1] for p in near) / 3]
    assert clusters[0]["geometry"]["coordinates"] == [round(mean[0], 7), round(mean[1], 7)]
    assert (second["count"], second["status"]) == (1, "unknown")
    assert clusters[1]["geometry"]["coordinates"] == [round(far[0], 7), round(far[1], 7)]
    (whole,) = by_kind(found, "park")
    assert whole["properties"]["counts"]["major"] == 1 and whole["properties"]["status"] == "major"

    # From DEVICE_ZOOM on, devices one by one, as in the full map.
    full = features(client, admin, park)
    close = features(client, admin, park, zoom=mapview.DEVICE_ZOOM)
    assert by_kind(close, "device") == by_kind(full, "device")
    assert [d["properties"]["id"] for d in by_kind(full, "device")] == ["a", "b", "c", "d"]


def test_the_map_within_a_box_and_simplified_by_zoom(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = park_with_boundary(client, admin)
    west = parcel(client, admin, park, square(WEST + 0.001, SOUTH + 0.001, 0.004))
    east = parcel(client, admin, park, square(WEST + 0.010, SOUTH + 0.001, 0.004))
    # A footprint with a 1 m notch in its south edge: gone at zoom 12 (a pixel is 0.00034°),
    # kept at zoom 22 (0.00000034°).
    x, y = WEST + 0.002, SOUTH + 0.002
    ring = [
        [x, y],
        [x + 0.0005, y],
        [x + 0.0005, y + 0.00001],
        [x + 0.0006, y + 0.00001],
        [x + 0.0006, y],
        [x + 0.001, y],
        [x + 0.001, y + 0.001],
        [x, y + 0.001],
        [x, y],
    ]
    house = building(
        client, admin, park, {"type": "Polygon", "coordinates": [ring]}, parcel_id=west["id"]
    )
    add_devices(
        database_url,
        park,
        [
            ("in", "electricity_meter", x + 0.0002, y + 0.0002, house["id"], "online"),
            ("out", "electricity_meter", WEST + 0.011, SOUTH + 0.002, None, "online"),
        ],
    )
    box = f"{WEST},{SOUTH},{WEST + 0.006},{SOUTH + 0.006}"
    found = features(client, admin, park, bbox=box)
    ids = {(f["properties"]["kind"], f["properties"]["id"]) for f in found}
    assert ids == {
        ("park", park),
        ("parcel", west["id"]),
        ("building", house["id"]),
        ("device", "in"),
    }
    assert east["id"] not in {i for _, i in ids}
    (kept,) = by_kind(found, "building")
    assert kept["geometry"] == house["footprint"]  # no zoom: as stored
    assert kept["properties"]["counts"]["normal"] == 1

    coarse = by_kind(features(client, admin, park, zoom=12, bbox=box), "building")[0]
    assert len(coarse["geometry"]["coordinates"][0]) == 5  # the notch is below a pixel
    fine = by_kind(features(client, admin, park, zoom=22, bbox=box), "building")[0]
    assert len(fine["geometry"]["coordinates"][0]) == len(ring)
    url = f"/api/v1/parks/{park}/map"
    for bad in ("1,2,3", "a,b,c,d", f"{WEST + 1},{SOUTH},{WEST},{SOUTH + 1}"):
        assert client.get(url, params={"bbox": bad}, headers=admin).status_code == 422
    assert client.get(url, params={"zoom": 23}, headers=admin).status_code == 422


def test_the_twin_counts_a_device_of_an_unknown_building_by_its_point(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = park_with_boundary(client, admin)
    land = parcel(client, admin, park, square(WEST + 0.001, SOUTH + 0.001, 0.004))
    house = building(
        client, admin, park, square(WEST + 0.002, SOUTH + 0.002, 0.001), parcel_id=land["id"]
    )
    add_devices(
        database_url,
        park,
        [
            ("h1", "electricity_meter", None, None, house["id"], "online"),
            ("h2", "electricity_meter", None, None, house["id"], "offline"),
            ("ghost", "electricity_meter", WEST + 0.0015, SOUTH + 0.0015, "no-such", "unknown"),
            ("yard", "electricity_meter", WEST + 0.0045, SOUTH + 0.0045, None, "online"),
            ("away", "electricity_meter", WEST + 0.015, SOUTH + 0.015, None, "offline"),
        ],
    )
    body = client.get(f"/api/v1/parks/{park}/twin", headers=admin).json()
    nonzero = {k: v for k, v in body["counts"].items() if v}
    assert nonzero == {"offline": 2, "unknown": 1, "normal": 2}
    (p,) = body["parcels"]
    assert {k: v for k, v in p["counts"].items() if v} == {"offline": 1, "unknown": 1, "normal": 2}
    (b,) = body["buildings"]
    assert (b["status"], {k: v for k, v in b["counts"].items() if v}) == (
        "offline",
        {"offline": 1, "normal": 1},
    )


def version(database_url: str, park: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT version FROM asset_version WHERE park_id = %s", (park,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_the_asset_version_moves_once_per_statement(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = park_with_boundary(client, admin)
    start = version(database_url, park)
    add_devices(
        database_url,
        park,
        [(f"v{n}", "gas_detector", None, None, None, "online") for n in range(3)],
    )
    assert version(database_url, park) == start + 3  # executemany: three statements
    sql(
        database_url,
        "INSERT INTO device (park_id, id, type, name) SELECT %s, 'w' || n, 'gas_detector', 'w' "
        "FROM generate_series(1, 50) n",
        park,
    )
    assert version(database_url, park) == start + 4
    sql(
        database_url,
        "UPDATE device SET status = 'offline', last_seen_at = now() WHERE park_id = %s",
        park,
    )
    assert version(database_url, park) == start + 4  # not what the index holds
    sql(
        database_url,
        "UPDATE device SET lon = 120.7, lat = 31.3 WHERE park_id = %s AND id LIKE 'w%%'",
        park,
    )
    # moving devices stays a row trigger filtered by WHEN (free on ingest's status updates):
    # one bump per moved device, 50 here
    assert version(database_url, park) == start + 4 + 50
    sql(database_url, "DELETE FROM device WHERE park_id = %s AND id LIKE 'w%%'", park)
    assert version(database_url, park) == start + 55
    sql(database_url, "UPDATE device SET name = name WHERE park_id = %s", park)
    assert version(database_url, park) == start + 55  # no change, no bump
    parcel(client, admin, park, square(WEST + 0.001, SOUTH + 0.001, 0.004))
    assert version(database_url, park) == start + 56


def test_the_twin_cache_shares_answers_within_its_ttl(
    settings: Settings, admin: dict[str, str], database_url: str
) -> None:
    cached = settings.model_copy(update={"twin_cache_ttl": timedelta(hours=1)})
    with TestClient(create_app(cached)) as client:
        park = park_with_boundary(client, admin)
        add_devices(database_url, park, [("t1", "gas_detector", None, None, None, "online")])
        twin = client.get(f"/api/v1/parks/{park}/twin", headers=admin).json()
        views: list[dict[str, Any]] = [{}, {"zoom": 12}]
        maps = [features(client, admin, park, **view) for view in views]
        sql(database_url, "UPDATE device SET status = 'offline' WHERE park_id = %s", park)
        assert client.get(f"/api/v1/parks/{park}/twin", headers=admin).json() == twin
        assert twin["status"] == "normal"  # the answer of an hour's TTL, not the new state
        assert [features(client, admin, park, **view) for view in views] == maps
        assert features(client, admin, park, zoom=13) != maps[1]  # another key: computed
        fresh = by_kind(features(client, admin, park, zoom=13), "park")[0]
        assert fresh["properties"]["status"] == "offline"


def test_a_new_event_clears_the_twin_cache_at_once(
    settings: Settings, admin: dict[str, str], database_url: str
) -> None:
    """With an hour's TTL, the offline job's event (its outbox notification) makes the next
    twin and map reads compute anew: a screen never waits out the TTL for a colour."""
    cached = settings.model_copy(update={"twin_cache_ttl": timedelta(hours=1)})
    with TestClient(create_app(cached)) as client:
        park = park_with_boundary(client, admin)
        add_devices(database_url, park, [("t1", "gas_detector", None, None, None, "online")])

        def twin_status() -> str:
            status: str = client.get(f"/api/v1/parks/{park}/twin", headers=admin).json()["status"]
            return status

        def map_status() -> str:
            park_feature = by_kind(features(client, admin, park), "park")[0]
            status: str = park_feature["properties"]["status"]
            return status

        assert (twin_status(), map_status()) == ("normal", "normal")
        with psycopg.connect(database_url) as conn:  # as the offline job does, in one commit
            conn.execute("UPDATE device SET status = 'offline' WHERE park_id = %s", (park,))
            outbox.enqueue_sync(
                conn, park_id=park, type="device.offline", severity=None, data={"id": "t1"}
            )
        wait_until(lambda: twin_status() == "offline", 10.0, "the twin computed anew")
        assert map_status() == "offline"
