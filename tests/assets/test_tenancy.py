"""Enterprises, leases (overlaps refused), occupancy (出租率) at dates, expiring leases."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_park
from tests.assets.support import (
    CODES,
    make_building,
    make_enterprise,
    make_parcel,
    post_lease,
    uid,
)


@pytest.fixture
def park_id(client: TestClient, admin: dict[str, str]) -> str:
    return create_park(client, admin).id


# --- enterprises ---------------------------------------------------------------------------


def test_enterprise_round_trip(client: TestClient, admin: dict[str, str], park_id: str) -> None:
    url = f"/api/v1/parks/{park_id}/enterprises"
    body = {
        "id": "acme",
        "name": "艾克美",
        "credit_code": "91350100m000100y43",
        "industry_code": "C3484",
        "above_scale": True,
        "founded_on": "2015-06-01",
        "contacts": [{"name": "王工", "phone": "123"}],
    }
    created = client.post(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["credit_code"] == "91350100M000100Y43"
    got = client.get(f"{url}/acme", headers=admin).json()
    assert got["contacts"] == [{"name": "王工", "role": None, "phone": "123", "email": None}]
    assert (got["founded_on"], got["above_scale"]) == ("2015-06-01", True)
    changed = client.patch(f"{url}/acme", json={"industry_code": "C26"}, headers=admin)
    assert changed.json()["industry_code"] == "C26"
    listed = client.get(url, params={"industry_code": "C2"}, headers=admin).json()
    assert [e["id"] for e in listed["items"]] == ["acme"]
    assert client.get(url, params={"above_scale": False}, headers=admin).json()["items"] == []
    assert client.delete(f"{url}/acme", headers=admin).status_code == 204
    assert client.get(f"{url}/acme", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y44", "check character is '4' but the first 17 characters give '3'"),
        ("91350100M000100Y4", "must be 18 characters long, got 17"),
        ("91350100M000100Y433", "must be 18 characters long, got 19"),
        ("91350100M0O0100Y43", "character 11 ('O') is not allowed"),
    ],
)
def test_bad_credit_codes_are_refused(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    code: str,
    reason: str,
) -> None:
    body = {"id": "e1", "name": "x", "credit_code": code}
    response = client.post(f"/api/v1/parks/{park_id}/enterprises", json=body, headers=admin)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["body", "credit_code"]
    assert reason in problem["detail"]


def test_bad_industry_code_and_duplicate_credit_code(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
) -> None:
    url = f"/api/v1/parks/{park_id}/enterprises"
    bad = {"id": "e1", "name": "x", "credit_code": CODES[0], "industry_code": "Z99"}
    assert client.post(url, json=bad, headers=admin).status_code == 422
    make_enterprise(client, admin, park_id, CODES[0])
    again = client.post(url, json={"id": "e2", "name": "y", "credit_code": CODES[0]}, headers=admin)
    assert again.status_code == 409 and again.json()["field"] == "credit_code"


# --- leases ---------------------------------------------------------------------------------


def test_overlapping_leases_of_a_space_are_refused(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    _, (space,) = make_building(database_url, park_id, [(100.0, "available")])
    ent = make_enterprise(client, admin, park_id)
    first = post_lease(
        client, admin, park_id, id="L1", enterprise_id=ent, space_id=space,
        start_date="2026-01-01", end_date="2026-12-31",
    )  # fmt: skip
    assert first.status_code == 201, first.text
    assert first.json()["area_m2"] == 100.0  # the space's area by default
    overlapping = post_lease(
        client, admin, park_id, enterprise_id=ent, space_id=space,
        start_date="2026-12-31", end_date="2027-06-30",
    )  # fmt: skip
    assert overlapping.status_code == 409
    assert overlapping.json()["conflicting_lease_id"] == "L1"
    assert "overlaps lease 'L1'" in overlapping.json()["detail"]
    after = post_lease(
        client, admin, park_id, id="L2", enterprise_id=ent, space_id=space,
        start_date="2027-01-01", end_date="2027-06-30",
    )  # fmt: skip
    assert after.status_code == 201
    moved = client.patch(
        f"/api/v1/parks/{park_id}/leases/L2", json={"start_date": "2026-06-01"}, headers=admin
    )
    assert moved.status_code == 409
    extended = client.patch(
        f"/api/v1/parks/{park_id}/leases/L1", json={"end_date": "2026-12-31"}, headers=admin
    )
    assert extended.status_code == 200  # a lease does not overlap itself


def test_the_database_refuses_overlaps_too(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    _, (space,) = make_building(database_url, park_id, [(100.0, "available")])
    ent = make_enterprise(client, admin, park_id)
    insert = (
        "INSERT INTO lease (park_id, id, enterprise_id, space_id, area_m2, start_date, end_date) "
        "VALUES (%s, %s, %s, %s, 100, %s, %s)"
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(insert, (park_id, "A", ent, space, "2026-01-01", "2026-06-30"))
        with pytest.raises(psycopg.errors.ExclusionViolation):
            conn.execute(insert, (park_id, "B", ent, space, "2026-06-30", "2026-07-31"))


def test_building_and_space_leases_may_not_overlap(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    building, (space,) = make_building(database_url, park_id, [(100.0, "available")])
    ent = make_enterprise(client, admin, park_id)
    dates = {"start_date": "2026-01-01", "end_date": "2026-12-31"}
    whole = post_lease(client, admin, park_id, enterprise_id=ent, building_id=building, **dates)
    assert whole.status_code == 201, whole.text
    part = post_lease(client, admin, park_id, enterprise_id=ent, space_id=space, **dates)
    assert part.status_code == 409 and part.json()["field"] == "space_id"
    later = post_lease(
        client, admin, park_id, enterprise_id=ent, space_id=space,
        start_date="2027-01-01", end_date="2027-12-31",
    )  # fmt: skip
    assert later.status_code == 201
    url = f"/api/v1/parks/{park_id}/leases"
    listed = client.get(url, params={"building_id": building}, headers=admin).json()["items"]
    assert {lease["id"] for lease in listed} == {whole.json()["id"], later.json()["id"]}


def test_lease_shape_and_references(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    building, (space, closed) = make_building(
        database_url, park_id, [(50.0, "available"), (20.0, "not_leasable")]
    )
    parcel = make_parcel(database_url, park_id)
    ent = make_enterprise(client, admin, park_id)
    dates = {"start_date": "2026-01-01", "end_date": "2026-12-31"}
    two = post_lease(
        client, admin, park_id, enterprise_id=ent, space_id=space, parcel_id=parcel, **dates
    )
    assert two.status_code == 422 and "exactly one" in two.json()["detail"]
    backwards = post_lease(
        client, admin, park_id, enterprise_id=ent, space_id=space,
        start_date="2026-02-01", end_date="2026-01-31",
    )  # fmt: skip
    assert backwards.status_code == 422
    nobody = post_lease(client, admin, park_id, enterprise_id="ghost", space_id=space, **dates)
    assert nobody.status_code == 422 and nobody.json()["field"] == "enterprise_id"
    nowhere = post_lease(client, admin, park_id, enterprise_id=ent, space_id="ghost", **dates)
    assert nowhere.status_code == 422 and nowhere.json()["field"] == "space_id"
    shut = post_lease(client, admin, park_id, enterprise_id=ent, space_id=closed, **dates)
    assert shut.status_code == 422 and "not leasable" in shut.json()["detail"]
    land = post_lease(
        client, admin, park_id, enterprise_id=ent, parcel_id=parcel, rent_yuan="12000.50", **dates
    )
    assert land.status_code == 201, land.text
    assert (land.json()["area_m2"], land.json()["rent_yuan"]) == (10_000.0, "12000.50")
    lease_url = f"/api/v1/parks/{park_id}/leases/{land.json()['id']}"
    assert client.get(lease_url, headers=admin).json()["rent_yuan"] == "12000.50"
    url = f"/api/v1/parks/{park_id}/enterprises/{ent}"
    held = client.delete(url, headers=admin)
    assert held.status_code == 409 and held.json()["leases"] == [land.json()["id"]]
    moved = client.patch(
        f"/api/v1/parks/{park_id}/leases/{land.json()['id']}",
        json={"building_id": building},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["parcel_id"], moved.json()["building_id"]) == (None, building)


# --- occupancy --------------------------------------------------------------------------------


def occupancy(client: TestClient, headers: dict[str, str], park_id: str, on: str) -> dict:
    url = f"/api/v1/parks/{park_id}/occupancy"
    response = client.get(url, params={"date": on}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_occupancy_before_during_and_after_leases(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    b1, (s1, s2, s3, _closed) = make_building(
        database_url,
        park_id,
        [(100.0, "available"), (300.0, "available"), (600.0, "leased"), (50.0, "not_leasable")],
    )
    b2, _ = make_building(database_url, park_id, [], footprint_m2=500.0, floors=2)
    ent = make_enterprise(client, admin, park_id)
    for space, start, end in ((s1, "2026-01-01", "2026-06-30"), (s2, "2026-03-01", "2026-12-31")):
        lease = post_lease(
            client, admin, park_id, enterprise_id=ent, space_id=space,
            start_date=start, end_date=end,
        )  # fmt: skip
        assert lease.status_code == 201
    whole = post_lease(
        client, admin, park_id, enterprise_id=ent, building_id=b2, area_m2=400.0,
        start_date="2026-04-01", end_date="2026-04-30",
    )  # fmt: skip
    assert whole.status_code == 201

    before = occupancy(client, viewer, park_id, "2025-12-31")
    assert (before["leasable_m2"], before["leased_m2"]) == (2000.0, 0.0)
    assert (before["occupancy_rate"], before["vacancy_rate"]) == (0.0, 1.0)
    by_id = {b["building_id"]: b for b in before["buildings"]}
    assert by_id[b1]["basis"] == "spaces" and by_id[b1]["leasable_m2"] == 1000.0
    assert (by_id[b1]["spaces"], by_id[b1]["spaces_leased"]) == (3, 0)
    assert by_id[b2]["basis"] == "floor_area" and by_id[b2]["leasable_m2"] == 1000.0

    first_day = occupancy(client, viewer, park_id, "2026-01-01")
    assert first_day["leased_m2"] == 100.0

    during = occupancy(client, viewer, park_id, "2026-04-15")
    by_id = {b["building_id"]: b for b in during["buildings"]}
    assert by_id[b1]["leased_m2"] == 400.0 and by_id[b1]["occupancy_rate"] == 0.4
    assert by_id[b1]["spaces_leased"] == 2
    assert by_id[b2]["leased_m2"] == 400.0
    assert during["leased_m2"] == 800.0 and during["occupancy_rate"] == 0.4
    assert during["vacancy_rate"] == pytest.approx(0.6)

    last_day = occupancy(client, viewer, park_id, "2026-06-30")
    assert last_day["leased_m2"] == 400.0  # s1's last day, s2; b2's lease has ended

    after = occupancy(client, viewer, park_id, "2027-01-01")
    assert after["leased_m2"] == 0.0 and after["occupancy_rate"] == 0.0
    assert s3  # status 'leased' without a lease: not counted as leased


def test_occupancy_of_an_empty_park(
    client: TestClient,
    viewer: dict[str, str],
    park_id: str,
) -> None:
    body = occupancy(client, viewer, park_id, "2026-01-01")
    assert body == {
        "date": "2026-01-01",
        "leasable_m2": 0.0,
        "leased_m2": 0.0,
        "occupancy_rate": None,
        "vacancy_rate": None,
        "buildings": [],
    }
    today = client.get(f"/api/v1/parks/{park_id}/occupancy", headers=viewer)
    assert today.status_code == 200 and today.json()["date"]


def test_leases_expiring_in_the_next_n_days(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    _, spaces = make_building(database_url, park_id, [(10.0, "available")] * 4)
    ent = make_enterprise(client, admin, park_id, name="苏州某厂")
    ends = ["2026-11-30", "2026-12-10", "2026-12-29", "2027-03-01"]
    for space, end in zip(spaces, ends, strict=True):
        response = post_lease(
            client, admin, park_id, id=f"L{end}", enterprise_id=ent, space_id=space,
            start_date="2026-01-01", end_date=end,
        )  # fmt: skip
        assert response.status_code == 201
    url = f"/api/v1/parks/{park_id}/leases/expiring"
    body = client.get(url, params={"date": "2026-11-30", "days": 30}, headers=viewer).json()
    assert [(i["end_date"], i["days_left"]) for i in body["items"]] == [
        ("2026-11-30", 0),
        ("2026-12-10", 10),
        ("2026-12-29", 29),
    ]
    assert body["items"][0]["enterprise_name"] == "苏州某厂"
    page = client.get(url, params={"date": "2026-11-30", "days": 30, "limit": 2}, headers=viewer)
    rest = client.get(
        url,
        params={"date": "2026-11-30", "days": 30, "cursor": page.json()["next_cursor"]},
        headers=viewer,
    ).json()
    assert [i["end_date"] for i in rest["items"]] == ["2026-12-29"]
    assert rest["next_cursor"] is None
    active = client.get(
        f"/api/v1/parks/{park_id}/leases", params={"active_on": "2027-01-15"}, headers=viewer
    ).json()
    assert [i["end_date"] for i in active["items"]] == ["2027-03-01"]


def test_unknown_ids_are_404(
    client: TestClient,
    viewer: dict[str, str],
    park_id: str,
) -> None:
    for path in (f"enterprises/{uid('e')}", f"leases/{uid('L')}"):
        assert client.get(f"/api/v1/parks/{park_id}/{path}", headers=viewer).status_code == 404


def test_the_id_of_the_expiring_list_cannot_name_a_lease(
    client: TestClient, admin: dict[str, str], park_id: str, database_url: str
) -> None:
    """``GET .../leases/expiring`` is the list: a lease with that id could never be read."""
    _, (space,) = make_building(database_url, park_id, [(50.0, "available")])
    ent = make_enterprise(client, admin, park_id)
    refused = post_lease(
        client, admin, park_id, id="expiring", enterprise_id=ent, space_id=space,
        start_date="2026-01-01", end_date="2026-12-31",
    )  # fmt: skip
    assert refused.status_code == 422
    assert "reserved" in refused.text
