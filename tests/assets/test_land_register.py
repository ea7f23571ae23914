"""Land as the register records it: the same land never under two leases, the certificate
area (证载面积), 容积率 / 建筑密度 / 投资强度, and rent collection (收缴率)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_park
from tests.assets.support import CODES, make_building, make_enterprise, make_parcel, post_lease

DATES = {"start_date": "2026-01-01", "end_date": "2026-12-31"}


@pytest.fixture
def park_id(client: TestClient, admin: dict[str, str]) -> str:
    return create_park(client, admin).id


def test_a_parcel_lease_and_a_lease_of_a_building_on_it_refuse_each_other(
    client: TestClient, admin: dict[str, str], park_id: str, database_url: str
) -> None:
    parcel = make_parcel(database_url, park_id)
    building, (space,) = make_building(
        database_url, park_id, [(100.0, "available")], parcel_id=parcel
    )
    elsewhere, _ = make_building(database_url, park_id)  # on no parcel
    land_firm = make_enterprise(client, admin, park_id)
    tenant = make_enterprise(client, admin, park_id, code=CODES[1])
    land = post_lease(client, admin, park_id, enterprise_id=land_firm, parcel_id=parcel, **DATES)
    assert land.status_code == 201, land.text
    # the building's land is the parcel's: a second firm leasing the building would count the
    # same 亩 again in 亩均, so it is refused, for the whole building and for one of its spaces
    whole = post_lease(client, admin, park_id, enterprise_id=tenant, building_id=building, **DATES)
    assert whole.status_code == 409, whole.text
    assert whole.json()["conflicting_lease_id"] == land.json()["id"]
    assert f"parcel {parcel}" in whole.json()["detail"]
    part = post_lease(client, admin, park_id, enterprise_id=tenant, space_id=space, **DATES)
    assert part.status_code == 409 and part.json()["conflicting_lease_id"] == land.json()["id"]
    # after the land lease ends, or on another building, leases are fine
    later = post_lease(
        client, admin, park_id, enterprise_id=tenant, space_id=space,
        start_date="2027-01-01", end_date="2027-06-30",
    )  # fmt: skip
    assert later.status_code == 201, later.text
    other = post_lease(client, admin, park_id, enterprise_id=tenant, building_id=elsewhere, **DATES)
    assert other.status_code == 201, other.text


def test_a_building_lease_refuses_a_later_parcel_lease(
    client: TestClient, admin: dict[str, str], park_id: str, database_url: str
) -> None:
    parcel = make_parcel(database_url, park_id)
    _, (space,) = make_building(database_url, park_id, [(100.0, "available")], parcel_id=parcel)
    firm = make_enterprise(client, admin, park_id)
    held = post_lease(client, admin, park_id, enterprise_id=firm, space_id=space, **DATES)
    assert held.status_code == 201, held.text
    land = post_lease(client, admin, park_id, enterprise_id=firm, parcel_id=parcel, **DATES)
    assert land.status_code == 409, land.text
    assert land.json()["conflicting_lease_id"] == held.json()["id"]
    assert f"space {space}" in land.json()["detail"]


def test_certificate_area_and_land_use_figures(
    client: TestClient, admin: dict[str, str], park_id: str, database_url: str
) -> None:
    parcel = make_parcel(database_url, park_id, area_m2=10_400.0)  # surveyed polygon
    make_building(database_url, park_id, footprint_m2=1_000.0, floors=3, parcel_id=parcel)
    make_building(database_url, park_id, footprint_m2=1_500.0, floors=2, parcel_id=parcel)
    url = f"/api/v1/parks/{park_id}/parcels/{parcel}"
    before = client.get(url, headers=admin).json()["land"]
    assert (before["area_basis"], before["area_m2"]) == ("geodesic", 10_400.0)
    registered = {
        "certificate_area_m2": 10_000.05,  # 15 亩 x 666.67 m²
        "certificate_no": "苏(2024)苏州工业园区不动产权第0001234号",
        "tenure": "transferred",
        "tenure_start": "2024-01-01",
        "tenure_end": "2073-12-31",  # 50 years, the longest term for industrial land (出让)
        "investment_10k_yuan": "4500.00",
    }
    changed = client.patch(url, json=registered, headers=admin)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["tenure"] == "transferred" and body["investment_10k_yuan"] == 4500.0
    land = body["land"]
    # by hand, on the certificate's 10,000.05 m² (GB/T 50280-98 for 容积率 and 建筑密度;
    # 自然资发〔2023〕72号 for 投资强度 in 万元/公顷):
    #   floor area = 1,000 x 3 + 1,500 x 2 = 6,000 m²; footprints = 2,500 m²
    #   容积率 = 6,000 / 10,000.05 = 0.59999... -> 0.6000
    #   建筑密度 = 2,500 / 10,000.05 = 0.24999... -> 0.2500
    #   投资强度 = 4,500 万元 / 1.000005 ha = 4,499.9775 万元/公顷; / 15 亩 = 300.0 万元/亩
    assert land["area_basis"] == "certificate" and land["area_mu"] == 15.0
    assert (land["buildings"], land["floor_area_m2"], land["footprint_m2"]) == (2, 6000.0, 2500.0)
    assert land["floor_area_ratio"] == 0.6 and land["building_density"] == 0.25
    assert land["investment_intensity_10k_yuan_per_ha"] == 4499.9775
    assert land["investment_intensity_10k_yuan_per_mu"] == 300.0
    assert any("GB/T 50280-98" in s for s in land["sources"])
    backwards = client.patch(url, json={"tenure_end": "2023-12-31"}, headers=admin)
    assert backwards.status_code == 422 and backwards.json()["field"] == "tenure_end"
    unknown = client.patch(url, json={"tenure": "owned"}, headers=admin)
    assert unknown.status_code == 422


def test_rent_collection_prorates_partial_months_and_counts_late_payments(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    park_id: str,
    database_url: str,
) -> None:
    building, (s1, s2) = make_building(
        database_url, park_id, [(100.0, "available"), (50.0, "available")]
    )
    parcel = make_parcel(database_url, park_id)
    a = make_enterprise(client, admin, park_id)
    b = make_enterprise(client, admin, park_id, code=CODES[1])
    first = post_lease(
        client, admin, park_id, enterprise_id=a, space_id=s1, rent_yuan="3000.00",
        start_date="2026-01-01", end_date="2026-12-31",
    )  # fmt: skip
    second = post_lease(
        client, admin, park_id, enterprise_id=b, space_id=s2, rent_yuan="1800.00",
        start_date="2026-02-16", end_date="2026-12-31",
    )  # fmt: skip
    ground = post_lease(
        client, admin, park_id, enterprise_id=b, parcel_id=parcel, rent_yuan="10000.00",
        start_date="2026-01-01", end_date="2026-12-31",
    )  # fmt: skip
    assert {first.status_code, second.status_code, ground.status_code} == {201}
    pay = f"/api/v1/parks/{park_id}/leases/{{}}/payments"
    payments = [
        (first, "p1", "2026-01", "3000.00", "2026-01-05"),
        (first, "p2", "2026-02", "3000.00", "2026-03-20"),  # late, still counts for February
        (second, "p3", "2026-02", "500.00", "2026-02-20"),
        (ground, "p4", "2026-01", "10000.00", "2026-01-10"),
        (ground, "p5", "2026-02", "5000.00", "2026-02-10"),
    ]
    for lease, pid, period, amount, paid_on in payments:
        body = {"id": pid, "period": period, "amount_yuan": amount, "paid_on": paid_on}
        answer = client.post(pay.format(lease.json()["id"]), json=body, headers=admin)
        assert answer.status_code == 201, answer.text
    outside = {"id": "p6", "period": "2025-12", "amount_yuan": "1.00", "paid_on": "2025-12-01"}
    refused = client.post(pay.format(second.json()["id"]), json=outside, headers=admin)
    assert refused.status_code == 422 and refused.json()["field"] == "period"
    assert (
        client.post(pay.format(first.json()["id"]), json=outside, headers=viewer).status_code == 403
    )

    url = f"/api/v1/parks/{park_id}/rent/collection"
    got = client.get(url, params={"from": "2026-01", "to": "2026-02"}, headers=viewer)
    assert got.status_code == 200, got.text
    report = got.json()
    # due by hand (收缴率 = paid / due; a partial month by its share of days):
    #   first:  3,000 (Jan) + 3,000 (Feb) = 6,000; paid 6,000 -> 1.0
    #   second: Feb 16..28 is 13 of 28 days: 1,800 x 13 / 28 = 835.714... -> 835.71; paid 500
    #           -> 500 / 835.71 = 0.5983
    #   ground: 10,000 + 10,000 = 20,000; paid 15,000 -> 0.75
    #   park: due 26,835.71, paid 21,500 -> 0.8012; outstanding 5,335.71
    leases = {row["lease_id"]: row for row in report["leases"]}
    assert leases[first.json()["id"]]["due_yuan"] == "6000.00"
    assert leases[second.json()["id"]]["due_yuan"] == "835.71"
    assert leases[second.json()["id"]]["collection_rate"] == 0.5983
    assert leases[ground.json()["id"]]["collection_rate"] == 0.75
    assert (report["due_yuan"], report["paid_yuan"]) == ("26835.71", "21500.00")
    assert report["outstanding_yuan"] == "5335.71"
    assert report["collection_rate"] == 0.8012
    assert (report["from"], report["to"]) == ("2026-01", "2026-02")
    (per_building,) = report["buildings"]
    assert per_building["id"] == building and per_building["due_yuan"] == "6835.71"
    assert per_building["paid_yuan"] == "6500.00" and per_building["collection_rate"] == 0.9509
    (per_parcel,) = report["parcels"]
    assert (per_parcel["id"], per_parcel["collection_rate"]) == (parcel, 0.75)

    listed = client.get(pay.format(first.json()["id"]), headers=viewer).json()["items"]
    assert [p["id"] for p in listed] == ["p1", "p2"]
    gone = client.delete(pay.format(first.json()["id"]) + "/p2", headers=admin)
    assert gone.status_code == 204
    after = client.get(url, params={"from": "2026-02", "to": "2026-02"}, headers=viewer).json()
    assert after["paid_yuan"] == "5500.00"  # 500 + 5,000 left for February
    too_long = client.get(url, params={"from": "2016-01", "to": "2026-02"}, headers=viewer)
    assert too_long.status_code == 422
