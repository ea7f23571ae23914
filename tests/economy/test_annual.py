"""亩均 annual figures over the same months on both sides of each ratio; incomplete years
flagged; the energy fallback is the firm's total tce 等价值 from the carbon module.

Rule (docs/modules/economy.md, "亩均 annual figures"): a ratio sums its numerator and its
denominator over the months where both are known; energy of a month is the report's
``energy_tce``, else the carbon ledger's total tce 等价值 of the firm's meters.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.economy.annual import expected_months, figures
from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.economy.support import make_enterprise, put_report

SQUARE = {"type": "Polygon", "coordinates": [[[120, 31], [120.001, 31], [120.001, 31.001],
                                              [120, 31.001], [120, 31]]]}  # fmt: skip
MU = 666.67


def _month(m: int, **kw: float | None) -> dict[str, object]:
    base: dict[str, object] = {"month": date(2026, m, 1), "value_added": 0.0, "tax": 0.0,
                               "revenue": 0.0, "rd_spend": 0.0, "employees": 10.0,
                               "emissions": None, "energy_tce": None}  # fmt: skip
    return {**base, **kw}


def test_same_months_by_hand() -> None:
    """Jan: VA 100, 10 tce reported; Feb: VA 50, no energy_tce, carbon ledger 5 tce; Mar: VA
    70, no energy anywhere. VA per tce = (100 + 50) / (10 + 5) = 10, not (100+50+70)/15.
    Emissions only in March (2 t): 70 / 2 = 35. kWh only in Feb (20,000), tax 4 (10⁴ yuan):
    40,000 yuan / 20,000 kWh = 2 yuan/kWh. Tax per 亩: (3 + 4 + 5) / 6 亩 = 2."""
    reports = [
        _month(1, value_added=100, tax=3, energy_tce=10),
        _month(2, value_added=50, tax=4),
        _month(3, value_added=70, tax=5, emissions=2),
    ]
    year = figures(reports, year=2026, founded=date(2010, 1, 1), land_mu=6,
                   carbon_tce={date(2026, 2, 1): 5.0, date(2026, 3, 1): 0.0},
                   kwh={date(2026, 2, 1): 20_000.0})  # fmt: skip
    assert year.indicators["value_added_per_energy"] == pytest.approx(10)
    assert year.months_used["value_added_per_energy"] == [date(2026, 1, 1), date(2026, 2, 1)]
    assert year.energy_from == {date(2026, 1, 1): "report", date(2026, 2, 1): "carbon"}
    assert year.indicators["value_added_per_emission"] == pytest.approx(35)
    assert year.indicators["tax_per_kwh"] == pytest.approx(2)
    assert year.indicators["tax_per_mu"] == pytest.approx(2)
    assert year.indicators["labour_productivity"] == pytest.approx(220 / 10)
    assert not year.complete and year.missing == [date(2026, m, 1) for m in range(4, 13)]


def test_expected_months_from_founding() -> None:
    assert expected_months(2026, date(2026, 10, 15)) == [date(2026, m, 1) for m in (10, 11, 12)]
    assert expected_months(2026, date(2027, 1, 1)) == []
    assert len(expected_months(2026, None)) == 12


def _meter(client: TestClient, admin: dict[str, str], url: str, park: str, ent: str,
           kind: str, metric: str, qty: float) -> None:  # fmt: skip
    device = create_device(client, admin, park, kind, enterprise_id=ent)
    tz = ZoneInfo("Asia/Shanghai")
    sid = series_id(url, park, str(device["id"]), metric)
    write_readings(url, sid, [(datetime(2026, 2, 1, tzinfo=tz), 0.0),
                              (datetime(2026, 2, 27, 12, tzinfo=tz), qty)])  # fmt: skip


def test_per_mu_uses_the_carbon_total_over_the_same_months(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """February's energy comes from the carbon ledger: 1,000 m³ gas x 1.2 kgce/m³ = 1.2 tce
    plus 10,000 kWh x 0.30 kgce/kWh = 3.0 tce (the park's own 等价值 coefficients, so the
    numbers are round): 4.2 tce, not the electricity alone. January reports 10 tce; March
    has no energy. VA per tce = (100 + 50) / (10 + 4.2) = 150 / 14.2."""
    park = create_park(client, admin).id
    for carrier, value in (("natural_gas", 1.2), ("electricity_grid", 0.30)):
        body = {"carrier": carrier, "basis": "equal_value", "valid_from": "2026-01-01",
                "value": value, "source": "test: round numbers"}  # fmt: skip
        r = client.post(f"/api/v1/parks/{park}/carbon/coefficients", json=body, headers=admin)
        assert r.status_code == 201, r.text
    ent = make_enterprise(database_url, park)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO parcel (park_id, id, name, geometry, area_m2) "
            "VALUES (%s, 'pa', 'p', %s, %s)",
            (park, json.dumps(SQUARE), 10 * MU),
        )
        conn.execute("INSERT INTO lease (park_id, id, enterprise_id, parcel_id, area_m2, "
                     "start_date, end_date) VALUES (%s, 'l1', %s, 'pa', 1, '2020-01-01', "
                     "'2030-12-31')", (park, ent))  # fmt: skip
    put_report(client, admin, park, ent, "2026-01", value_added=100, tax=3, energy_tce=10,
               revenue=3000)  # fmt: skip
    put_report(client, admin, park, ent, "2026-02", value_added=50, tax=6)
    put_report(client, admin, park, ent, "2026-03", value_added=70, tax=7)
    _meter(client, admin, database_url, park, ent, "gas_meter", "volume_m3", 1000)
    _meter(client, admin, database_url, park, ent, "electricity_meter", "energy_kwh", 10_000)
    body = client.get(f"/api/v1/parks/{park}/economy/per-mu?year=2026", headers=viewer).json()
    (item,) = body["items"]
    energy = item["indicators"]["value_added_per_energy"]
    assert energy["value"] == pytest.approx(150 / 14.2)
    assert energy["months"] == ["2026-01", "2026-02"]
    assert item["energy_from"] == {"2026-01": "report", "2026-02": "carbon"}
    assert item["complete_year"] is False
    assert item["months_reported"] == ["2026-01", "2026-02", "2026-03"]
    assert item["missing_months"][0] == "2026-04" and len(item["missing_months"]) == 9
    assert item["indicators"]["tax_per_mu"]["value"] == pytest.approx((3 + 6 + 7) / 10)
    assert "carbon" in body["energy_source"] and "share of its class" in body["grade_rule"]
    assert item["grade"] == "A" and item["share_ahead"] == 0 and item["class_size"] == 1
