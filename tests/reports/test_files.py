"""The one CSV/XLSX writer: BOM and CRLF, labels and park-local times, a styled frozen header,
numbers as numbers, no formula cells; and the PDF layout with Chinese text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.reports import files, pdf
from tests.reports.support import pdf_text

WHEN = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
LABELS = {"name": "企业名称", "kwh": "用电量（kWh）", "at": "时间"}
ROWS = [["=cmd|' /C calc'!A0", 1234.5, WHEN], ["甲公司", -7, None]]


def _export(fmt: str, lang: files.Lang) -> bytes:
    response = files.export(fmt, "t", ["name", "kwh", "at"], ROWS, lang=lang,
                            label=lambda k: LABELS[k], tz="Asia/Shanghai")  # fmt: skip
    return bytes(response.body)


def test_csv_in_chinese_with_park_local_times() -> None:
    body = _export("csv", "zh")
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["企业名称", "用电量（kWh）", "时间（Asia/Shanghai）"]
    assert rows[1] == ["'=cmd|' /C calc'!A0", "1234.5", "2026-01-02 11:04"]
    assert rows[2] == ["甲公司", "-7", ""]


def test_csv_with_machine_headers_keeps_the_old_layout() -> None:
    rows = list(csv.reader(io.StringIO(_export("csv", "en").decode("utf-8-sig"), newline="")))
    assert rows[0] == ["name", "kwh", "at"] and rows[1][2] == "2026-01-02T03:04:00Z"


def test_xlsx_header_style_frozen_numbers_and_no_formulas() -> None:
    book = load_workbook(io.BytesIO(_export("xlsx", "zh")))
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2"
    head = list(sheet[1])
    assert [c.value for c in head] == ["企业名称", "用电量（kWh）", "时间（Asia/Shanghai）"]
    assert all(c.font.bold for c in head)
    assert sheet.column_dimensions["A"].width >= len("企业名称") * 2
    assert [sheet["B2"].value, sheet["B3"].value] == [1234.5, -7]
    assert sheet["B2"].data_type == "n" and sheet["A2"].data_type == "s"
    assert sheet["A2"].value == "=cmd|' /C calc'!A0"
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_pdf_draws_chinese_text_and_page_numbers(tmp_path: Path) -> None:
    rows = [["企业名称", "用电量（kWh）"]] + [[f"企业{i}", pdf.number(i * 1.5)] for i in range(80)]
    doc = pdf.Document("测试报告", [("园区", "示范园"), ("统计期", "2026-03")],
                       [pdf.Section("一、明细", rows, ["注：<b>不是标记</b> & 符号"])])  # fmt: skip
    body = pdf.render(doc)
    assert body.startswith(b"%PDF")
    text = pdf_text(body, tmp_path)
    assert "测试报告" in text and "示范园" in text and "2026-03" in text
    assert "企业79" in text and "118.50" in text and "<b>不是标记</b> & 符号" in text
    squeezed = "".join(text.split())  # pdftotext drops the spaces between CJK glyphs
    assert "第1页" in squeezed and "第3页" in squeezed


def test_pdf_embeds_the_configured_font_or_names_the_cid_font(tmp_path: Path) -> None:
    doc = pdf.Document("排放量（tCO₂）", [("园区", "示范园")], [])
    fallback = pdf.render(doc, font_path=str(tmp_path / "no-such-font.ttf"))
    assert b"/STSong-Light" in fallback and b"FontFile" not in fallback
    known = next((p for p in pdf.KNOWN_FONTS if Path(p).is_file()), None)
    if known is None:
        pytest.skip("no CJK TrueType font installed")
    embedded = pdf.render(doc, font_path=known)
    assert b"FontFile2" in embedded and "tCO₂" in pdf_text(embedded, tmp_path)
