"""The park overview: totals, 同比/环比 on a comparable basis when months are missing, by
industry, 规上 counts and coverage."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_park
from tests.economy.support import make_enterprise, put_report


def test_yoy_and_mom_with_missing_months(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    a = make_enterprise(database_url, park.id, industry_code="C3484")  # manufacturing
    b = make_enterprise(database_url, park.id, industry_code="2611")  # manufacturing (C)
    c = make_enterprise(database_url, park.id, industry_code="I65")  # software (I)
    # a: 2025-03, 2026-02, 2026-03; b: 2026-03 only, missing its base months; c: 2025-03,
    # 2026-03 (no February: no 环比 from c).
    put_report(client, admin, park.id, a, "2025-03", output_value=100, tax=10)
    put_report(client, admin, park.id, a, "2026-02", output_value=110, tax=11)
    put_report(client, admin, park.id, a, "2026-03", output_value=120, tax=12)
    put_report(client, admin, park.id, b, "2026-03", output_value=1000, tax=50)
    put_report(client, admin, park.id, c, "2025-03", output_value=40, tax=4, revenue=3000)
    put_report(client, admin, park.id, c, "2026-03", output_value=50, tax=3, revenue=3000,
               digital_transformed=True)  # fmt: skip
    url = f"/api/v1/parks/{park.id}/economy/overview?month=2026-03"
    body = client.get(url, headers=viewer).json()
    assert body["month"] == "2026-03" and body["enterprises"] == 3
    assert body["totals"]["output_value"] == 1170
    # 同比: a and c reported in both Marches: (120 + 50) / (100 + 40) - 1.
    assert body["yoy_comparable"] == 2
    assert body["yoy"]["output_value"] == pytest.approx(170 / 140 - 1)
    assert body["yoy"]["tax"] == pytest.approx(15 / 14 - 1)
    # 环比: only a reported in February.
    assert body["mom_comparable"] == 1
    assert body["mom"]["output_value"] == pytest.approx(120 / 110 - 1)
    assert body["yoy"]["emissions"] is None  # nobody has emissions
    sections = {r["section"]: r for r in body["by_industry"]}
    assert set(sections) == {"C", "I"}
    assert sections["C"]["enterprises"] == 2 and sections["C"]["totals"]["output_value"] == 1120
    assert sections["C"]["yoy"]["output_value"] == pytest.approx(0.2)
    assert sections["I"]["mom"]["output_value"] is None
    assert sections["I"]["name"] == "信息传输、软件和信息技术服务业"
    # c: 3,000 + 3,000 in its trailing year -> 规上, and digitally transformed.
    assert body["above_scale_count"] == 1
    assert body["coverage"]["digital_transformed"] == {
        "numerator": 1,
        "denominator": 1,
        "rate": 1.0,
    }
    # A month with no base at all: every rate null.
    early = client.get(url.replace("2026-03", "2025-03"), headers=viewer).json()
    assert early["enterprises"] == 2 and all(v is None for v in early["yoy"].values())
    # The CSV export: the park's row then one per section.
    exported = client.get(url + "&format=csv&headers=en", headers=viewer)
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["section"] for r in rows] == ["*", "C", "I"]
    assert float(rows[0]["output_value"]) == 1170
    etag = client.get(url, headers=viewer).headers["etag"]
    assert client.get(url, headers={**viewer, "If-None-Match": etag}).status_code == 304


def test_negative_bases_cumulative_and_scale_split(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """NBS practice: no percentage on a negative base (扭亏 / 减亏 / 增亏) nor for a profit
    turned to a loss (转亏). 累计 (1-N月) and 累计同比 over the (firm, month) pairs reported in
    both years. 规上 / 规下 totals by the register status of the month.

    a (C3484): 2025-01 VA 100 tax -20 revenue 1,000; 2025-02 VA 100 tax 10 revenue 1,000;
               2026-01 VA 120 tax 5; 2026-02 VA 130 tax -4 (revenue 1,500 each).
    b (C3484): 2026-01 VA 50, 2026-02 VA 60 (tax 5, revenue 100 each); nothing in 2025.
    February 2026, by hand:
    - totals VA 130 + 60 = 190; 同比 tax (a only): 10 -> -4: 转亏, no rate.
    - 累计 VA 120 + 130 + 50 + 60 = 360; 累计同比 VA over a's pairs (250 vs 200): +25 %;
      累计 tax of the pairs 5 - 4 = 1 against -20 + 10 = -10: 扭亏, no rate.
    - 规上: a (2025 累计 2,000 reached in February 2025, carried into 2026: 2025 is
      incomplete), VA 130, 累计 250; 规下: b (累计 200), VA 60, 累计 110.
    January 2026: 同比 tax of a -20 -> 5: 扭亏."""
    park = create_park(client, admin).id
    a = make_enterprise(database_url, park)
    b = make_enterprise(database_url, park)
    for month, va, tax in (("2025-01", 100, -20), ("2025-02", 100, 10)):
        put_report(client, admin, park, a, month, value_added=va, tax=tax, revenue=1000)
    for month, va, tax in (("2026-01", 120, 5), ("2026-02", 130, -4)):
        put_report(client, admin, park, a, month, value_added=va, tax=tax, revenue=1500)
    put_report(client, admin, park, b, "2026-01", value_added=50, revenue=100)
    put_report(client, admin, park, b, "2026-02", value_added=60, revenue=100)
    url = f"/api/v1/parks/{park}/economy/overview?month=2026-02"
    body = client.get(url, headers=viewer).json()
    assert body["totals"]["value_added"] == 190
    assert body["yoy"]["tax"] is None and body["yoy_note"]["tax"] == "转亏"
    assert body["yoy_note"]["value_added"] is None
    assert body["ytd_months"] == ["2026-01", "2026-02"]
    assert body["ytd"]["value_added"] == 360 and body["ytd_comparable"] == 1
    assert body["ytd_yoy"]["value_added"] == pytest.approx(0.25)
    assert body["ytd_yoy"]["tax"] is None and body["ytd_yoy_note"]["tax"] == "扭亏"
    split = {r["scale"]: r for r in body["by_scale"]}
    assert set(split) == {"above_scale", "below_scale"}
    assert split["above_scale"]["enterprises"] == 1
    assert split["above_scale"]["totals"]["value_added"] == 130
    assert split["above_scale"]["ytd"]["value_added"] == 250
    assert split["below_scale"]["totals"]["value_added"] == 60
    assert split["below_scale"]["ytd"]["value_added"] == 110
    (section,) = body["by_industry"]
    assert section["ytd"]["value_added"] == 360 and section["ytd_yoy_note"]["tax"] == "扭亏"
    assert "扭亏" in body["growth_rule"] and "NBS threshold" in body["sources"]["scale"]
    january = client.get(url.replace("2026-02", "2026-01"), headers=viewer).json()
    assert january["yoy"]["tax"] is None and january["yoy_note"]["tax"] == "扭亏"
