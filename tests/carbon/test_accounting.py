"""Grid factors by year and region with their notices, steam by enthalpy, the new carriers,
process emissions, green power matched over the year, and the 零碳园区 block of the report;
each against numbers worked by hand."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.carbon.energy_use import MonthEnergy, tce_by_enterprise_month
from app.core.config import Settings
from app.core.db import create_engine_for
from tests.api.conftest import create_park
from tests.assets.support import make_enterprise
from tests.carbon.support import build_rollups, meter
from tests.carbon.test_ledger import carbon

N21 = "关于发布2021年电力二氧化碳排放因子的公告（公告2024年第12号）"


def _grid(tables: dict[str, Any], method: str, region: str, year: int) -> dict[str, Any]:
    [row] = [f for f in tables["factors"] if f["carrier"] == "electricity_grid"
             and f["method"] == method and f["region"] == region and f["park_id"] is None
             and f["valid_from"] == f"{year}-01-01"]  # fmt: skip
    return row


def test_every_factor_cites_its_notice(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park = create_park(client, admin)
    tables = carbon(client, viewer, park.id, "factors")
    market = _grid(tables, "market", "national", 2021)  # published with the 2021 factors
    assert (market["value"], market["document"], market["issued_on"]) == (
        0.5942, N21, "2024-04-12")  # fmt: skip
    assert market["issuer"] == "生态环境部、国家统计局" and market["data_year"] == 2021
    assert "不包括市场化交易的非化石能源电量" in market["table_ref"]
    east = {y: _grid(tables, "location", "east", y)["value"] for y in (2021, 2022, 2023)}
    assert east == {2021: 0.5992, 2022: 0.5617, 2023: 0.5500}
    assert _grid(tables, "location", "east", 2021)["verify"]  # not in DOMAIN.md: to confirm
    assert _grid(tables, "location", "southwest", 2022)["value"] == 0.2268
    assert _grid(tables, "location", "north", 2022)["issued_on"] == "2024-12-20"
    for row in tables["factors"] + tables["coefficients"]:
        if row["park_id"] is None:
            assert row["document"] and row["table_ref"] is not None, row
    gas_tce = next(c for c in tables["coefficients"] if c["carrier"] == "natural_gas")
    gas_co2 = next(f for f in tables["factors"] if f["carrier"] == "natural_gas")
    # one calorific value: 1.3284 kgce/m³ x 29.307 MJ/kgce = 38.931 MJ/m³ = the factor's NCV
    assert gas_tce["value"] * 29.307 == pytest.approx(gas_co2["ncv"] * 1000, abs=5e-3)
    assert {t["indicator"] for t in tables["targets"]} == {"co2_per_tce", "clean_energy_share"}


def test_the_parks_region_and_year_pick_the_factor(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin)
    url = f"/api/v1/parks/{park.id}/carbon/settings"
    assert client.put(url, json={"grid_region": "atlantis"}, headers=admin).status_code == 422
    assert client.put(url, json={"grid_region": "east"}, headers=admin).status_code == 200
    assert client.get(url, headers=viewer).json() == {"grid_region": "east"}
    # 1000 kWh on 10 June 2021 and 1000 kWh on 10 June 2022
    readings = [("2021-06-09 12:00", 0), ("2021-06-10 12:00", 1000),
                ("2022-06-09 12:00", 1000), ("2022-06-10 12:00", 2000)]  # fmt: skip
    meter(client, admin, database_url, park.id, readings)
    build_rollups(settings)
    q = {"from": "2021-06-10", "to": "2022-06-10", "interval": "year"}
    rows = carbon(client, viewer, park.id, "emissions", **q)["rows"]
    # location: 华东 2021 0.5992, 2022 0.5617; market (national only): 2021 0.5942, 2022 0.5856
    assert [r["scope2_location_t"] for r in rows] == pytest.approx([0.5992, 0.5617])
    assert [r["scope2_market_t"] for r in rows] == pytest.approx([0.5942, 0.5856])
    report = carbon(client, viewer, park.id, "report", year=2021)
    [line] = report["audit"]
    assert line["factor_location"]["document"] == N21
    assert line["factor_market"]["issued_on"] == "2024-04-12"


def test_steam_new_carriers_and_process_emissions(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin)
    firm = make_enterprise(client, admin, park.id)
    url = f"/api/v1/parks/{park.id}/carbon"
    steam = {"valid_from": "2026-01-01", "pressure_mpa": 0.8, "temperature_c": 200}
    made = client.put(f"{url}/steam", json=steam, headers=admin)
    assert made.status_code == 200, made.text
    # 0.8 MPa, 200 °C: 2839.77 kJ/kg (IAPWS-IF97); (2839.77 − 83.74) / 1000 x 0.11 = 0.303163
    assert made.json()["value"] == pytest.approx(0.303163, abs=1e-6)
    assert made.json()["parameters"]["enthalpy_kj_kg"] == pytest.approx(2839.77)
    water = {**steam, "temperature_c": 150}  # below boiling at 0.8 MPa (170.4 °C)
    assert client.put(f"{url}/steam", json=water, headers=admin).status_code == 422
    assert client.put(f"{url}/steam", json=steam, headers=admin).status_code == 409
    meter(
        client,
        admin,
        database_url,
        park.id,
        [("2026-03-01 12:00", 0), ("2026-03-02 12:00", 10)],
        "steam_meter",
        enterprise_id=firm,
    )  # fmt: skip  (10 t of steam)
    for carrier, quantity in (("lng", 100), ("fuel_oil", 100), ("coke", 100),
                              ("biomass", 1000), ("hydrogen", 10)):  # fmt: skip
        entry = {"carrier": carrier, "day": "2026-03-02", "quantity": quantity,
                 "enterprise_id": firm}  # fmt: skip
        assert client.post(f"{url}/manual-entries", json=entry, headers=admin).status_code == 201
    process = {"co2_t": 120.5, "description": "石灰石分解", "method": "CaCO₃ x 0.440"}
    put = client.put(f"{url}/process-emissions/{firm}/2026", json=process, headers=admin)
    assert put.status_code == 200 and put.json()["co2_t"] == 120.5
    ghost = client.put(f"{url}/process-emissions/ghost/2026", json=process, headers=admin)
    assert ghost.status_code == 422
    build_rollups(settings)
    report = carbon(client, viewer, park.id, "report", year=2026, enterprise_id=firm)
    totals = report["totals"]
    # tce (kgce, both bases): steam 10000 x 0.1286 = 1286; LNG 100 x 1.7572 = 175.72; fuel oil
    # 100 x 1.4286 = 142.86; coke 100 x 0.9714 = 97.14; biomass 1000 x 0.5323 = 532.3;
    # hydrogen 10 x 4.0946 = 40.946: 2274.966 kgce
    assert totals["tce_equivalent"] == pytest.approx(2.274966, abs=1e-6)
    # without renewables (biomass): 2274.966 − 532.3 = 1742.666 kgce
    assert totals["tce_equivalent_excl_renewables"] == pytest.approx(1.742666, abs=1e-6)
    # Scope 1: LNG 100 x 2.8601 + fuel oil 100 x 3.1705 + coke 100 x 2.8604 + H₂ 0 = 889.10 kg,
    # plus 120.5 t of process emissions
    assert totals["scope1_t"] == pytest.approx(0.88910 + 120.5, abs=1e-6)
    assert totals["process_t"] == 120.5
    assert totals["scope2_location_t"] == pytest.approx(3.03163, abs=1e-5)  # 10000 x 0.303163
    assert totals["biogenic_t"] == pytest.approx(1.7472, abs=1e-6)  # 1000 x 1.7472, no scope
    # clean (location): biomass 532.3 + hydrogen 40.946 = 573.246 kgce of 2274.966
    assert totals["clean_energy_share_location"] == pytest.approx(573.246 / 2274.966, abs=1e-6)
    assert report["process_emissions"][0]["description"] == "石灰石分解"
    listed = client.get(f"{url}/process-emissions", params={"year": 2026}, headers=viewer)
    assert [p["enterprise_id"] for p in listed.json()["items"]] == [firm]
    again = client.put(f"{url}/process-emissions/{firm}/2025", json=process, headers=admin)
    assert again.status_code == 200
    first = client.get(f"{url}/process-emissions", params={"limit": 1}, headers=viewer).json()
    assert [p["year"] for p in first["items"]] == [2025]
    rest = client.get(f"{url}/process-emissions", params={"cursor": first["next_cursor"]},
                      headers=viewer).json()  # fmt: skip
    assert ([p["year"] for p in rest["items"]], rest["next_cursor"]) == ([2026], None)
    bad = client.get(f"{url}/process-emissions", params={"cursor": "x"}, headers=viewer)
    assert bad.status_code == 422
    assert all(z["target"] is None for z in report["zero_carbon"])  # targets are for parks
    park_report = carbon(client, viewer, park.id, "report", year=2026)
    zero = {(z["indicator"], z["basis"]): z for z in park_report["zero_carbon"]}
    # 2.274966 tce a year: below the notice's 200,000 tce band, so no 单位能耗碳排放 target;
    # the clean-energy share target ≥ 90 % applies: 573.246 / 2274.966 = 25.2 %, not met
    assert zero[("co2_per_tce", "location")]["target"] is None
    clean = zero[("clean_energy_share", "location")]
    assert (clean["target"], clean["meets"], clean["verify"]) == (0.9, False, True)
    assert "发改环资〔2025〕910号" in clean["source"]
    scope1 = 0.88910 + 120.5  # tCO₂; + location steam 3.03163, over 2.274966 tce
    assert zero[("co2_per_tce", "location")]["value"] == pytest.approx(
        (scope1 + 3.03163) / 2.274966, rel=1e-5
    )
    energy = asyncio.run(_monthly(settings, park.id, firm))
    assert energy[(firm, date(2026, 3, 1))].tce_equal_value == pytest.approx(2.274966, abs=1e-6)
    assert (firm, date(2026, 4, 1)) not in energy  # no data is not zero


async def _monthly(settings: Settings, park_id: str, firm: str) -> dict[Any, MonthEnergy]:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        async with async_sessionmaker(engine)() as session:
            return await tce_by_enterprise_month(
                session, park_id=park_id, tz="Asia/Shanghai",
                months=[date(2026, 3, 15), date(2026, 4, 1)], enterprise_id=firm,
            )  # fmt: skip
    finally:
        await engine.dispose()


def test_certificates_matched_over_the_year_by_vintage(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin)
    firm = make_enterprise(client, admin, park.id)
    # grid: 1500 kWh in January, 1000 kWh in February 2026
    readings = [("2026-01-01 12:00", 0), ("2026-01-20 12:00", 1500), ("2026-02-10 12:00", 2500)]
    meter(client, admin, database_url, park.id, readings, enterprise_id=firm)
    build_rollups(settings)
    url = f"/api/v1/parks/{park.id}/carbon/green-power"
    ids = sorted(f"GEC-{uuid.uuid4().hex}" for _ in range(5))
    fresh = {"kind": "certificate", "month": "2026-01-01", "certificate_ids": ids,
             "enterprise_id": firm}  # fmt: skip
    old = {**fresh, "month": "2025-12-01", "certificate_ids": [f"GEC-{uuid.uuid4().hex}"]}
    for body in (fresh, old):
        assert client.post(url, json=body, headers=admin).status_code == 201
    found = client.get(f"{url}/matching", params={"year": 2026, "enterprise_id": firm},
                       headers=viewer).json()  # fmt: skip
    # 2500 grid kWh: 2 whole certificates fit; the 2025 vintage does not count in 2026
    assert (found["grid_kwh"], found["kwh"]) == (2500, 2000)
    assert (found["certificates"], found["certificates_excess"]) == (ids[:2], ids[2:])
    # market (national 2023 factor, in force in 2026): (2500 − 2000) x 0.6096 = 304.8 kg;
    # January alone: 1500 x (1 − 2000/2500) x 0.6096 = 182.88 kg
    report = carbon(client, viewer, park.id, "report", year=2026, enterprise_id=firm)
    assert report["totals"]["scope2_market_t"] == pytest.approx(0.3048, abs=1e-6)
    jan = carbon(client, viewer, park.id, "emissions", group_by="enterprise",
                 **{"from": "2026-01-01", "to": "2026-01-31"})["rows"][0]  # fmt: skip
    assert jan["scope2_market_t"] == pytest.approx(0.18288, abs=1e-6)
    assert jan["green_kwh"] == pytest.approx(1200)
    assert report["green_power"][0]["certificates_excess"] == ids[2:]
    # 2025: no grid kWh, so the old certificate stays available
    old_year = client.get(f"{url}/matching", params={"year": 2025, "enterprise_id": firm},
                          headers=viewer).json()  # fmt: skip
    assert old_year["certificates"] == [] and len(old_year["certificates_excess"]) == 1


def test_one_natural_gas_calorific_value_for_tce_and_co2(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    park = create_park(client, admin)
    url = f"/api/v1/parks/{park.id}/carbon/natural-gas"
    # gas-field gas, 35 544 kJ/m³ (GB/T 2589-2020 附录A)
    body = {"valid_from": "2026-01-01", "ncv_mj_m3": 35.544, "source": "供气方气质报告"}
    made = client.put(url, json=body, headers=admin)
    assert made.status_code == 200, made.text
    # tce: 35 544 / 29 307 = 1.212816 kgce/m³; CO₂: 0.035544 GJ/m³ x 15.3 tC/TJ x 0.99 x 44/12
    # = 1.974078 kgCO₂/m³ (the carbon content and oxidation of the 核算指南 default)
    assert made.json()["coefficient_kgce_m3"] == pytest.approx(1.212816, abs=1e-6)
    assert made.json()["factor_kgco2_m3"] == pytest.approx(1.974078, abs=1e-6)
    assert client.put(url, json=body, headers=admin).status_code == 409
    readings = [("2026-02-01 12:00", 0), ("2026-02-02 12:00", 1000)]
    meter(client, admin, database_url, park.id, readings, "gas_meter")
    build_rollups(settings)
    q = {"from": "2026-02-01", "to": "2026-02-28"}
    [row] = carbon(client, viewer, park.id, "emissions", **q)["rows"]
    assert row["tce_equivalent"] == pytest.approx(1.212816, abs=1e-6)  # 1000 m³
    assert row["scope1_t"] == pytest.approx(1.974078, abs=1e-6)
    [line] = carbon(client, viewer, park.id, "report", year=2026)["audit"]
    assert line["coefficient_equal_value"]["source"].startswith("供气方气质报告")
    assert line["factor_location"]["ncv"] == pytest.approx(0.035544)


def test_green_power_list_shows_the_vintage(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park = create_park(client, admin)
    url = f"/api/v1/parks/{park.id}/carbon/green-power"
    ident = f"GEC-{uuid.uuid4().hex}"
    body = {"kind": "certificate", "month": "2026-03-17", "certificate_ids": [ident]}
    assert client.post(url, json=body, headers=admin).status_code == 201
    contract = {"kind": "contract", "month": "2026-04-01", "kwh": 500}
    assert client.post(url, json=contract, headers=admin).status_code == 201
    items = client.get(url, headers=viewer).json()["items"]
    assert [(g["kind"], g["vintage"]) for g in items] == [
        ("certificate", "2026-03-01"),
        ("contract", None),
    ]
