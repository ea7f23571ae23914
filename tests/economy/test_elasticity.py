"""电力消费弹性系数 (国家统计局《中国能源统计年鉴》指标解释: 电力消费量增长速度 / 经济增长速度)
for January-February 2026 against 2025, on the comparable basis (同口径), by hand."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.economy.support import make_enterprise, put_report

TZ = ZoneInfo("Asia/Shanghai")


def _meter(client: TestClient, admin: dict[str, str], url: str, park: str, ent: str,
           readings: list[tuple[str, float]]) -> None:  # fmt: skip
    device = create_device(client, admin, park, enterprise_id=ent)
    sid = series_id(url, park, str(device["id"]), "energy_kwh")
    write_readings(url, sid, [(datetime.fromisoformat(t).replace(tzinfo=TZ), v)
                              for t, v in readings])  # fmt: skip


def test_elasticity_by_hand(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """p (C): kWh Jan-Feb 2025 600 + 400 = 1,000, 2026 700 + 500 = 1,200 (+20 %); value
    added 100 + 100 -> 110 + 110 (+10 %): elasticity 2.0.
    q (I): kWh 1,000 -> 400 + 500 = 900 (-10 %); value added reported Jan and Feb 2025 but
    only Jan 2026: the comparable months are January alone, 50 -> 50 (0 %): no coefficient.
    r: new in 2026 (no kWh a year before): outside the comparable basis.
    Park: kWh 2,100 / 2,000 - 1 = 5 %; value added 270 / 250 - 1 = 8 %: 0.05 / 0.08 = 0.625."""
    park = create_park(client, admin).id
    p = make_enterprise(database_url, park, industry_code="C3484")
    q = make_enterprise(database_url, park, industry_code="I6510")
    r = make_enterprise(database_url, park, industry_code="C3484")
    _meter(client, admin, database_url, park, p, [
        ("2025-01-10T12:00", 0), ("2025-01-20T12:00", 600), ("2025-02-20T12:00", 1000),
        ("2026-01-10T12:00", 1000), ("2026-01-20T12:00", 1700), ("2026-02-20T12:00", 2200),
    ])  # fmt: skip
    _meter(client, admin, database_url, park, q, [
        ("2025-01-10T12:00", 0), ("2025-01-20T12:00", 500), ("2025-02-20T12:00", 1000),
        ("2026-01-10T12:00", 1000), ("2026-01-20T12:00", 1400), ("2026-02-20T12:00", 1900),
    ])  # fmt: skip
    _meter(client, admin, database_url, park, r, [
        ("2026-01-10T12:00", 0), ("2026-02-20T12:00", 5000),
    ])  # fmt: skip
    for month, va in (("2025-01", 100), ("2025-02", 100), ("2026-01", 110), ("2026-02", 110)):
        put_report(client, admin, park, p, month, value_added=va)
    for month in ("2025-01", "2025-02", "2026-01"):
        put_report(client, admin, park, q, month, value_added=50)
    put_report(client, admin, park, r, "2026-02", value_added=500)
    url = f"/api/v1/parks/{park}/economy/power-elasticity?month=2026-02"
    response = client.get(url, headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["months"] == ["2026-01", "2026-02"] and "弹性系数" in body["source"]
    whole = body["park"]
    assert whole["enterprises"] == 2
    assert (whole["kwh"], whole["kwh_base"]) == (pytest.approx(2100), pytest.approx(2000))
    assert (whole["value_added"], whole["value_added_base"]) == (270, 250)
    assert whole["elasticity"] == pytest.approx(0.05 / 0.08)
    rows = {row["section"]: row for row in body["by_industry"]}
    assert rows["C"]["elasticity"] == pytest.approx(2.0)
    assert rows["I"]["kwh_growth"] == pytest.approx(-0.1)
    assert rows["I"]["value_added_growth"] == 0 and rows["I"]["elasticity"] is None
