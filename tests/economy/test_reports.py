"""Monthly reports: put and revisions, the derived 规上 status, the all-or-nothing import,
exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from tests.api.conftest import create_park
from tests.economy.support import make_enterprise, put_report, report


def test_put_get_and_revisions(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    e = make_enterprise(database_url, park.id)
    base = f"/api/v1/parks/{park.id}/economy/reports/{e}/2026-03"
    first = put_report(client, admin, park.id, e, "2026-03", emissions=1.5)
    assert first["month"] == "2026-03" and first["emissions"] == 1.5
    assert client.get(f"{base}/revisions", headers=viewer).json() == []
    put_report(client, admin, park.id, e, "2026-03", tax=7.5)  # emissions left out: unknown
    put_report(client, admin, park.id, e, "2026-03", tax=7.5)  # no change: no revision
    got = client.get(base, headers=viewer)
    assert got.status_code == 200 and got.json()["tax"] == 7.5 and got.json()["emissions"] is None
    revisions = client.get(f"{base}/revisions", headers=viewer).json()
    assert [(r["field"], r["old_value"], r["new_value"]) for r in revisions] == [
        ("tax", 5.0, 7.5),
        ("emissions", 1.5, None),
    ]
    assert all(r["source"] == "api" and r["changed_by"] for r in revisions)
    exported = client.get(f"{base}/revisions?format=xlsx&headers=en", headers=viewer)
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    assert [row[1] for row in sheet.iter_rows(values_only=True)] == ["field", "tax", "emissions"]
    assert client.put(base, json=report(), headers=viewer).status_code == 403
    missing = f"/api/v1/parks/{park.id}/economy/reports/nobody/2026-03"
    assert client.put(missing, json=report(), headers=admin).status_code == 404
    bad = client.put(base, json=report(revenue=-1), headers=admin)
    assert bad.status_code == 422
    assert (
        client.put(base.replace("2026-03", "2026-13"), json=report(), headers=admin).status_code
        == 422
    )


def _history(client: TestClient, viewer: dict[str, str], park: str, e: str) -> list[Any]:
    answer = client.get(f"/api/v1/parks/{park}/economy/scale/{e}", headers=viewer)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def _flag(database_url: str, park: str, e: str) -> object:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT above_scale FROM enterprise WHERE park_id = %s AND id = %s", (park, e)
        ).fetchone()


def test_above_scale_is_fixed_by_the_annual_result(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """The statistics register's rule (NBS 规模以上工业: 2,000 × 10⁴ yuan main revenue a year;
    the register is updated once a year). A manufacturer (C3484) founded 2010:
    - 2025: 12 x 150 = 1,800, no 2024 result: judged by 累计, never 2,000: 规下.
    - 2026: the complete 2025 result 1,800 < 2,000: 规下 all year, though January alone
      brings 2,500 (an existing firm enters for the next year, not within the year).
    - 2027: 2026 misses June (a missing month is not a zero): no result, 规下 carried.
    - June 2026 entered (0): 2026 = 2,500 + 0 x 11 = 2,500 >= 2,000: 规上 from 2027-01."""
    park = create_park(client, admin).id
    e = make_enterprise(database_url, park)
    for m in range(1, 13):
        put_report(client, admin, park, e, f"2025-{m:02d}", revenue=150)
    put_report(client, admin, park, e, "2026-01", revenue=2500)
    for m in [2, 3, 4, 5, 7, 8, 9, 10, 11, 12]:
        put_report(client, admin, park, e, f"2026-{m:02d}", revenue=0)
    put_report(client, admin, park, e, "2027-01", revenue=0)
    history = _history(client, viewer, park, e)
    assert [(h["month"], h["above_scale"], h["basis"]) for h in history] == [
        ("2025-01", False, "cumulative"),
    ]
    assert _flag(database_url, park, e) == (False,)
    put_report(client, admin, park, e, "2026-06", revenue=0)
    history = _history(client, viewer, park, e)
    assert [(h["month"], h["above_scale"], h["previous"], h["basis"]) for h in history] == [
        ("2025-01", False, None, "cumulative"),
        ("2027-01", True, False, "annual"),
    ]
    assert history[1]["trailing_revenue"] == 2500 and history[1]["months_reported"] == 12
    assert history[1]["threshold"] == 2000 and history[1]["sector"] == "industry"
    assert "国家统计局" in history[1]["source"]
    assert _flag(database_url, park, e) == (True,)


def test_a_new_firm_enters_by_its_cumulative_revenue(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """A retailer (F5211, 限额以上零售业: 500 × 10⁴ yuan) founded in March 2026: 累计 300
    in March, 300 + 250 = 550 >= 500 in April: enters in April. A manufacturer founded the
    same month with 800, 900, 400: 累计 800, 1,700, 2,100 >= 2,000: enters in May."""
    park = create_park(client, admin).id
    shop = make_enterprise(database_url, park, industry_code="F5211", founded_on="2026-03-10")
    plant = make_enterprise(database_url, park, founded_on="2026-03-01")
    for month, shop_revenue, plant_revenue in (("03", 300, 800), ("04", 250, 900),
                                               ("05", 10, 400)):  # fmt: skip
        put_report(client, admin, park, shop, f"2026-{month}", revenue=shop_revenue)
        put_report(client, admin, park, plant, f"2026-{month}", revenue=plant_revenue)
    shop_history = _history(client, viewer, park, shop)
    assert [(h["month"], h["above_scale"], h["trailing_revenue"]) for h in shop_history] == [
        ("2026-03", False, 300),
        ("2026-04", True, 550),
    ]
    assert shop_history[1]["threshold"] == 500 and shop_history[1]["sector"] == "retail"
    plant_history = _history(client, viewer, park, plant)
    assert [(h["month"], h["above_scale"]) for h in plant_history] == [
        ("2026-03", False),
        ("2026-05", True),
    ]


def _csv(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _snapshot(database_url: str, park_id: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT enterprise_id, month, revenue, tax, updated_at FROM economy_report "
            "WHERE park_id = %s ORDER BY 1, 2",
            (park_id,),
        ).fetchall()


def test_import_with_bad_rows_changes_nothing(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    e1, e2 = make_enterprise(database_url, park.id), make_enterprise(database_url, park.id)
    put_report(client, admin, park.id, e1, "2026-01")
    before = _snapshot(database_url, park.id)
    good = {"enterprise_id": e1, "month": "2026-01", **report(tax=9)}
    rows = [
        good,
        {"enterprise_id": e2, "month": "2026-01", **report()},
        {"enterprise_id": "ghost", "month": "2026-01", **report()},
        {"enterprise_id": e2, "month": "2026-1", **report()},
        {"enterprise_id": e2, "month": "2026-02", **report(revenue="lots")},
        {"enterprise_id": e2, "month": "2026-01", **report()},
    ]
    url = f"/api/v1/parks/{park.id}/economy/reports/import"
    response = client.post(url, content=_csv(rows), headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [
        (3, "enterprise_id"),
        (4, "month"),
        (5, "revenue"),
        (6, None),
    ]
    assert _snapshot(database_url, park.id) == before
    # The good rows alone: a dry run stores nothing, then the import stores both.
    body = _csv(rows[:2])
    dry = client.post(
        f"{url}?dry_run=true", content=body, headers={**admin, "Content-Type": "text/csv"}
    )
    assert dry.status_code == 200 and dry.json()["updated"] == 1
    assert _snapshot(database_url, park.id) == before
    done = client.post(url, content=body, headers={**admin, "Content-Type": "text/csv"})
    assert done.json() == {"dry_run": False, "rows": 2, "created": 1, "updated": 1, "unchanged": 0}
    with psycopg.connect(database_url) as conn:
        source = conn.execute(
            "SELECT field, source FROM economy_report_revision WHERE park_id = %s", (park.id,)
        ).fetchall()
    assert source == [("tax", "import")]


def test_import_xlsx_and_export(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin)
    e = make_enterprise(database_url, park.id)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    fields = list(report())
    sheet.append(["enterprise_id", "month", *fields])
    sheet.append([e, "2026-04", *report().values()])
    sheet.append([e, "2026-05", *report(tax=6).values()])
    out = io.BytesIO()
    book.save(out)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    url = f"/api/v1/parks/{park.id}/economy/reports/import"
    response = client.post(url, content=out.getvalue(), headers={**admin, "Content-Type": xlsx})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    listed = client.get(f"/api/v1/parks/{park.id}/economy/reports?year=2026", headers=viewer)
    assert [r["month"] for r in listed.json()["items"]] == ["2026-04", "2026-05"]
    exported = client.get(
        f"/api/v1/parks/{park.id}/economy/reports?year=2026&format=csv&headers=en", headers=viewer
    )
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["month"], r["tax"]) for r in table] == [("2026-04", "5.0"), ("2026-05", "6.0")]
    exported = client.get(
        f"/api/v1/parks/{park.id}/economy/reports?year=2026&format=xlsx&headers=en", headers=viewer
    )
    rows = list(
        load_workbook(io.BytesIO(exported.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert rows[0][:2] == ("output_value", "value_added") and len(rows) == 3
    junk = client.post(url, content=b"PK\x03\x04junk", headers={**admin, "Content-Type": xlsx})
    assert junk.status_code == 422


def test_import_by_credit_code(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """Statistics often name firms by 统一社会信用代码: a row may give it instead of the id."""
    park = create_park(client, admin)
    e = make_enterprise(database_url, park.id)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT credit_code FROM enterprise WHERE park_id = %s AND id = %s", (park.id, e)
        ).fetchone()
    assert row is not None
    url = f"/api/v1/parks/{park.id}/economy/reports/import"
    headers = {**admin, "Content-Type": "text/csv"}
    unknown = [
        {"credit_code": "91350100M000100Y43", "name": "某公司", "month": "2026-07", **report()}
    ]
    refused = client.post(url, content=_csv(unknown), headers=headers)
    assert refused.status_code == 422
    assert [(x["row"], x["field"]) for x in refused.json()["errors"]] == [(1, "credit_code")]
    rows = [{"credit_code": row[0].lower(), "name": "某公司", "month": "2026-07", **report()}]
    done = client.post(url, content=_csv(rows), headers=headers)
    assert done.status_code == 200, done.text
    got = client.get(f"/api/v1/parks/{park.id}/economy/reports/{e}/2026-07", headers=viewer)
    assert got.status_code == 200


def test_each_year_is_judged_by_the_threshold_in_force_then(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """A park's own industry threshold of 2,500 (10⁴ yuan) from 2026-01-01 (a row of
    economy_scale_threshold, versioned as data): 2025 is judged by 累计 against 2,000 (200 a
    month reaches 2,000 in October); the register of 2026 judges 2025's 2,400 against the
    new 2,500, as NBS applied its 2011 standard to the 2010 results: 规下 from January."""
    park = create_park(client, admin)
    e = make_enterprise(database_url, park.id)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO economy_scale_threshold (park_id, sector, prefixes, valid_from, "
            "revenue, measure, source) VALUES (%s, 'industry', '{B,C,D}', '2026-01-01', 2500, "
            "'main_business_revenue', 'the park''s own threshold (test)')",
            (park.id,),
        )
    base = f"/api/v1/parks/{park.id}/economy"
    for month in [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01", "2026-02"]:
        put_report(client, admin, park.id, e, month, revenue=200)
    history = client.get(f"{base}/scale/{e}", headers=viewer).json()
    assert [(h["month"], h["above_scale"], h["trailing_revenue"]) for h in history] == [
        ("2025-01", False, 200),
        ("2025-10", True, 2000),  # 累计 2,000 >= 2,000
        ("2026-01", False, 2400),  # the 2025 result 2,400 < 2,500
    ]
