"""The enterprise's monthly report: draft, submit, return, resubmit, accept (and reopen),
with the audit trail; the jump check with hand-made numbers; the reminder job and the
overdue list."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine_for
from app.economy import flow
from app.economy.flow_jobs import remind
from app.notify.render import render
from app.notify.routing import dedup_key
from tests.api.conftest import auth, create_park, make_key
from tests.economy.support import make_enterprise, put_report, report

RATIO = 1.5  # PARKTWIN_ECONOMY_REPORT_JUMP_RATIO's default


# ------------------------------------------------------------------ the rules, by hand


def test_compare_by_hand() -> None:
    def c(value: float | None, base: float | None) -> tuple[float | None, bool, str]:
        got = flow.compare(value, base, "2026-09", RATIO)
        return got.ratio, got.flagged, got.reason

    assert c(150.0, 100.0) == (1.5, False, "ok")  # exactly the ratio: not beyond it
    assert c(151.0, 100.0) == (1.51, True, "jump")
    assert c(67.0, 100.0) == (0.67, False, "ok")  # 1/1.5 = 0.6667
    assert c(66.0, 100.0) == (0.66, True, "drop")
    assert c(-30.0, -20.0) == (1.5, False, "ok")  # a loss of 20 grown to 30: same sign, ×1.5
    assert c(-40.0, -20.0) == (2.0, True, "jump")
    assert c(-10.0, 30.0) == (None, True, "sign_change")  # 增加值 turned negative
    assert c(0.0, 0.0) == (None, False, "ok")
    assert c(5.0, 0.0) == (None, True, "from_zero")
    assert c(0.0, 2.0) == (None, True, "to_zero")
    assert c(7.0, None) == (None, False, "no_base")  # nothing accepted that month


def test_deadline_and_reminder_windows() -> None:
    due = flow.deadline(date(2026, 10, 1), 16, "Asia/Shanghai")
    assert due.astimezone(UTC) == datetime(2026, 11, 16, 4, tzinfo=UTC)  # 12:00 in Shanghai
    december = flow.deadline(date(2026, 12, 1), 16, "Asia/Shanghai")
    assert december.astimezone(UTC) == datetime(2027, 1, 16, 4, tzinfo=UTC)
    # 2026-11-01 02:00 in Shanghai is still 2026-10-31 in UTC: the park's calendar decides
    now = datetime(2026, 10, 31, 18, tzinfo=UTC)
    assert flow.month_due_around(now, "Asia/Shanghai") == date(2026, 10, 1)
    assert flow.latest_past_due(now, 16, "Asia/Shanghai") == date(2026, 9, 1)
    three = timedelta(days=3)
    assert flow.reminder_kind(due - timedelta(days=4), due, three) is None
    assert flow.reminder_kind(due - timedelta(days=2), due, three) == "due"
    assert flow.reminder_kind(due, due, three) == "overdue"
    assert flow.reminder_kind(due - timedelta(hours=1), due, timedelta(0)) is None
    assert flow.next_state("submit", "returned") == "resubmitted"
    assert flow.next_state("save", "submitted") is None


# ------------------------------------------------------------------ the round trip


def _enterprise_key(database_url: str, park: str, e: str) -> dict[str, str]:
    return auth(make_key(database_url, "enterprise", park, e))


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def test_round_trip_with_audit_trail(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    park = create_park(client, admin).id
    e, neighbour = make_enterprise(database_url, park), make_enterprise(database_url, park)
    me = _enterprise_key(database_url, park, e)
    other = _enterprise_key(database_url, park, neighbour)
    # the accepted figures it is checked against: September 2026 and October 2025
    put_report(client, admin, park, e, "2026-09", revenue=100.0)
    put_report(client, admin, park, e, "2025-10", revenue=100.0)
    own = f"/api/v1/parks/{park}/enterprises/{e}/reports/2026-10"
    park_side = f"/api/v1/parks/{park}/economy/reports/{e}/2026-10"

    assert client.post(f"{park_side}/accept", headers=admin).status_code == 409  # nothing sent
    nobody = park_side.replace(f"/{e}/", "/nobody/")
    assert client.post(f"{nobody}/accept", headers=admin).status_code == 404
    empty = _ok(client.get(own, headers=me))
    assert empty["state"] == "none" and empty["figures"] is None
    assert empty["deadline_at"] == "2026-11-16T04:00:00Z"
    assert client.get(own, headers=other).status_code == 404  # the neighbour sees nothing
    assert client.put(own, json=report(), headers=other).status_code == 404
    assert client.put(own, json=report(), headers=viewer).status_code == 403  # staff: admin

    draft = _ok(client.put(own, json=report(revenue=200.0), headers=me))
    assert draft["state"] == "draft"
    assert [f["field"] for f in draft["flags"]] == ["revenue"]
    assert client.post(f"{own}/submit", headers=me).status_code == 422  # unexplained jump
    sent = _ok(client.post(f"{own}/submit", json={"explanations": {"revenue": "新产线投产"}},
                           headers=me))  # fmt: skip
    assert sent["state"] == "submitted" and sent["submitted_by"] and sent["submitted_at"]
    assert client.put(own, json=report(), headers=me).status_code == 409  # in review
    assert client.get(park_side, headers=viewer).status_code == 404  # counts nowhere yet

    queue = _ok(client.get(f"/api/v1/parks/{park}/economy/submissions?state=submitted",
                           headers=viewer))  # fmt: skip
    assert [(s["enterprise_id"], s["month"]) for s in queue["items"]] == [(e, "2026-10")]
    assert client.get(f"/api/v1/parks/{park}/economy/submissions", headers=me).status_code == 403
    assert client.post(f"{park_side}/return", json={"comment": "x"}, headers=me).status_code == 403
    assert client.post(f"{park_side}/return", json={}, headers=admin).status_code == 422
    back = _ok(client.post(f"{park_side}/return", json={"comment": "营业收入请核对"},
                           headers=admin))  # fmt: skip
    assert back["state"] == "returned" and back["comment"] == "营业收入请核对"
    assert client.post(f"{park_side}/accept", headers=admin).status_code == 409  # returned

    fixed = _ok(client.put(own, json=report(revenue=150.0), headers=me))  # ×1.5: no flag
    assert fixed["state"] == "returned" and fixed["flags"] == []
    assert _ok(client.post(f"{own}/submit", headers=me))["state"] == "resubmitted"
    assert _ok(client.post(f"{park_side}/accept", headers=admin))["state"] == "accepted"
    assert _ok(client.get(park_side, headers=viewer))["revenue"] == 150.0  # now it counts
    assert client.put(own, json=report(), headers=me).status_code == 409  # accepted

    reopened = _ok(client.post(f"{park_side}/reopen", json={"comment": "税收有误"},
                               headers=admin))  # fmt: skip
    assert reopened["state"] == "returned"
    client.put(own, json=report(revenue=150.0, tax=6.0), headers=me)
    client.post(f"{own}/submit", headers=me)
    client.post(f"{park_side}/accept", json={"comment": "通过"}, headers=admin)
    assert _ok(client.get(park_side, headers=viewer))["tax"] == 6.0

    trail = _ok(client.get(f"{park_side}/trail", headers=viewer))
    assert trail["state"] == "accepted"
    moves = [(t["action"], t["from_state"], t["to_state"], t["by_role"]) for t in trail["events"]]
    assert moves == [
        ("save", None, "draft", "enterprise"),
        ("submit", "draft", "submitted", "enterprise"),
        ("return", "submitted", "returned", "admin"),
        ("save", "returned", "returned", "enterprise"),
        ("submit", "returned", "resubmitted", "enterprise"),
        ("accept", "resubmitted", "accepted", "admin"),
        ("reopen", "accepted", "returned", "admin"),
        ("save", "returned", "returned", "enterprise"),
        ("submit", "returned", "resubmitted", "enterprise"),
        ("accept", "resubmitted", "accepted", "admin"),
    ]  # fmt: skip
    events = trail["events"]
    assert events[0]["figures"]["revenue"] == 200.0 and events[1]["explanations"] == {
        "revenue": "新产线投产"
    }
    assert events[2]["comment"] == "营业收入请核对" and events[9]["comment"] == "通过"
    assert all(t["by_key"] and t["at"] for t in events)
    assert [(r["field"], r["old_value"], r["new_value"], r["source"]) for r in
            trail["revisions"]] == [("tax", 5.0, 6.0, "submission")]  # fmt: skip
    assert client.get(f"{park_side}/trail", headers=me).status_code == 403  # the park's view


def test_flags_list_both_comparisons_by_hand(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    """September 2026 accepted: 工业总产值 100, 增加值 30, 营业收入 90, 税收 0, employees 10,
    R&D 2; October 2025 accepted only 营业收入 40 (the others as September). October 2026
    submitted: 产值 140 (×1.4, ok both), 增加值 −10 (profit to loss), 收入 90 (×1 against
    September, ×2.25 against a year before), 税收 0 (0 against 0: fine), employees 14 (×1.4),
    R&D 0 (to zero), energy 3 tce (nothing to compare with)."""
    park = create_park(client, admin).id
    e = make_enterprise(database_url, park)
    me = _enterprise_key(database_url, park, e)
    put_report(client, admin, park, e, "2026-09", tax=0.0)
    put_report(client, admin, park, e, "2025-10", tax=0.0, revenue=40.0)
    url = f"/api/v1/parks/{park}/enterprises/{e}/reports/2026-10"
    body = report(output_value=140.0, value_added=-10.0, revenue=90.0, tax=0.0, employees=14,
                  rd_spend=0.0, energy_tce=3.0)  # fmt: skip
    flags = {f["field"]: f for f in _ok(client.put(url, json=body, headers=me))["flags"]}
    assert sorted(flags) == ["rd_spend", "revenue", "value_added"]
    revenue = flags["revenue"]
    assert revenue["value"] == 90.0
    assert revenue["previous_month"] == {
        "month": "2026-09", "value": 90.0, "ratio": 1.0, "flagged": False, "reason": "ok"
    }  # fmt: skip
    assert revenue["last_year"] == {
        "month": "2025-10", "value": 40.0, "ratio": 2.25, "flagged": True, "reason": "jump"
    }  # fmt: skip
    assert flags["value_added"]["previous_month"]["reason"] == "sign_change"
    assert flags["rd_spend"]["last_year"]["reason"] == "to_zero"
    refused = client.post(f"{url}/submit", json={"explanations": {"revenue": "去年10月停产检修"}},
                          headers=me)  # fmt: skip
    assert refused.status_code == 422
    problem = refused.json()
    assert [f["field"] for f in problem["errors"]] == ["value_added", "rd_spend"]
    assert problem["errors"][0]["last_year"]["value"] == 30.0
    blank = {"value_added": "  ", "rd_spend": "研发项目结题"}
    assert client.post(f"{url}/submit", json={"explanations": blank}, headers=me).status_code == 422
    unknown = {"employees_total": "x"}
    answer = client.post(f"{url}/submit", json={"explanations": unknown}, headers=me)
    assert answer.status_code == 422
    # a refused submit keeps nothing: every explanation goes in the one that passes
    said = {"revenue": "去年10月停产检修", "value_added": "原材料涨价，本月亏损"}
    _ok(client.put(url, json={**body, "explanations": said}, headers=me))  # saved with the draft
    done = _ok(client.post(f"{url}/submit", json={"explanations": {"rd_spend": "研发项目结题"}},
                           headers=me))  # fmt: skip
    assert done["state"] == "submitted"
    assert done["explanations"] == {**said, "rd_spend": "研发项目结题"}
    assert [f["explanation"] for f in done["flags"]] == [said["value_added"], said["revenue"],
                                                         "研发项目结题"]  # fmt: skip


# ------------------------------------------------------------------ reminder and overdue


def _remind(settings: Settings, now: datetime) -> int:
    async def run() -> int:
        engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            async with maker() as session, session.begin():
                return await remind(session, settings, now)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _events(database_url: str, park: str, type_: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT data->>'enterprise_id', data->>'state', data->>'deadline_at' "
            "FROM event_outbox WHERE park_id = %s AND type = %s ORDER BY data->>'enterprise_id'",
            (park, type_),
        ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def test_reminder_once_then_overdue_and_the_overdue_list(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    settings: Settings,
    database_url: str,
) -> None:
    park = create_park(client, admin).id
    silent, draft, sent, typed = (
        make_enterprise(database_url, park, enterprise_id=f"{n}-{park[-6:]}")
        for n in ("a", "b", "c", "d")
    )
    for e, submit in ((draft, False), (sent, True)):
        url = f"/api/v1/parks/{park}/enterprises/{e}/reports/2026-10"
        _ok(client.put(url, json=report(), headers=admin))  # staff on the enterprise's behalf
        if submit:
            _ok(client.post(f"{url}/submit", headers=admin))
    put_report(client, admin, park, typed, "2026-10")  # the park's own figures: reported

    deadline = "2026-11-16T04:00:00Z"  # 16 November, 12:00 in Shanghai
    assert _remind(settings, datetime(2026, 11, 12, 4, tzinfo=UTC)) >= 0  # 4 days ahead
    assert _events(database_url, park, "economy.report_due") == []
    _remind(settings, datetime(2026, 11, 14, 4, tzinfo=UTC))  # 2 days ahead: remind
    _remind(settings, datetime(2026, 11, 15, 4, tzinfo=UTC))  # once only
    owing = [(silent, "none", deadline), (draft, "draft", deadline)]
    assert _events(database_url, park, "economy.report_due") == owing
    assert _events(database_url, park, "economy.report_overdue") == []
    _remind(settings, datetime(2026, 11, 16, 4, 1, tzinfo=UTC))  # a minute past: overdue
    _remind(settings, datetime(2026, 11, 17, tzinfo=UTC))
    assert _events(database_url, park, "economy.report_overdue") == owing

    url = f"/api/v1/parks/{park}/economy/reports/overdue"
    listed = _ok(client.get(url, params={"month": "2026-10"}, headers=viewer))
    assert [(o["enterprise_id"], o["state"]) for o in listed["items"]] == [
        (silent, "none"),
        (draft, "draft"),
    ]
    assert listed["items"][0]["deadline_at"] == deadline
    first = _ok(client.get(url, params={"month": "2026-10", "limit": 1}, headers=viewer))
    assert len(first["items"]) == 1 and first["next_cursor"]
    not_yet = _ok(client.get(url, params={"month": "2099-01"}, headers=viewer))
    assert not_yet["items"] == []  # not due yet: nobody is overdue
    me = _enterprise_key(database_url, park, silent)
    assert client.get(url, headers=me).status_code == 403


def test_reminder_notifications_name_the_enterprise_and_are_not_merged() -> None:
    data = {"enterprise_id": "e1", "enterprise_name": "甲公司", "month": "2026-10"}
    keys = {dedup_key("economy.report_due", "warning", {**data, "enterprise_id": e})
            for e in ("e1", "e2")}  # fmt: skip
    assert len(keys) == 2  # one notification per enterprise, not one for the first only
    ctx = {"type": "economy.report_due", "severity": "warning", "at": "2026-11-13T04:00:00Z",
           "park_id": "p1", "park_name": "东区", "timezone": "Asia/Shanghai",
           "deadline_at": "2026-11-16T04:00:00Z", **data}  # fmt: skip
    zh = render(ctx, "zh", "https://x.cn", lambda *_: None)
    assert zh.title == "【四级（蓝色）月报即将截止】东区"
    assert ("企业", "甲公司") in zh.facts and ("月份", "2026-10") in zh.facts
    assert ("截止", "2026-11-16 12:00:00") in zh.facts
    assert zh.todo == ["提醒企业在截止前提交月报"]
