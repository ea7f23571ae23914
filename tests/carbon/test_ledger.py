"""Energy and emissions against a hand-computed month, factor versions by date, 绿证 used
once, the annual report in three formats."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.carbon.ledger import outside
from app.core.config import Settings
from tests.api.conftest import create_park
from tests.assets.support import make_enterprise
from tests.carbon.support import build_rollups, grid_factor, meter

KG = 0.0005  # tonnes: equal to the kilogram


def carbon(client: TestClient, headers: dict[str, str], park_id: str, path: str, **q: Any) -> Any:
    response = client.get(f"/api/v1/parks/{park_id}/carbon/{path}", params=q, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def month(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, str]:
    """May 2026 of one enterprise (Shanghai time), computed by hand:

    grid meter: 1000 (30 Apr) → 1100 → 5000, reset → 200 → 700: 100 + 3900 + 200 + 500 = 4700 kWh
    PV inverter 10000 → 10800 (10 May) → 12000 (31 May): 2000 kWh generated
    PV export meter 0 → 500 (31 May): 500 kWh exported, so 1500 kWh self-consumed
    gas meter 100 → 1100: 1000 m³; diesel entered by hand: 200 kg; 2 绿证 of vintage May
    2026: 2000 kWh; 1 June adds 200 grid kWh (900 − 700), so the year's grid kWh are 4900
    """
    park = create_park(client, admin)
    enterprise = make_enterprise(client, admin, park.id)
    base: dict[str, Any] = {"enterprise_id": enterprise}
    grid = [
        ("2026-04-30 23:00", 1000),
        ("2026-05-01 00:30", 1100),
        ("2026-05-15 12:00", 5000),
        ("2026-05-20 08:00", 200),
        ("2026-05-31 23:30", 700),
        ("2026-06-01 00:30", 900),
    ]
    meter(client, admin, database_url, park.id, grid, **base)
    pv = [("2026-04-30 20:00", 10000), ("2026-05-10 12:00", 10800), ("2026-05-31 18:00", 12000)]
    meter(client, admin, database_url, park.id, pv, "pv_inverter", **base)
    export = [("2026-04-30 20:00", 0), ("2026-05-31 18:00", 500)]
    meter(
        client,
        admin,
        database_url,
        park.id,
        export,
        attributes={"carbon_carrier": "pv_export"},
        **base,
    )
    gas = [("2026-04-30 20:00", 100), ("2026-05-31 20:00", 1100)]
    meter(client, admin, database_url, park.id, gas, "gas_meter", **base)
    url = f"/api/v1/parks/{park.id}/carbon"
    entry = {"carrier": "diesel", "day": "2026-05-12", "quantity": 200, **base}
    assert client.post(f"{url}/manual-entries", json=entry, headers=admin).status_code == 201
    certificates = [f"GEC-{uuid.uuid4().hex}" for _ in range(2)]
    green = {"kind": "certificate", "month": "2026-05-01", "certificate_ids": certificates, **base}
    assert client.post(f"{url}/green-power", json=green, headers=admin).status_code == 201
    return {"park": park.id, "enterprise": enterprise}


# Natural gas: one NCV for tce and CO₂, 核算指南 389.31 GJ/10⁴Nm³ = 38.931 MJ/m³, so
# 38.931 / 29.307 = 1.3284 kgce/m³ (GB/T 2589-2020: 1 kgce = 29 307 kJ) and 2.1622 kgCO₂/m³.
# 绿证 are matched over the year (vintage 2026): 2 certificates (2000 kWh) fit in the year's
# 4900 grid kWh, both used; spread pro rata, May's 4700 kWh are covered 4700 x 2000 / 4900
# = 1918.367 kWh.
MAY_GREEN = 4700 * 2000 / 4900
EXPECTED = {
    # kgce: 4700 x 0.1229 + 1500 x 0.1229 + 1000 x 1.3284 + 200 x 1.4571 = 2381.80
    "tce_equivalent": 2.38180,
    # kgce: 4700 x 0.30 + 1500 x 0.1229 + 1000 x 1.3284 + 200 x 1.4571 = 3214.17
    "tce_equal_value": 3.21417,
    "scope1_t": 2.78138,  # 1000 x 2.1622 + 200 x 3.0959 = 2781.38 kg
    "scope2_location_t": 2.49382,  # 4700 x 0.5306 (national 2023, in force in 2026)
    "scope2_market_t": 1.69568,  # (4700 − 1918.367) x 0.6096 = 1695.68 kg
}


def _check(row: dict[str, Any]) -> None:
    for name, value in EXPECTED.items():
        assert row[name] == pytest.approx(value, abs=KG), name
    quantities = {c["carrier"]: c["quantity"] for c in row["carriers"]}
    assert quantities == pytest.approx(
        {
            "electricity_grid": 4700,
            "pv_self": 1500,
            "pv_export": 500,
            "natural_gas": 1000,
            "diesel": 200,
        }
    )
    # 单位能耗碳排放 (tCO₂/tce 等价值), location: (2.78138 + 2.49382) / 3.21417 = 1.64123;
    # market: (2.78138 + 1.69568) / 3.21417 = 1.39291
    assert row["co2_per_tce"] == pytest.approx((2.78138 + 2.49382) / 3.21417, rel=1e-5)
    assert row["co2_per_tce_location"] == row["co2_per_tce"]
    assert row["co2_per_tce_market"] == pytest.approx((2.78138 + 1.69568) / 3.21417, rel=1e-5)
    assert row["value_added"] is None and row["tce_per_value_added"] is None
    # clean (当量值): self-consumed PV 1500 x 0.1229 = 184.35 kgce on both bases; market adds
    # the green share of the grid 1918.367 x 0.1229 = 235.767 kgce
    assert row["clean_energy_share_location"] == pytest.approx(184.35 / 2381.80, abs=1e-6)
    market = (184.35 + MAY_GREEN * 0.1229) / 2381.80
    assert row["clean_energy_share_market"] == pytest.approx(market, abs=1e-6)
    assert row["clean_energy_share"] == row["clean_energy_share_market"]
    assert row["green_kwh"] == pytest.approx(MAY_GREEN)
    # without renewables (PV and green power), 当量值: 2381.80 − 184.35 − 235.767 = 1961.683
    assert row["tce_equivalent_excl_renewables"] == pytest.approx(1.961683, abs=1e-6)


@pytest.mark.parametrize("group_by", ["enterprise", "park"])
def test_a_hand_computed_month(
    client: TestClient,
    viewer: dict[str, str],
    month: dict[str, str],
    settings: Settings,
    group_by: str,
) -> None:
    q = {"from": "2026-05-01", "to": "2026-05-31", "group_by": group_by}
    before = carbon(client, viewer, month["park"], "emissions", **q)  # days still queued: raw
    build_rollups(settings)
    after = carbon(client, viewer, month["park"], "emissions", **q)  # from the daily rollups
    assert before["rows"] == after["rows"]
    [row] = after["rows"]
    assert row["group"] == month["enterprise" if group_by == "enterprise" else "park"]
    _check(row)
    energy = carbon(client, viewer, month["park"], "energy", **q)
    assert energy["rows"][0]["tce_equal_value"] == pytest.approx(3.21417, abs=KG)


def test_by_carrier_and_by_day(
    client: TestClient, viewer: dict[str, str], month: dict[str, str]
) -> None:
    q = {"from": "2026-05-01", "to": "2026-05-31", "group_by": "carrier"}
    rows = carbon(client, viewer, month["park"], "energy", **q)["rows"]
    by = {r["group"]: r for r in rows}
    assert by["natural_gas"]["tce_equivalent"] == pytest.approx(1.3284, abs=1e-6)
    assert by["pv_self"]["scope2_location_t"] == 0
    days = carbon(
        client,
        viewer,
        month["park"],
        "emissions",
        interval="day",
        **{"from": "2026-05-01", "to": "2026-05-31"},
    )["rows"]
    assert sum(r["scope2_location_t"] for r in days) == pytest.approx(2.49382, abs=KG)
    assert sum(r["scope2_market_t"] for r in days) == pytest.approx(1.69568, abs=KG)
    may15 = next(r for r in days if r["period"] == "2026-05-15")
    assert may15["carriers"][0]["quantity"] == pytest.approx(3900)


def test_a_certificate_used_twice_is_refused(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], month: dict[str, str]
) -> None:
    url = f"/api/v1/parks/{month['park']}/carbon/green-power"
    first, again = f"GEC-{uuid.uuid4().hex}", f"GEC-{uuid.uuid4().hex}"
    body = {"kind": "certificate", "month": "2026-06-01", "certificate_ids": [first]}
    assert client.post(url, json=body, headers=admin).status_code == 201
    twice = client.post(url, json={**body, "certificate_ids": [again, first]}, headers=admin)
    assert twice.status_code == 409, twice.text
    assert twice.json()["certificates"] == [first]
    other = create_park(client, admin)
    elsewhere = client.post(
        f"/api/v1/parks/{other.id}/carbon/green-power", json=body, headers=admin
    )
    assert elsewhere.status_code == 409  # a certificate counts once, in any park
    stored = client.get(url, params={"limit": 1000}, headers=viewer).json()["items"]
    ids = {g["certificate_id"] for g in stored}
    assert first in ids and again not in ids  # all or nothing
    assert all(g["kwh"] == 1000 for g in stored)
    dup = {**body, "certificate_ids": [again, again]}
    assert client.post(url, json=dup, headers=admin).status_code == 422


def test_a_factor_change_applies_from_its_date(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin)
    readings = [("2026-06-29 23:00", 0), ("2026-06-30 12:00", 100), ("2026-07-01 12:00", 300)]
    meter(client, admin, database_url, park.id, readings)
    build_rollups(settings)
    factor = grid_factor("2026-07-01", 0.5, "test: a mid-year update")
    url = f"/api/v1/parks/{park.id}/carbon/factors"
    assert client.post(url, json=factor, headers=admin).status_code == 201
    assert client.post(url, json=factor, headers=admin).status_code == 409
    q = {"from": "2026-06-01", "to": "2026-07-31", "interval": "month"}
    plain = carbon(client, viewer, park.id, "emissions", **q)
    rows = plain["rows"]
    assert [r["scope2_location_t"] for r in rows] == pytest.approx([0.05306, 0.1], abs=1e-9)
    # The months and their sum from one ledger (the cockpit's carbon panel): the sum is
    # interval=all's answer, June at the old factor plus July at the new, 0.05306 + 0.1.
    assert "total" not in plain
    both = carbon(client, viewer, park.id, "emissions", **q, total="true")
    assert both["rows"] == rows
    assert (
        both["total"]
        == carbon(client, viewer, park.id, "emissions", **{**q, "interval": "all"})["rows"]
    )
    assert [r["scope2_location_t"] for r in both["total"]] == pytest.approx([0.15306], abs=1e-9)
    tables = carbon(client, viewer, park.id, "factors")
    ours = [f for f in tables["factors"] if f["park_id"] == park.id]
    assert ours[0]["value"] == 0.5 and ours[0]["source"].startswith("test")
    report = carbon(client, viewer, park.id, "report", year=2026)
    used = sorted(a["factor_location"]["value"] for a in report["audit"])
    assert used == [0.5, 0.5306]
    assert report["totals"]["scope2_location_t"] == pytest.approx(0.15306, abs=1e-9)


def test_fuel_factor_from_its_parts(client: TestClient, admin: dict[str, str]) -> None:
    park = create_park(client, admin)
    body = {
        "carrier": "diesel",
        "method": "combustion",
        "valid_from": "2027-01-01",
        "ncv": 0.042652,
        "carbon_content": 20.2,
        "oxidation": 0.98,
        "source": "test",
    }
    response = client.post(f"/api/v1/parks/{park.id}/carbon/factors", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["value"] == pytest.approx(3.0959, abs=5e-5)
    missing = {**body, "oxidation": None}
    bad = client.post(f"/api/v1/parks/{park.id}/carbon/factors", json=missing, headers=admin)
    assert bad.status_code == 422


def test_seeded_fuel_factors_match_their_parts(
    client: TestClient, viewer: dict[str, str], month: dict[str, str]
) -> None:
    tables = carbon(client, viewer, month["park"], "factors")
    fuels = [f for f in tables["factors"] if f["method"] == "combustion"]
    assert {f["carrier"] for f in fuels} >= {"natural_gas", "diesel", "gasoline", "raw_coal"}
    for f in fuels:
        parts = f["ncv"] * f["carbon_content"] * f["oxidation"] * 44 / 12
        assert f["value"] == pytest.approx(parts, rel=2e-4), f["carrier"]
    assert any(c["verify"] for c in tables["coefficients"] if c["carrier"] == "electricity_grid")


def test_the_annual_report(
    client: TestClient, viewer: dict[str, str], month: dict[str, str], settings: Settings
) -> None:
    build_rollups(settings)
    url = f"/api/v1/parks/{month['park']}/carbon/report"
    q = {"year": 2026, "enterprise_id": month["enterprise"]}
    report = client.get(url, params=q, headers=viewer).json()
    june = {  # the year adds 1 June's 200 kWh (900 − 700), with no green power that month
        "tce_equivalent": EXPECTED["tce_equivalent"] + 200 * 0.1229 / 1000,
        "tce_equal_value": EXPECTED["tce_equal_value"] + 200 * 0.30 / 1000,
        "scope1_t": EXPECTED["scope1_t"],
        "scope2_location_t": EXPECTED["scope2_location_t"] + 200 * 0.5306 / 1000,
        # the year's claim: (4900 − 2000) x 0.6096 = 1767.84 kg
        "scope2_market_t": 1.76784,
    }
    for name, value in june.items():
        assert report["totals"][name] == pytest.approx(value, abs=KG), name
    used = [m["period"] for m in report["months"] if m["tce_equivalent"]]
    assert used == ["2026-05-01", "2026-06-01"]  # April: the readings that set the baseline
    for line in report["audit"]:  # recompute every line from the factors it shows
        if line["factor_location"] is not None:
            kg = line["quantity"] * line["factor_location"]["value"]
            assert line["location_t"] * 1000 == pytest.approx(kg, abs=0.5)
        assert line["coefficient_equal_value"]["source"]
    [claim] = report["green_power"]
    assert (claim["grid_kwh"], claim["kwh"], claim["certificates_excess"]) == (4900, 2000, [])
    assert len(claim["certificates"]) == 2
    text = client.get(url, params=q, headers={**viewer, "Accept": "text/csv"})
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text.text)))
    assert rows[1][0] == "carrier" and {r[0] for r in rows[2:7]} >= {"diesel", "natural_gas"}
    page = client.get(url, params=q, headers={**viewer, "Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and "<table>" in page.text
    missing = client.get(url, params={"year": 2026, "enterprise_id": "nobody"}, headers=viewer)
    assert missing.status_code == 404


def test_the_meter_tree_gap_and_sub_meters_count_once(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin)
    enterprise = make_enterprise(client, admin, park.id)
    main = meter(
        client, admin, database_url, park.id, [("2026-03-01 01:00", 0), ("2026-03-02 01:00", 1000)]
    )
    meter(
        client,
        admin,
        database_url,
        park.id,
        [("2026-03-01 01:00", 0), ("2026-03-02 01:00", 700)],
        parent_meter_id=main,
        enterprise_id=enterprise,
    )
    build_rollups(settings)
    q = {"from": "2026-03-01", "to": "2026-03-31"}
    energy = carbon(client, viewer, park.id, "energy", **q)
    [row] = energy["rows"]
    assert row["carriers"][0]["quantity"] == 1000  # the main meter only
    [gap] = energy["meter_gaps"]
    assert (gap["meter_id"], gap["consumption"], gap["children_sum"], gap["unmetered"]) == (
        main,
        1000,
        700,
        300,
    )
    [mine] = carbon(client, viewer, park.id, "energy", group_by="enterprise", **q)["rows"]
    assert (mine["group"], mine["carriers"][0]["quantity"]) == (enterprise, 700)


def test_intensities_from_the_economy_module(
    client: TestClient, viewer: dict[str, str], month: dict[str, str], database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass('economy_report')").fetchone() == (None,):
            pytest.skip("the economy module's table is not there")
        conn.execute(
            "INSERT INTO economy_report (park_id, enterprise_id, month, output_value, "
            "value_added, revenue, tax, employees, rd_spend) "
            "VALUES (%s, %s, '2026-05-01', 100, 50, 100, 5, 10, 1)",
            (month["park"], month["enterprise"]),
        )
    q = {"from": "2026-05-01", "to": "2026-05-31", "group_by": "enterprise"}
    [row] = carbon(client, viewer, month["park"], "emissions", **q)["rows"]
    assert row["value_added"] == 50
    assert row["tce_per_value_added"] == pytest.approx(3.21417 / 50, abs=1e-5)
    assert row["co2_per_value_added"] == pytest.approx((2.78138 + 2.49382) / 50, abs=1e-5)


def test_links_in_bodies_must_be_in_the_park(
    client: TestClient, admin: dict[str, str], month: dict[str, str]
) -> None:
    url = f"/api/v1/parks/{month['park']}/carbon"
    entry = {"carrier": "diesel", "day": "2026-05-12", "quantity": 1, "enterprise_id": "ghost"}
    response = client.post(f"{url}/manual-entries", json=entry, headers=admin)
    assert response.status_code == 422 and response.json()["field"] == "enterprise_id"
    unknown = {**entry, "enterprise_id": None, "carrier": "moonshine"}
    assert client.post(f"{url}/manual-entries", json=unknown, headers=admin).status_code == 422
    budget = {"year": 2026, "metric": "carbon_t", "cap": 1, "enterprise_id": "ghost"}
    assert client.put(f"{url}/budgets", json=budget, headers=admin).status_code == 422


def test_periods_are_bounded(
    client: TestClient, viewer: dict[str, str], month: dict[str, str]
) -> None:
    url = f"/api/v1/parks/{month['park']}/carbon/energy"
    for q in (
        {"from": "9999-12-01", "to": "9999-12-31"},
        {"from": "1000-01-01", "to": "1000-01-02"},
        {"from": "2026-05-02", "to": "2026-05-01"},
    ):
        response = client.get(url, params=q, headers=viewer)
        assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("days", "pieces"),
    [
        ((date(2026, 1, 1), date(2026, 12, 31)), []),  # the annual report: nothing more to read
        ((date(2026, 1, 1), date(2026, 12, 6)), [(date(2026, 12, 7), date(2026, 12, 31))]),
        ((date(2026, 5, 1), date(2026, 5, 31)),  # the hand-computed May above
         [(date(2026, 1, 1), date(2026, 4, 30)), (date(2026, 6, 1), date(2026, 12, 31))]),
        ((date(2028, 3, 1), date(2029, 2, 10)),  # across a year's end, after a 29 February
         [(date(2028, 1, 1), date(2028, 2, 29)), (date(2029, 2, 11), date(2029, 12, 31))]),
    ],
)  # fmt: skip
def test_green_power_matching_reads_only_the_rest_of_the_years(
    days: tuple[date, date], pieces: list[tuple[date, date]]
) -> None:
    """绿证 are matched against the whole year's grid kWh; the ledger's own lines give its
    days and only the rest of the years is read (the May test above checks the sum: 4700 kWh
    of May from the lines and 200 of June read, 4900)."""
    assert outside(days) == pieces


def test_a_month_s_green_share_counts_the_year_s_grid_before_and_after_it(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    """May 2026 asked alone: the year's grid kWh around it are read for the 绿证 match.

    grid meter: 0 (1 March) → 1500 (31 March) → 2500 (31 May): 1500 kWh in March, 1000 in May,
    none after; the year's grid kWh 2500. One 绿证 of vintage May (1000 kWh) fits, spread pro
    rata: May covered 1000 x 1000 / 2500 = 400 kWh, so May's market-based Scope 2 is
    (1000 - 400) x 0.6096 = 365.76 kg; location-based 1000 x 0.5306 = 530.6 kg. Without
    March (the days before the asked ones) the year would be 1000 kWh and May fully covered."""
    park = create_park(client, admin)
    grid = [("2026-03-01 00:30", 0), ("2026-03-31 23:30", 1500), ("2026-05-31 23:30", 2500)]
    meter(client, admin, database_url, park.id, grid)
    green = {"kind": "certificate", "month": "2026-05-01", "certificate_ids": [
        f"GEC-{uuid.uuid4().hex}"]}  # fmt: skip
    url = f"/api/v1/parks/{park.id}/carbon/green-power"
    assert client.post(url, json=green, headers=admin).status_code == 201
    build_rollups(settings)
    may_only = {"from": "2026-05-01", "to": "2026-05-31"}
    [may] = carbon(client, viewer, park.id, "emissions", **may_only)["rows"]
    assert may["green_kwh"] == pytest.approx(400)
    assert may["scope2_market_t"] == pytest.approx(0.36576, abs=KG)
    assert may["scope2_location_t"] == pytest.approx(0.5306, abs=KG)
