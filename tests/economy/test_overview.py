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
