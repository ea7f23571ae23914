"""The economy files for officials: the overview as CSV (BOM, Chinese headers), XLSX and the
PDF 经济运行月报, each with the same figures as the JSON answer."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.api.conftest import create_park
from tests.economy.support import make_enterprise, put_report
from tests.reports.support import first_page_png, pdf_text

PARK_NAME = "苏州工业园区 示范园"


def _month(client: TestClient, admin: dict[str, str], database_url: str) -> str:
    park = create_park(client, admin)
    renamed = client.patch(f"/api/v1/parks/{park.id}", json={"name": PARK_NAME}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    a = make_enterprise(database_url, park.id, industry_code="C3484")
    c = make_enterprise(database_url, park.id, industry_code="I65")
    put_report(client, admin, park.id, a, "2026-02", output_value=110.25, tax=11)
    put_report(client, admin, park.id, a, "2026-03", output_value=120.5, tax=12)
    put_report(client, admin, park.id, c, "2026-03", output_value=50, tax=3, revenue=3000)
    return f"/api/v1/parks/{park.id}/economy/overview?month=2026-03"


def test_overview_csv_and_xlsx_in_chinese(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    url = _month(client, admin, database_url)
    body = client.get(url, headers=viewer).json()
    exported = client.get(url + "&format=csv", headers=viewer)
    assert exported.content.startswith(b"\xef\xbb\xbf")
    assert "economy-overview-2026-03.csv" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"), newline="")))
    assert rows[0]["行业门类（GB/T 4754）"] == "*"
    assert float(rows[0]["工业总产值（万元）"]) == body["totals"]["output_value"]
    assert float(rows[0]["工业总产值（万元） 环比（比率）"]) == body["mom"]["output_value"]
    book = load_workbook(io.BytesIO(client.get(url + "&format=xlsx", headers=viewer).content))
    sheet = book.worksheets[0]
    head = [c.value for c in sheet[1]]
    assert "工业总产值（万元）" in head and "税收（万元）" in head
    value = sheet.cell(row=2, column=head.index("工业总产值（万元）") + 1)
    assert value.data_type == "n" and value.value == body["totals"]["output_value"]
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    machine = client.get(url + "&format=csv&headers=en", headers=viewer).content
    assert machine.decode("utf-8-sig").startswith("section,name,enterprises,output_value")


def test_monthly_pdf(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    tmp_path: Path,
) -> None:
    url = _month(client, admin, database_url)
    body = client.get(url, headers=viewer).json()
    by_accept = client.get(url, headers={**viewer, "Accept": "application/pdf"})
    assert by_accept.headers["content-type"] == "application/pdf"
    assert by_accept.content.startswith(b"%PDF")
    by_query = client.get(url + "&format=pdf", headers=viewer)
    assert "economy-monthly-2026-03.pdf" in by_query.headers["content-disposition"]
    text = pdf_text(by_query.content, tmp_path)
    assert PARK_NAME in text and "经济运行月报" in text and "2026-03" in text
    assert f"{body['totals']['output_value']:.2f}" in text  # 170.50
    assert f"{body['mom']['output_value'] * 100:.1f}%" in text
    assert "Asia/Shanghai" in text and "第1页" in "".join(text.split())
    first_page_png(by_query.content, tmp_path)
