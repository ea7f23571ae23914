"""Budgets: the year-to-date position, and each threshold event fired once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.carbon import ledger, repository
from app.carbon.service import today
from app.core.appstate import app_state
from app.core.config import Settings
from tests.api.conftest import create_park
from tests.assets.support import make_enterprise
from tests.carbon.support import build_rollups, events, meter, run_budget_check


def test_budget_events_fire_once_each(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    year = today("Asia/Shanghai").year
    if today("Asia/Shanghai") < date(year, 1, 5):
        pytest.skip("the readings of 1-4 January must lie in the past")
    park = create_park(client, admin)
    # 1000 kWh on 2 January: 0.5306 t (national 2023 factor)
    readings = [(f"{year}-01-01 12:00", 0), (f"{year}-01-02 12:00", 1000)]
    meter(client, admin, database_url, park.id, readings)
    build_rollups(settings)
    url = f"/api/v1/parks/{park.id}/carbon/budgets"
    body = {"year": year, "metric": "carbon_t", "cap": 0.6}
    put = client.put(url, json=body, headers=admin)
    assert put.status_code == 200, put.text
    position = put.json()
    assert position["to_date"] == pytest.approx(0.5306)
    assert position["share"] == pytest.approx(0.5306 / 0.6)
    elapsed = (today("Asia/Shanghai") - date(year, 1, 1)).days + 1
    days = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    assert position["forecast"] == pytest.approx(0.5306 * days / elapsed)

    run_budget_check(settings)
    run_budget_check(settings)
    assert [t for t, _ in events(database_url, park.id)] == ["carbon.budget_warning"]

    meter(
        client,
        admin,
        database_url,
        park.id,
        [(f"{year}-01-03 12:00", 100), (f"{year}-01-04 12:00", 300)],
    )
    build_rollups(settings)
    run_budget_check(settings)
    run_budget_check(settings)
    fired = events(database_url, park.id)
    assert [t for t, _ in fired] == ["carbon.budget_warning", "carbon.budget_exceeded"]
    assert fired[1][1]["threshold_pct"] == 100 and fired[1][1]["cap"] == 0.6
    listed = client.get(url, params={"year": year}, headers=viewer).json()
    assert listed[0]["announced"] == [80, 100]


def test_an_enterprise_intensity_target(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    year = today("Asia/Shanghai").year
    if today("Asia/Shanghai") < date(year, 1, 3):
        pytest.skip("the readings of 1-2 January must lie in the past")
    park = create_park(client, admin)
    enterprise = make_enterprise(client, admin, park.id)
    readings = [(f"{year}-01-01 12:00", 0), (f"{year}-01-02 12:00", 1000)]
    meter(client, admin, database_url, park.id, readings, enterprise_id=enterprise)
    build_rollups(settings)
    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass('economy_report')").fetchone() == (None,):
            pytest.skip("the economy module's table is not there")
        conn.execute(
            "INSERT INTO economy_report (park_id, enterprise_id, month, output_value, "
            "value_added, revenue, tax, employees, rd_spend) "
            "VALUES (%s, %s, %s, 10, 2, 10, 1, 1, 0)",
            (park.id, enterprise, date(year, 1, 1)),
        )
    url = f"/api/v1/parks/{park.id}/carbon/budgets"
    body = {"year": year, "metric": "co2_per_value_added", "cap": 0.2, "enterprise_id": enterprise}
    position = client.put(url, json=body, headers=admin).json()
    assert position["to_date"] == pytest.approx(0.5306 / 2)  # tCO₂ per 10⁴ yuan
    assert position["forecast"] == position["to_date"]  # a ratio: no straight line
    run_budget_check(settings)
    fired = events(database_url, park.id)
    assert [(t, d["enterprise_id"]) for t, d in fired] == [
        ("carbon.budget_warning", enterprise),
        ("carbon.budget_exceeded", enterprise),
    ]


def year_to_date() -> dict[str, str]:
    """The carbon panel's emissions query (app/cockpit/static/js/panels/carbon.js)."""
    year = today("Asia/Shanghai").year
    return {"from": f"{year}-01-01", "to": today("Asia/Shanghai").isoformat(),
            "group_by": "park", "interval": "month", "total": "true"}  # fmt: skip


