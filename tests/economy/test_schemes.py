"""亩均 schemes as data: the seeded Zhejiang-style (浙政发〔2018〕5号) and Jiangsu-style
(苏政发〔2017〕143号, 淮安 2024: 亩均税收 45, 亩均销售收入 35, 单位能耗税收 20) schemes, caps on
single items, 加分 and 一票否决, the scope (industrial firms; 规下 from 3 亩), and the admin
endpoints."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_park
from tests.economy.support import make_enterprise, put_report

SQUARE = {"type": "Polygon", "coordinates": [[[120, 31], [120.001, 31], [120.001, 31.001],
                                              [120, 31.001], [120, 31]]]}  # fmt: skip
MU = 666.67

# firm: (亩, tax, revenue, energy tce, industry code), all reported for 2026-06 only.
FIRMS = {
    "J1": (10, 400, 8000, 100, "C3484"),
    "J2": (10, 900, 4000, 100, "C3484"),
    "J3": (10, 100, 2000, 100, "C3484"),  # a serious safety accident: 一票否决
    "J4": (2, 10, 100, 10, "C3484"),  # 规下 on 2 亩: outside the scope (3 亩)
    "J5": (10, 300, 3000, 100, "I6510"),  # software: outside the scope (industry only)
    "J6": (10, 300, 8000, 100, "C3484"),  # 科技创新: +3
}
# Jiangsu seeded scheme (benchmarks: tax/亩 30, revenue/亩 800, tax/tce 2; caps 2 x weight):
# J1: 40/30 x 45 = 60;  800/800 x 35 = 35;   4/2 x 20 = 40          -> 135
# J2: 90/30 x 45 = 135 -> cap 90; 400/800 x 35 = 17.5; 9/2 x 20 = 90 -> cap 40 -> 147.5
# J3: 10/30 x 45 = 15;  200/800 x 35 = 8.75; 1/2 x 20 = 10          -> 33.75, then D (veto)
# J6: 30/30 x 45 = 45;  800/800 x 35 = 35;   3/2 x 20 = 30; +3      -> 113
# Order J2, J1, J6, J3; share ahead 0, 1/4, 2/4, 3/4: A, B, B, C -> J3 D by the veto.
EXPECTED = {"J2": (147.5, "A"), "J1": (135, "B"), "J6": (113, "B"), "J3": (33.75, "D")}


@pytest.fixture(scope="module")
def world(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, str]:
    park = create_park(client, admin).id
    ids = {"park": park}
    for firm, (mu, tax, revenue, tce, code) in FIRMS.items():
        e = make_enterprise(database_url, park, industry_code=code,
                            enterprise_id=f"{firm}-{uuid.uuid4().hex[:6]}")  # fmt: skip
        ids[firm] = e
        with psycopg.connect(database_url) as conn:
            conn.execute("INSERT INTO parcel (park_id, id, name, geometry, area_m2) "
                         "VALUES (%s, %s, 'p', %s, %s)",
                         (park, f"p{firm}", json.dumps(SQUARE), mu * MU))  # fmt: skip
            conn.execute("INSERT INTO lease (park_id, id, enterprise_id, parcel_id, area_m2, "
                         "start_date, end_date) VALUES (%s, %s, %s, %s, 1, '2020-01-01', "
                         "'2030-12-31')", (park, f"l{firm}", e, f"p{firm}"))  # fmt: skip
        put_report(client, admin, park, e, "2026-06", tax=tax, revenue=revenue, energy_tce=tce)
    for firm, item in (("J3", "serious_safety_accident"), ("J6", "innovation")):
        url = f"/api/v1/parks/{park}/economy/per-mu/events/{ids[firm]}"
        body = {"year": 2026, "items": [{"item": item, "note": "test"}]}
        r = client.put(url, json=body, headers=admin)
        assert r.status_code == 200, r.text
    return ids


def _items(client: TestClient, viewer: dict[str, str], park: str, scheme: str) -> Any:
    url = f"/api/v1/parks/{park}/economy/per-mu?year=2026&scheme={scheme}"
    response = client.get(url, headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    return body, {i["enterprise_id"].split("-")[0]: i for i in body["items"]}


def test_jiangsu_scheme_by_hand(
    client: TestClient, viewer: dict[str, str], world: dict[str, str]
) -> None:
    body, items = _items(client, viewer, world["park"], "jiangsu")
    assert body["scheme"]["code"] == "jiangsu" and body["scheme"]["year"] == 2024
    assert any("苏政发〔2017〕143号" in s for s in body["scheme"]["sources"])
    for firm, (score, grade) in EXPECTED.items():
        assert items[firm]["score"] == pytest.approx(score), firm
        assert items[firm]["grade"] == grade, firm
    assert items["J2"]["indicators"]["tax_per_mu"]["points"] == pytest.approx(90)
    assert items["J2"]["indicators"]["tax_per_mu"]["rule"] == "capped at 2 x weight"
    assert items["J3"]["veto"].startswith("serious_safety_accident")
    assert items["J6"]["adjustments"][0]["points"] == 3
    assert items["J4"]["grade"] == "T" and "3 亩" in items["J4"]["reason"]
    assert items["J5"]["grade"] == "T" and "section I" in items["J5"]["reason"]


def test_zhejiang_scheme_is_seeded_with_its_sources(
    client: TestClient, viewer: dict[str, str], world: dict[str, str]
) -> None:
    park = world["park"]
    listed = client.get(f"/api/v1/parks/{park}/economy/schemes?year=2026", headers=viewer)
    codes = {s["code"]: s for s in listed.json()}
    assert set(codes) >= {"zhejiang", "jiangsu"}
    zj = codes["zhejiang"]["definition"]
    assert any("浙政发〔2018〕5号" in s for s in zj["sources"]) and zj["verify"]
    weights = [i["weight"] for i in zj["classes"]["above_scale"]]
    assert weights == [30, 20, 20, 10, 10, 10]
    _, items = _items(client, viewer, park, "zhejiang")
    assert items["J3"]["grade"] == "D" and items["J5"]["grade"] == "T"


def test_a_parks_own_version_and_validation(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park = create_park(client, admin).id
    base = f"/api/v1/parks/{park}/economy/schemes"

    def one(year: int) -> Any:
        (found,) = client.get(f"{base}?year={year}&code=jiangsu", headers=viewer).json()
        return found

    definition = one(2026)["definition"]
    definition["classes"]["above_scale"][0]["weight"] = 50
    put = {"code": "jiangsu", "year": 2026, "definition": definition}
    assert client.put(base, json=put, headers=viewer).status_code == 403
    done = client.put(base, json=put, headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["park_id"] == park and done.json()["year"] == 2026
    assert one(2027)["definition"]["classes"]["above_scale"][0]["weight"] == 50
    assert one(2025)["park_id"] is None  # 2025 still uses the seeded 2024 version
    bad = {**definition, "cutoffs": [*definition["cutoffs"][:3], {"grade": "A", "upper_pct": 1}]}
    refused = client.put(base, json={**put, "definition": bad}, headers=admin)
    assert refused.status_code == 422
    unknown = {**definition, "extra": 1}
    assert client.put(base, json={**put, "definition": unknown}, headers=admin).status_code == 422
    missing = client.get(f"/api/v1/parks/{park}/economy/per-mu?year=2026&scheme=nowhere",
                         headers=viewer)  # fmt: skip
    assert missing.status_code == 404
    nobody = client.put(f"/api/v1/parks/{park}/economy/per-mu/events/nobody",
                        json={"year": 2026, "items": []}, headers=admin)  # fmt: skip
    assert nobody.status_code == 404


def test_the_calendar_is_data(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    """2026 from the State Council notice of 2025-11-04: 2月14日 (Saturday) and 2月28日 are
    make-up working days; 春节 2月15日-23日 holidays. A park adds its own day."""
    park = create_park(client, admin).id
    url = f"/api/v1/parks/{park}/economy/calendar"
    days = {d["day"]: d for d in client.get(f"{url}?year=2026", headers=viewer).json()}
    assert days["2026-02-14"]["kind"] == "workday" and days["2026-02-28"]["kind"] == "workday"
    assert all(days[f"2026-02-{d}"]["kind"] == "holiday" for d in range(15, 24))
    assert "2025-11-04" in days["2026-02-15"]["source"]
    own = {"day": "2026-07-01", "kind": "holiday", "name": "园区检修日", "source": "park notice"}
    assert client.put(url, json=own, headers=admin).status_code == 200
    days = {d["day"]: d for d in client.get(f"{url}?year=2026", headers=viewer).json()}
    assert days["2026-07-01"]["park_id"] == park
    assert len([d for d in days.values() if d["kind"] == "workday"]) == 6


def test_the_parks_default_scheme_is_a_parameter(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park = create_park(client, admin).id
    base = f"/api/v1/parks/{park}/economy"
    chosen = {"name": "permu_scheme", "valid_from": "2026-01-01", "value": "jiangsu"}
    assert client.post(f"{base}/parameters", json=chosen, headers=admin).status_code == 201
    bad = {**chosen, "valid_from": "2026-02-01", "value": "Not A Code"}
    assert client.post(f"{base}/parameters", json=bad, headers=admin).status_code == 422
    body = client.get(f"{base}/per-mu?year=2026", headers=viewer).json()
    assert body["scheme"]["code"] == "jiangsu"
    before = client.get(f"{base}/per-mu?year=2025", headers=viewer).json()
    assert before["scheme"] is None and before["region"] == "Huangyan, Taizhou"
