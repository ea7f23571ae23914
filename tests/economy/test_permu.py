"""亩均效益评价 for a hand-computed set of ten firms: eight 规上 (one without emission data, one
younger than two years, one on a share of a parcel through a space lease) and two small ones.

The park's own 2026 benchmarks (round numbers, so the points can be checked by hand):
规上: tax/亩 10 (weight 30), value added/亩 100 (20), value added/tce 2 (20, missing: average),
value added/t emissions 1000 (10, missing: average), value added/person 20 (10), R&D/revenue
0.05 (10, missing: 0). Small: tax/亩 10 (50), tax yuan/kWh 1 (50). Grades: the default
cut-offs (A 20%, B 60%, C 95%, D the rest).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.economy.support import make_enterprise, put_report

SQUARE = {"type": "Polygon", "coordinates": [[[120, 31], [120.001, 31], [120.001, 31.001],
                                              [120, 31.001], [120, 31]]]}  # fmt: skip
MU = 666.67

# firm: (tax, value added, revenue, employees, R&D, energy tce, emissions t)
ABOVE = {
    "F1": (200, 1000, 2000, 50, 100, 500, 1),
    "F2": (100, 500, 2000, 50, 50, 500, 1),
    "F3": (150, 1000, 4000, 100, 0, 250, None),
    "F4": (50, 200, 2000, 20, 20, 200, 0.5),
    "F5": (300, 2000, 5000, 100, 200, 400, 4),
    "F6": (300, 2000, 5000, 100, 200, 400, 4),  # founded 2025: not evaluated
    "F7": (50, 250, 2000, 25, 40, 125, 0.25),  # 5 亩 through a space lease
    "F8": (20, 100, 2500, 10, 0, 100, 1),
}
SMALL = {"F9": (20, 500, 100_000), "F10": (10, 300, 200_000)}  # tax, revenue, kWh

BENCHMARKS = [
    ("above_scale", "tax_per_mu", 10, 30, "not_evaluated"),
    ("above_scale", "value_added_per_mu", 100, 20, "not_evaluated"),
    ("above_scale", "value_added_per_energy", 2, 20, "average"),
    ("above_scale", "value_added_per_emission", 1000, 10, "average"),
    ("above_scale", "labour_productivity", 20, 10, "not_evaluated"),
    ("above_scale", "rd_ratio", 0.05, 10, "zero"),
    ("small", "tax_per_mu", 10, 50, "not_evaluated"),
    ("small", "tax_per_kwh", 1, 50, "not_evaluated"),
]

# By hand (points per indicator in the order above):
# F1 60+20+20+10+10+10 = 130      F2 30+10+10+5+5+5 = 65        F4 15+4+10+4+5+2 = 40
# F5 90+40+50+5+10+8 = 203        F7 30+10+20+10+5+4 = 79       F8 6+2+10+1+5+0 = 24
# F3 has no emission data: the mean emission points of the others, (10+5+4+5+10+1)/6 = 35/6;
# F3 45+20+40+35/6+5+0 = 110 + 35/6.
# Ranks of seven: F5, F1, F3, F7, F2, F4, F8; share ranked ahead 0, 1/7 (< 20 %: A);
# 2/7, 3/7, 4/7 (< 60 %: B); 5/7, 6/7 (< 95 %: C). Nobody is 95 % down a class of seven: no D.
# Small: F9 (2/1 x 50 = 10) + (2 yuan/kWh: 100) = 110; F10 5 + 25 = 30: 0/2 A, 1/2 B.
EXPECTED = {
    "F5": (203, 1, "A"),
    "F1": (130, 2, "A"),
    "F3": (110 + 35 / 6, 3, "B"),
    "F7": (79, 4, "B"),
    "F2": (65, 5, "B"),
    "F4": (40, 6, "C"),
    "F8": (24, 7, "C"),
    "F9": (110, 1, "A"),
    "F10": (30, 2, "B"),
}


def _land(conn: psycopg.Connection, park_id: str, firm: str, ent: str) -> None:
    parcel = f"pc-{uuid.uuid4().hex[:8]}"
    area = 20 * MU if firm == "F7" else 10 * MU
    conn.execute(
        "INSERT INTO parcel (park_id, id, name, geometry, area_m2) VALUES (%s, %s, 'p', %s, %s)",
        (park_id, parcel, json.dumps(SQUARE), area),
    )
    lease = {"parcel_id": parcel, "space_id": None, "area_m2": area}
    if firm == "F7":  # 500 m² of a building with 2 x 1,000 m² floors on a 20 亩 parcel: 5 亩
        building, space = f"b-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
        conn.execute(
            "INSERT INTO building (park_id, id, name, parcel_id, footprint, floors, area_m2) "
            "VALUES (%s, %s, 'b', %s, %s, 2, 1000)",
            (park_id, building, parcel, json.dumps(SQUARE)),
        )
        for number in (1, 2):
            conn.execute(
                "INSERT INTO floor (park_id, building_id, number, area_m2) "
                "VALUES (%s, %s, %s, 1000)",
                (park_id, building, number),
            )
        conn.execute(
            "INSERT INTO space (park_id, id, building_id, floor, name, area_m2) "
            "VALUES (%s, %s, %s, 1, 's', 500)",
            (park_id, space, building),
        )
        lease = {"parcel_id": None, "space_id": space, "area_m2": 500}
    conn.execute(
        "INSERT INTO lease (park_id, id, enterprise_id, parcel_id, space_id, area_m2, start_date, "
        "end_date) VALUES (%s, %s, %s, %s, %s, %s, '2025-01-01', '2027-12-31')",
        (park_id, f"l-{uuid.uuid4().hex[:8]}", ent, lease["parcel_id"], lease["space_id"],
         lease["area_m2"]),
    )  # fmt: skip


def _meter(
    client: TestClient, admin: dict[str, str], database_url: str, park_id: str, ent: str, kwh: float
) -> None:
    device = create_device(client, admin, park_id, enterprise_id=ent)
    tz = ZoneInfo("Asia/Shanghai")
    sid = series_id(database_url, park_id, str(device["id"]), "energy_kwh")
    # in June, the month the small firms report: the same months on both sides of tax / kWh
    write_readings(database_url, sid, [
        (datetime(2026, 6, 1, tzinfo=tz), 0.0), (datetime(2026, 6, 30, 12, tzinfo=tz), kwh),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def world(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, str]:
    park = create_park(client, admin)
    ids: dict[str, str] = {}
    with psycopg.connect(database_url) as conn:
        for cls, indicator, benchmark, weight, missing in BENCHMARKS:
            conn.execute(
                "INSERT INTO economy_benchmark (park_id, year, region, firm_class, indicator, "
                "benchmark, weight, when_missing) VALUES (%s, 2026, 'test', %s, %s, %s, %s, %s)",
                (park.id, cls, indicator, benchmark, weight, missing),
            )
    for firm in [*ABOVE, *SMALL]:
        founded = "2025-06-01" if firm == "F6" else "2010-01-01"
        ids[firm] = make_enterprise(database_url, park.id, founded_on=founded,
                                    enterprise_id=f"{firm}-{uuid.uuid4().hex[:6]}")  # fmt: skip
        with psycopg.connect(database_url) as conn:
            _land(conn, park.id, firm, ids[firm])
    for firm, (tax, va, revenue, employees, rd, energy, emissions) in ABOVE.items():
        put_report(client, admin, park.id, ids[firm], "2026-06", tax=tax, value_added=va,
                   revenue=revenue, employees=employees, rd_spend=rd, energy_tce=energy,
                   emissions=emissions)  # fmt: skip
    for firm, (tax, revenue, kwh) in SMALL.items():
        put_report(client, admin, park.id, ids[firm], "2026-06", tax=tax, revenue=revenue)
        _meter(client, admin, database_url, park.id, ids[firm], kwh)
    ids["park"] = park.id
    return ids


def test_scores_and_grades_by_hand(
    client: TestClient, viewer: dict[str, str], world: dict[str, str]
) -> None:
    response = client.get(f"/api/v1/parks/{world['park']}/economy/per-mu?year=2026", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["year"] == 2026 and body["benchmark_year"] == 2026
    assert body["cutoffs"] == {"A": 0.2, "B": 0.6, "C": 0.95, "D": 1.0}
    items = {i["enterprise_id"].split("-")[0]: i for i in body["items"]}
    for firm, (score, rank, grade) in EXPECTED.items():
        item = items[firm]
        assert item["score"] == pytest.approx(score), firm
        assert (item["rank"], item["grade"]) == (rank, grade), firm
    assert items["F9"]["firm_class"] == "small" and items["F1"]["firm_class"] == "above_scale"
    young = items["F6"]
    assert young["grade"] == "T" and young["score"] is None and "younger than 2" in young["reason"]
    assert items["F7"]["land_mu"] == pytest.approx(5) and items["F1"]["land_mu"] == pytest.approx(
        10
    )
    emission = items["F3"]["indicators"]["value_added_per_emission"]
    assert emission["value"] is None and emission["points"] == pytest.approx(35 / 6)
    assert emission["rule"] == "missing: average points"
    tax = items["F1"]["indicators"]["tax_per_mu"]
    assert tax == {"value": pytest.approx(20), "unit": None, "benchmark": 10, "weight": 30,
                   "points": pytest.approx(60), "rule": None, "months": ["2026-06"],
                   "source": None}  # fmt: skip
    assert items["F10"]["indicators"]["tax_per_kwh"]["value"] == pytest.approx(0.5)


def test_defaults_are_the_huangyan_benchmarks(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    e = make_enterprise(database_url, park.id)
    put_report(client, admin, park.id, e, "2026-01", revenue=3000)
    body = client.get(f"/api/v1/parks/{park.id}/economy/per-mu?year=2026", headers=viewer).json()
    assert body["benchmark_year"] == 2022 and body["region"] == "Huangyan, Taizhou"
    (item,) = body["items"]
    assert item["enterprise_id"] == e and item["grade"] == "T"
    assert item["firm_class"] == "above_scale" and item["reason"].startswith("no land held")
    nothing = client.get(f"/api/v1/parks/{park.id}/economy/per-mu?year=2025", headers=viewer)
    assert nothing.json()["items"][0]["reason"] == "no monthly report in 2025"
    weights = {k: (v["benchmark"], v["weight"]) for k, v in item["indicators"].items()}
    assert (
        weights
        == {
            "tax_per_mu": (24.097, 30),
            "value_added_per_mu": (136.16, 20),
            "value_added_per_energy": (2.694, 20),
            "value_added_per_emission": (4929.81, 10),
            "labour_productivity": (18.14, 10),
            "rd_ratio": (0.0302, 10),
        }
        or item["firm_class"] == "small"
    )


def test_export(client: TestClient, viewer: dict[str, str], world: dict[str, str]) -> None:
    url = f"/api/v1/parks/{world['park']}/economy/per-mu?year=2026&format=xlsx"
    response = client.get(url, headers=viewer)
    assert response.status_code == 200
    assert "economy-per-mu-2026.xlsx" in response.headers["content-disposition"]


def test_land_from_leases(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """A parcel lease for half the year counts half its land; a building lease a share of the
    parcel by floor area (footprint x floors when no floor areas are recorded)."""
    park = create_park(client, admin)
    half, share = make_enterprise(database_url, park.id), make_enterprise(database_url, park.id)
    with psycopg.connect(database_url) as conn:
        for parcel, area in (("pa", 10 * MU), ("pb", 30 * MU)):
            conn.execute(
                "INSERT INTO parcel (park_id, id, name, geometry, area_m2) "
                "VALUES (%s, %s, 'p', %s, %s)",
                (park.id, parcel, json.dumps(SQUARE), area),
            )
        for building, footprint, floors in (("b1", 1000, 2), ("b2", 1000, 1)):
            conn.execute(
                "INSERT INTO building (park_id, id, name, parcel_id, footprint, floors, area_m2) "
                "VALUES (%s, %s, 'b', 'pb', %s, %s, %s)",
                (park.id, building, json.dumps(SQUARE), floors, footprint),
            )
        conn.execute(
            "INSERT INTO lease (park_id, id, enterprise_id, parcel_id, area_m2, start_date, "
            "end_date) VALUES (%s, 'l1', %s, 'pa', 1, '2026-01-01', '2026-06-30')",
            (park.id, half),
        )
        conn.execute(
            "INSERT INTO lease (park_id, id, enterprise_id, building_id, area_m2, start_date, "
            "end_date) VALUES (%s, 'l2', %s, 'b1', 2000, '2020-01-01', '2030-12-31')",
            (park.id, share),
        )
    body = client.get(f"/api/v1/parks/{park.id}/economy/per-mu?year=2026", headers=viewer).json()
    land = {i["enterprise_id"]: i["land_mu"] for i in body["items"]}
    assert land[half] == pytest.approx(10 * 181 / 365)
    assert land[share] == pytest.approx(30 * 2000 / 3000)
    early = client.get(f"/api/v1/parks/{park.id}/economy/per-mu?year=2005", headers=viewer)
    assert early.status_code == 200  # before the first 规上 threshold version: the first one
