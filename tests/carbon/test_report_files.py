"""The annual carbon report as files: the machine CSV by Accept (BOM, same columns), the
Chinese CSV and XLSX downloads, and the PDF 年度碳排放报告 with each factor's source."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.core.config import Settings
from tests.carbon.support import build_rollups
from tests.carbon.test_ledger import month
from tests.reports.support import first_page_png, pdf_text

__all__ = ["month"]


def _report(
    client: TestClient, viewer: dict[str, str], month: dict[str, str], settings: Settings
) -> tuple[str, dict[str, object], dict[str, object]]:
    build_rollups(settings)
    url = f"/api/v1/parks/{month['park']}/carbon/report"
    q: dict[str, object] = {"year": 2026, "enterprise_id": month["enterprise"]}
    return url, q, client.get(url, params=q, headers=viewer).json()


def test_csv_by_accept_and_by_query(
    client: TestClient, viewer: dict[str, str], month: dict[str, str], settings: Settings
) -> None:
    url, q, report = _report(client, viewer, month, settings)
    totals = report["totals"]
    assert isinstance(totals, dict)
    machine = client.get(url, params=q, headers={**viewer, "Accept": "text/csv"}).content
    assert machine.startswith(b"\xef\xbb\xbf# park,")
    rows = list(csv.reader(io.StringIO(machine.decode("utf-8-sig"), newline="")))
    assert rows[1][:4] == ["carrier", "unit", "scope", "quantity"]
    sums = {r[0]: float(r[1]) for r in rows if r[1:] and r[1] and r[0].startswith("# total ")}
    assert sums["# total scope1_t"] == totals["scope1_t"]
    chinese = client.get(url, params={**q, "format": "csv"}, headers=viewer)
    assert "carbon-report-2026-" in chinese.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(chinese.content.decode("utf-8-sig"), newline="")))
    assert rows[0][0] == "# 园区" and rows[0][8] == "生成时间（Asia/Shanghai）"
    assert "综合能耗（tce，等价值）" in rows[1] and "排放量 基于位置（tCO₂）" in rows[1]
    sums = {r[0]: float(r[1]) for r in rows if r[1:] and r[1] and r[0].startswith("合计 ")}
    assert sums["合计 范围一排放量（tCO₂）"] == totals["scope1_t"]
    english = client.get(url, params={**q, "format": "csv", "headers": "en"}, headers=viewer)
    assert english.content == machine


def test_xlsx(
    client: TestClient, viewer: dict[str, str], month: dict[str, str], settings: Settings
) -> None:
    url, q, report = _report(client, viewer, month, settings)
    body = client.get(url, params={**q, "format": "xlsx"}, headers=viewer).content
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    head = [c.value for c in sheet[1]]
    assert head[:2] == ["能源品种", "计量单位"] and sheet.freeze_panes == "A2"
    audit = report["audit"]
    assert isinstance(audit, list)
    column = head.index("排放量 基于位置（tCO₂）") + 1
    cells = [sheet.cell(row=i + 2, column=column) for i in range(len(audit))]
    assert [c.value for c in cells] == [line["location_t"] for line in audit]
    assert all(c.data_type == "n" for c in cells)
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_pdf(
    client: TestClient,
    viewer: dict[str, str],
    month: dict[str, str],
    settings: Settings,
    tmp_path: Path,
) -> None:
    url, q, report = _report(client, viewer, month, settings)
    answer = client.get(url, params=q, headers={**viewer, "Accept": "application/pdf"})
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    text = pdf_text(answer.content, tmp_path)
    totals, audit = report["totals"], report["audit"]
    assert isinstance(totals, dict) and isinstance(audit, list)
    assert "test park" in text and "年度碳排放报告" in text and "2026-01-01 至 2026-12-31" in text
    assert f"{totals['scope2_location_t']:.4f}" in text
    sources = {line["coefficient_equal_value"]["source"] for line in audit}
    assert all(source.split()[0] in text for source in sources)
    first_page_png(answer.content, tmp_path)
