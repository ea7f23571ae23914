"""险情 and 事故 through the API: times from the alarm, casualties turning a 险情 into an
accident with its grade, the regulator's clock from learned_at, first report, 续报 and 补报
(条例 Art. 9, 12, 13), and the report document as HTML and as a rendered PDF page."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.core.config import Settings
from tests.emergency.support import (
    LAT,
    LON,
    FixturePark,
    fixture_park,
    outbox_types,
    run_incident_job,
    run_report_job,
)
from tests.emergency.test_incidents import open_incident
from tests.reports.support import first_page_png, pdf_text


@pytest.fixture
def park(client: TestClient, admin: dict[str, str], database_url: str) -> FixturePark:
    return fixture_park(client, admin, database_url)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def post(client: TestClient, headers: dict[str, str], url: str, body: dict[str, Any]) -> Any:
    response = client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def casualties(
    client: TestClient, headers: dict[str, str], park: FixturePark, iid: str, **body: Any
) -> Any:
    url = f"/api/v1/parks/{park.id}/incidents/{iid}/casualties"
    return post(client, headers, url, body)


def report(
    client: TestClient, headers: dict[str, str], park: FixturePark, iid: str, **body: Any
) -> Any:
    return post(client, headers, f"/api/v1/parks/{park.id}/incidents/{iid}/report", body)


def stats(client: TestClient, headers: dict[str, str], park: FixturePark) -> Any:
    response = client.get(f"/api/v1/parks/{park.id}/incidents/stats", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_alarm_incident_takes_the_alarm_time_and_is_a_hazard_event_without_regulator_clock(
    client: TestClient, operator: dict[str, str], park: FixturePark, settings: Settings
) -> None:
    raised = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0)
    park.alarm(park.device("gas_detector", 10, 0), "gas_lel_pct", raised)
    assert run_incident_job(settings) == 1
    (found,) = client.get(f"/api/v1/parks/{park.id}/incidents", headers=operator).json()["items"]
    assert parse(found["occurred_at"]) == raised and parse(found["learned_at"]) == raised
    assert found["category"] == "hazard" and found["category_zh"] == "险情"
    assert found["report_due_at"] is None and found["report_seconds_left"] is None
    assert found["report_overdue"] is False and found["grade"] is None
    # the park's own clock: 1800 s from the alarm's time, 40 minutes ago: overdue
    assert parse(found["response_due_at"]) == raised + timedelta(seconds=1800)
    assert found["response_overdue"] is True
    numbers = stats(client, operator, park)
    assert numbers["reported_late"] == 0 and numbers["accidents"] == 0
    assert numbers["by_category"] == {"hazard": 1} and numbers["response_late"] == 1


def test_casualties_make_an_accident_graded_with_the_clock_from_learning_of_it(
    client: TestClient, operator: dict[str, str], park: FixturePark
) -> None:
    learned = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    incident = open_incident(
        client, operator, park.id, occurred_at=iso(learned - timedelta(minutes=10)),
        learned_at=iso(learned), enterprise_id=park.enterprises["E1"],
    )  # fmt: skip
    assert incident["category"] == "hazard" and incident["report_due_at"] is None
    known = learned + timedelta(minutes=20)
    body = casualties(client, operator, park, incident["id"], serious_injuries=1,
                      known_at=iso(known))  # fmt: skip
    # 条例 Art. 3: 1 serious injury is 一般; Art. 9: due 1 h after 10:20, long past
    assert (body["category"], body["grade"], body["grade_zh"]) == (
        "accident",
        "general",
        "一般事故",
    )
    assert parse(body["report_due_at"]) == known + timedelta(hours=1)
    assert body["report_overdue"] is True and body["report_seconds_left"] < -3600
    body = casualties(client, operator, park, incident["id"], deaths=3, serious_injuries=1,
                      direct_loss_yuan="2500000.00")  # fmt: skip
    assert body["grade"] == "larger" and body["deaths"] == 3  # 3 deaths: 较大
    assert body["direct_loss_yuan"] == 2_500_000.0
    assert parse(body["report_due_at"]) == known + timedelta(hours=1)  # the clock stays
    changes = [e for e in body["timeline"] if e["action"] == "casualties_changed"]
    assert [(c["detail"]["from"]["deaths"], c["detail"]["to"]["deaths"]) for c in changes] == [
        (0, 0),
        (0, 3),
    ]
    assert [c["detail"]["grade"] for c in changes] == ["general", "larger"]
    grades = client.get(f"/api/v1/parks/{park.id}/emergency/accident-grades", headers=operator)
    larger = next(g for g in grades.json()["grades"] if g["id"] == "larger")
    assert (larger["min_deaths"], larger["min_serious_injuries"]) == (3, 10)
    assert larger["min_direct_loss_yuan"] == 10_000_000 and "第三条" in grades.json()["source"]
    numbers = stats(client, operator, park)
    assert numbers["accidents"] == 1 and numbers["by_grade"] == {"larger": 1}
    assert numbers["reported_late"] == 1  # unreported and past due


def test_first_report_late_follow_up_and_supplement_within_30_days(
    client: TestClient,
    operator: dict[str, str],
    park: FixturePark,
    settings: Settings,
    database_url: str,
) -> None:
    learned = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    incident = open_incident(client, operator, park.id, learned_at=iso(learned),
                             casualties={"minor_injuries": 2})  # fmt: skip
    iid = incident["id"]
    assert incident["grade"] == "general"
    assert parse(incident["report_due_at"]) == learned + timedelta(hours=1)
    url = f"/api/v1/parks/{park.id}/incidents/{iid}/report"
    early = client.post(url, json={"kind": "follow_up"}, headers=operator)
    assert early.status_code == 409  # no 续报 before the first report
    sent = learned + timedelta(minutes=75)
    body = report(client, operator, park, iid, sent_at=iso(sent), recipient="区应急管理局",
                  reporter="张三", reporter_phone="0512-12345678",
                  measures="疏散、堵漏")  # fmt: skip
    (first,) = body["reports"]
    assert first["kind"] == "first" and first["kind_zh"] == "首报"
    assert first["late"] is True and first["sent_by"] == "张三"  # 75 min > 60 min
    assert parse(body["reported_at"]) == sent and body["report_overdue"] is False
    again = client.post(url, json={"kind": "first"}, headers=operator)
    assert again.status_code == 409
    body = report(client, operator, park, iid, kind="follow_up", narrative="火势已控制")
    assert [r["kind"] for r in body["reports"]] == ["first", "follow_up"]
    assert body["reports"][1]["late"] is None
    # a casualty change after the first report, within 30 days: a 补报 is owed
    body = casualties(client, operator, park, iid, minor_injuries=2, serious_injuries=1)
    assert body["supplement_due_at"] is not None
    last = [e for e in body["timeline"] if e["action"] == "casualties_changed"][-1]
    assert last["detail"]["supplement"] == "due"
    run_report_job(settings)
    assert run_report_job(settings) == 0  # announced once
    owed = [d for t, d in outbox_types(database_url, park.id) if t == "incident.supplement_due"]
    assert [d["id"] for d in owed] == [iid]
    body = report(client, operator, park, iid, kind="supplement")
    assert body["supplement_due_at"] is None and body["reports"][-1]["late"] is False
    assert stats(client, operator, park)["reported_late"] == 1


def test_fire_casualty_change_after_7_days_owes_no_supplement(
    client: TestClient, operator: dict[str, str], park: FixturePark
) -> None:
    # 条例 Art. 13: 7 days for fire accidents; the change 8 days after the fire
    occurred = (datetime.now(UTC) - timedelta(days=8)).replace(microsecond=0)
    incident = open_incident(client, operator, park.id, type="fire", occurred_at=iso(occurred),
                             learned_at=iso(occurred), casualties={"deaths": 1})  # fmt: skip
    report(client, operator, park, incident["id"], sent_at=iso(occurred + timedelta(minutes=30)))
    body = casualties(client, operator, park, incident["id"], deaths=2)
    assert body["supplement_due_at"] is None
    last = [e for e in body["timeline"] if e["action"] == "casualties_changed"][-1]
    assert last["detail"]["supplement"] == "outside_window"
    # a gas leak the same 8 days ago is inside its 30 days
    gas = open_incident(client, operator, park.id, occurred_at=iso(occurred),
                        learned_at=iso(occurred), casualties={"deaths": 1})  # fmt: skip
    report(client, operator, park, gas["id"], sent_at=iso(occurred + timedelta(minutes=30)))
    assert casualties(client, operator, park, gas["id"], deaths=2)["supplement_due_at"]


def test_a_hazard_event_report_is_never_late_and_corrected_figures_withdraw_the_clock(
    client: TestClient, operator: dict[str, str], park: FixturePark
) -> None:
    learned = datetime.now(UTC) - timedelta(hours=5)
    incident = open_incident(client, operator, park.id, learned_at=iso(learned))
    body = casualties(client, operator, park, incident["id"], minor_injuries=1)
    assert body["category"] == "accident"
    body = casualties(client, operator, park, incident["id"], minor_injuries=0)
    assert body["category"] == "hazard" and body["report_due_at"] is None
    body = report(client, operator, park, incident["id"])
    assert body["reports"][0]["late"] is None and body["reports"][0]["due_at"] is None
    assert stats(client, operator, park)["reported_late"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"learned_at": "2999-01-01T00:00:00Z"}, "learned_at"),
        ({"occurred_at": "2026-01-02T00:00:00Z", "learned_at": "2026-01-01T00:00:00Z"},
         "occurred_at"),
        ({"chemical": "unobtainium"}, "chemical"),
        ({"enterprise_id": "nobody"}, "enterprise_id"),
        ({"casualties": {"deaths": -1}}, "deaths"),
    ],
)  # fmt: skip
def test_invalid_times_and_references_are_422(
    client: TestClient,
    operator: dict[str, str],
    park: FixturePark,
    body: dict[str, Any],
    field: str,
) -> None:
    payload = {"type": "gas_leak", "location": {"lon": LON, "lat": LAT}, **body}
    response = client.post(f"/api/v1/parks/{park.id}/incidents", json=payload, headers=operator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


def test_report_document_html_and_pdf_rendered_to_a_page(
    client: TestClient, operator: dict[str, str], viewer: dict[str, str], park: FixturePark,
    tmp_path: Path,
) -> None:  # fmt: skip
    # 2026-12-01 09:30 Asia/Shanghai = 01:30 UTC
    occurred = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    incident = open_incident(
        client, operator, park.id, type="fire", occurred_at=iso(occurred),
        learned_at=iso(occurred + timedelta(minutes=5)), enterprise_id=park.enterprises["E1"],
        description="仓库起火", casualties={"deaths": 3, "serious_injuries": 2,
                                       "direct_loss_yuan": "12000000"},
    )  # fmt: skip
    body = report(client, operator, park, incident["id"], reporter="李四",
                  sent_at=iso(occurred + timedelta(minutes=50)), place="3号仓库",
                  measures="启动火灾应急预案，疏散120人")  # fmt: skip
    rid = body["reports"][0]["id"]
    url = f"/api/v1/parks/{park.id}/incidents/{incident['id']}/reports/{rid}"
    as_json = client.get(url, headers=viewer).json()
    assert as_json["content"]["grade_zh"] == "较大事故" and as_json["late"] is False
    html = client.get(url, headers={**viewer, "Accept": "text/html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    for label in ("时间", "地点", "单位", "经过", "伤亡", "损失", "措施", "报告人"):
        assert f"<th>{label}</th>" in html.text
    assert "2026-12-01 09:30" in html.text and "E1" in html.text and "3号仓库" in html.text
    assert "死亡 3 人" in html.text and "12,000,000.00 元" in html.text
    pdf = client.get(url, params={"format": "pdf"}, headers=viewer)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content, tmp_path)
    for expected in (
        "生产安全事故首报",
        "伤亡",
        "死亡 3 人",
        "较大事故",
        "李四",
        "启动火灾应急预案",
    ):
        assert expected in text, expected
    png = first_page_png(pdf.content, tmp_path)
    with Image.open(png) as page:
        # A4 landscape at 60 dpi: 841.9 x 595.3 pt -> 702 x 496 (rounded up: 497) px
        assert page.size[0] == 702 and 496 <= page.size[1] <= 497
        grey = page.convert("L")
        dark = sum(grey.histogram()[:128])  # pixels darker than mid-grey
        assert dark > 2000  # text and table lines were drawn
        assert grey.getextrema()[0] < 50  # something close to black
    assert io.BytesIO(png.read_bytes()).getbuffer().nbytes > 5000