def hold_builds(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], threading.Event]:
    """Every ledger build from now on waits at its first step (the park's grid region) until
    the event is set; the parks of the builds begun, in order."""
    builds: list[str] = []
    gate = threading.Event()
    region = repository.region

    async def held_region(session: Any, park_id: str) -> Any:
        builds.append(park_id)
        await asyncio.to_thread(gate.wait, 60)
        return await region(session, park_id)

    monkeypatch.setattr(repository, "region", held_region)
    return builds, gate


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll until ``condition`` holds, for at most 30 s (the asserts after it say what failed)."""
    for _ in range(600):
        if condition():
            return
        time.sleep(0.05)


def test_the_panel_s_two_reads_of_the_year_to_date_build_one_ledger(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cockpit's carbon panel asks the year to date's emissions and the budgets together;
    the park's ledger for them is built once in the API process, and again for a later read
    (nothing kept). The first build is held until the budgets' read has joined it."""
    year = today("Asia/Shanghai").year
    if today("Asia/Shanghai") < date(year, 1, 5):
        pytest.skip("the readings of 1-4 January must lie in the past")
    park = create_park(client, admin)
    # 1000 kWh on 2 January: 1000 x 0.5306 kg/kWh (national 2023 factor) = 0.5306 t
    meter(client, admin, database_url, park.id, [(f"{year}-01-01 12:00", 0),
                                                 (f"{year}-01-02 12:00", 1000)])  # fmt: skip
    build_rollups(settings)
    base = f"/api/v1/parks/{park.id}/carbon"
    put = client.put(base + "/budgets", json={"year": year, "metric": "carbon_t", "cap": 2.0},
                     headers=admin)  # fmt: skip
    assert put.status_code == 200, put.text

    builds, gate = hold_builds(monkeypatch)
    flights = app_state(client).cache(ledger.Flights)  # type: ignore[arg-type]  # client.app
    joined = flights.hits
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.get, base + "/emissions", params=year_to_date(),
                            headers=viewer)  # fmt: skip
        second = pool.submit(client.get, base + "/budgets", params={"year": year}, headers=viewer)
        wait_for(lambda: flights.hits > joined or second.done())  # one waits for the other
        gate.set()
        answers = first.result(60), second.result(60)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert builds == [park.id]
    total = answers[0].json()["total"][0]["total_location_t"]
    assert total == pytest.approx(0.5306)
    assert answers[1].json()[0]["to_date"] == pytest.approx(0.5306)

    again = client.get(base + "/budgets", params={"year": year}, headers=viewer)
    assert again.json()[0]["to_date"] == pytest.approx(0.5306)
    assert builds == [park.id, park.id]


def test_another_park_s_read_at_the_same_time_builds_its_own_ledger(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A build under way is shared only by reads of the same park and range: the second park's
    budgets, asked while the first park's emissions are being built, get their own figures."""
    year = today("Asia/Shanghai").year
    if today("Asia/Shanghai") < date(year, 1, 5):
        pytest.skip("the readings of 1-4 January must lie in the past")
    parks = [create_park(client, admin) for _ in range(2)]
    for park, kwh in zip(parks, (1000, 2000), strict=True):
        meter(client, admin, database_url, park.id, [(f"{year}-01-01 12:00", 0),
                                                     (f"{year}-01-02 12:00", kwh)])  # fmt: skip
        put = client.put(f"/api/v1/parks/{park.id}/carbon/budgets", headers=admin,
                         json={"year": year, "metric": "carbon_t", "cap": 5.0})  # fmt: skip
        assert put.status_code == 200, put.text
    build_rollups(settings)
    builds, gate = hold_builds(monkeypatch)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.get, f"/api/v1/parks/{parks[0].id}/carbon/emissions",
                            params=year_to_date(), headers=viewer)  # fmt: skip
        second = pool.submit(client.get, f"/api/v1/parks/{parks[1].id}/carbon/budgets",
                             params={"year": year}, headers=viewer)  # fmt: skip
        wait_for(lambda: len(builds) == 2)  # both begun, each held at the gate
        gate.set()
        answers = first.result(60), second.result(60)
    assert sorted(builds) == sorted(p.id for p in parks)
    # 1000 kWh x 0.5306 kg/kWh = 0.5306 t; 2000 kWh = 1.0612 t
    assert answers[0].json()["total"][0]["total_location_t"] == pytest.approx(0.5306)
    assert answers[1].json()[0]["to_date"] == pytest.approx(1.0612)
