"""电力看经济 on hand-made meter data: the operating rule across meter resets, 开工率, the
electricity index, rollups and raw read alike, and the anomaly job's webhook events."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine_for
from app.economy.power import detect_park
from tests.api.conftest import create_device, create_park, series_id, write_readings
from tests.api.worker_util import drain_rollups
from tests.economy.support import make_enterprise

TZ = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


def daily_readings(
    start: date, steps: list[float], first: float = 0.0
) -> list[tuple[datetime, float]]:
    """One reading at local noon per day, from ``start`` - 1 day (the baseline reading)."""
    readings, value = [(at(start - timedelta(days=1), 12), first)], first
    for i, step in enumerate(steps):
        value += step
        readings.append((at(start + timedelta(days=i), 12), value))
    return readings


def meter(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    enterprise_id: str,
    database_url: str,
    **extra: object,
) -> int:
    device = create_device(client, admin, park_id, enterprise_id=enterprise_id, **extra)
    return series_id(database_url, park_id, str(device["id"]), "energy_kwh")


def _keep_all(settings: Settings) -> Settings:
    return settings.model_copy(update={"raw_retention": timedelta(days=36500)})


@pytest.fixture(scope="module")
def world(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> dict[str, str]:
    park = create_park(client, admin)
    a = make_enterprise(database_url, park.id, industry_code="C3484")
    b = make_enterprise(database_url, park.id, industry_code="I65")
    c = make_enterprise(database_url, park.id, industry_code="C26")
    sa = meter(client, admin, park.id, a, database_url)
    sb = meter(client, admin, park.id, b, database_url)
    sc = meter(client, admin, park.id, c, database_url)
    with psycopg.connect(database_url) as conn:
        main = conn.execute("SELECT device_id FROM series WHERE id = %s", (sc,)).fetchone()
    assert main is not None
    sub_c = meter(client, admin, park.id, c, database_url, parent_meter_id=main[0])
    dec = date(2025, 12, 1)
    # Base month: a 100 kWh a day, c 50 a day (its sub-meter 40 a day: not counted), b none.
    write_readings(database_url, sa, daily_readings(dec, [100.0] * 31, first=1000))
    write_readings(database_url, sc, daily_readings(dec, [50.0] * 31, first=500))
    write_readings(database_url, sub_c, daily_readings(dec, [40.0] * 31))
    drain_rollups(_keep_all(settings))  # December read from rollup_day
    jan = date(2026, 1, 1)
    last_a = 1000 + 3100.0
    # January, left queued (read from raw): a: +100, +20, then on the 3rd +10, a reset to 5
    # and +35 (50 in all), +31, +30. b: 10 a day. c: nothing at all.
    a_jan = [
        (at(jan, 12), last_a + 100),
        (at(jan + timedelta(days=1), 12), last_a + 120),
        (at(jan + timedelta(days=2), 8), last_a + 130),
        (at(jan + timedelta(days=2), 12), 5.0),
        (at(jan + timedelta(days=2), 20), 40.0),
        (at(jan + timedelta(days=3), 12), 71.0),
        (at(jan + timedelta(days=4), 12), 101.0),
    ]
    write_readings(database_url, sa, a_jan)
    write_readings(database_url, sb, daily_readings(jan, [10.0] * 5))
    write_readings(
        database_url, sc, [(at(jan + timedelta(days=i), 12), 500 + 1550.0) for i in range(6)]
    )  # c: readings through Jan 6, all flat (zero load); a and b: none on Jan 6 (outage)
    return {"park": park.id, "a": a, "b": b, "c": c}


def _index(client: TestClient, viewer: dict[str, str], park_id: str) -> dict[str, object]:
    url = f"/api/v1/parks/{park_id}/economy/power-index?from=2026-01-01&to=2026-01-05"
    response = client.get(url, headers=viewer)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_operating_rule_with_resets(
    client: TestClient, viewer: dict[str, str], world: dict[str, str]
) -> None:
    body = _index(client, viewer, world["park"])
    assert body["base_month"] == "2025-12" and body["operating_ratio"] == 0.3
    firms = {e["enterprise_id"]: e for e in body["enterprises"]}  # type: ignore[attr-defined]
    a, b, c = firms[world["a"]], firms[world["b"]], firms[world["c"]]
    assert a["baseline_kwh"] == pytest.approx(100) and c["baseline_kwh"] == pytest.approx(50)
    assert b["baseline_kwh"] == 0
    assert [d["kwh"] for d in a["days"]] == pytest.approx([100, 20, 50, 31, 30])
    assert [d["operating"] for d in a["days"]] == [True, False, True, True, False]
    assert [d["operating"] for d in b["days"]] == [None] * 5  # no baseline: not monitored
    assert [d["operating"] for d in c["days"]] == [False] * 5
    assert a["section"] == "C" and b["section"] == "I"
    days = body["days"]  # type: ignore[assignment]
    assert [d["monitored"] for d in days] == [2] * 5  # type: ignore[index]
    assert [d["operating_rate"] for d in days] == [0.5, 0, 0.5, 0.5, 0]  # type: ignore[index]
    # Index: the day's kWh over the base month's daily average (100 + 50) x 100.
    first = days[0]  # type: ignore[index]
    assert first["index"] == pytest.approx((100 + 10) / 150 * 100)
    assert first["by_industry"]["C"] == pytest.approx(100 / 150 * 100)
    assert first["by_industry"]["I"] is None  # no baseline in that section


def test_rollups_and_raw_agree(
    client: TestClient, viewer: dict[str, str], world: dict[str, str], settings: Settings
) -> None:
    before = _index(client, viewer, world["park"])
    drain_rollups(_keep_all(settings))
    assert _index(client, viewer, world["park"]) == before


def test_export_of_days(client: TestClient, viewer: dict[str, str], world: dict[str, str]) -> None:
    url = f"/api/v1/parks/{world['park']}/economy/power-index?from=2026-01-01&to=2026-01-05"
    exported = client.get(url + "&format=csv&table=enterprises&headers=en", headers=viewer)
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "enterprise_id,section,baseline_kwh,date,kwh,operating" and len(lines) == 16
    bad = client.get(url.replace("2026-01-05", "2025-01-05"), headers=viewer)
    assert bad.status_code == 422


async def _detect(settings: Settings, park_id: str, day: date) -> int:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as session, session.begin():
            return await detect_park(session, park_id, "Asia/Shanghai", day)
    finally:
        await engine.dispose()


def test_anomalies_raise_webhook_events_once(
    client: TestClient,
    viewer: dict[str, str],
    world: dict[str, str],
    settings: Settings,
    database_url: str,
) -> None:
    """The seeded 2026 calendar (国务院办公厅 2025-11-04): Jan 1-3 holidays (rest days),
    Sunday Jan 4 a make-up working day (调休), Jan 5-6 working days. December 2025: weekends
    rest. Window 7, ratio 0.5, zero load 3 working days (the defaults)."""
    park = world["park"]
    # Jan 2 (holiday, a Sunday-class rest day): a at 20 against its Sundays and holidays
    # (Jan 1 and the December Sundays, 100 each): 20 < 0.5 x 100 -> a drop. b: one such day
    # of data -> no basis.
    assert asyncio.run(_detect(settings, park, date(2026, 1, 2))) == 1
    # Jan 3 (holiday): c at zero since Jan 1, but on rest days: no zero load. a at 50 against
    # Jan 2 (20), Jan 1 and the December Sundays (100): well above half of it.
    assert asyncio.run(_detect(settings, park, date(2026, 1, 3))) == 0
    # Jan 4 (调休 working day): a at 31 against its last 7 working days (Dec 23-31, 100
    # each): a drop. c: working days Dec 30 (50), Dec 31 (50), Jan 4 (0): not 3 zero days.
    assert asyncio.run(_detect(settings, park, date(2026, 1, 4))) == 1
    assert asyncio.run(_detect(settings, park, date(2026, 1, 4))) == 0  # once
    # Jan 6: a and b have no reading at all (a communications outage): no_data, not zero
    # load; c flat on the working days Jan 4, 5 and 6 after 50 on Dec 31: zero load.
    assert asyncio.run(_detect(settings, park, date(2026, 1, 6))) == 3
    url = f"/api/v1/parks/{park}/economy/anomalies?from=2026-01-01&to=2026-01-31"
    flags = client.get(url, headers=viewer).json()
    assert sorted((f["date"], f["enterprise_id"], f["kind"]) for f in flags) == sorted([
        ("2026-01-02", world["a"], "sudden_drop"),
        ("2026-01-04", world["a"], "sudden_drop"),
        ("2026-01-06", world["a"], "no_data"),
        ("2026-01-06", world["b"], "no_data"),
        ("2026-01-06", world["c"], "zero_load"),
    ])  # fmt: skip
    holiday = next(f for f in flags if f["date"] == "2026-01-02")
    assert holiday["detail"]["rest_day"] == 1
    makeup = next(f for f in flags if f["date"] == "2026-01-04")
    assert makeup["detail"]["trailing_average_kwh"] == pytest.approx(100)
    assert makeup["detail"]["rest_day"] == 0
    exported = client.get(url + "&format=csv&headers=en", headers=viewer).content.decode(
        "utf-8-sig"
    )
    assert exported.splitlines()[0] == "id,enterprise_id,date,kind,detail,detected_at"
    assert len(exported.splitlines()) == 6
    with psycopg.connect(database_url) as conn:
        events = conn.execute(
            "SELECT type, severity, data->>'enterprise_id', data->>'kind' FROM event_outbox "
            "WHERE park_id = %s ORDER BY created_at",
            (park,),
        ).fetchall()
    assert sorted(events) == sorted([
        ("economy.anomaly", "warning", world["a"], "sudden_drop"),
        ("economy.anomaly", "warning", world["a"], "sudden_drop"),
        ("economy.anomaly", "warning", world["a"], "no_data"),
        ("economy.anomaly", "warning", world["b"], "no_data"),
        ("economy.anomaly", "warning", world["c"], "zero_load"),
    ])  # fmt: skip


def test_a_parks_own_parameters_win(
    client: TestClient, viewer: dict[str, str], world: dict[str, str], database_url: str
) -> None:
    """The park's own operating ratio and base month replace the defaults."""
    park = world["park"]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO economy_parameter (park_id, name, valid_from, value) VALUES "
            "(%s, 'operating_ratio', '2025-01-01', '0.6')",
            (park,),
        )
    body = _index(client, viewer, park)
    firms = {e["enterprise_id"]: e for e in body["enterprises"]}  # type: ignore[attr-defined]
    assert body["operating_ratio"] == 0.6
    assert [d["operating"] for d in firms[world["a"]]["days"]] == [True, False, False, False, False]
    url = f"/api/v1/parks/{park}/economy/power-index?from=2026-01-01&to=2026-01-05"
    other_base = client.get(url + "&base_month=2026-01", headers=viewer).json()
    a = next(e for e in other_base["enterprises"] if e["enterprise_id"] == world["a"])
    assert other_base["base_month"] == "2026-01"
    assert a["baseline_kwh"] == pytest.approx((100 + 20 + 50 + 31 + 30) / 31)


def test_an_outage_is_not_idle_and_the_comparable_index(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], database_url: str
) -> None:
    """x: 100 kWh a day in December, y: 50. Jan 1: x 100, y 25. Jan 2: x 80, y's meter
    sends nothing (an outage). By hand (base month December, operating above 0.3 x baseline):
    - Jan 1: index (100 + 25) / 150 x 100 = 83.3; 同口径 the same (both firms have data);
      monitored 2, operating 2 (x 100 > 30, y 25 > 0.3 x 50 = 15), rate 1.
    - Jan 2: index 80 / 150 x 100 = 53.3 (the total falls with the outage); 同口径 over x
      alone 80 / 100 x 100 = 80; monitored 1 (y has no data: neither idle nor operating),
      no_data 1, operating 1, rate 1/1 (not 1/2)."""
    park = create_park(client, admin).id
    x = make_enterprise(database_url, park, industry_code="C3484")
    y = make_enterprise(database_url, park, industry_code="C3484")
    sx = meter(client, admin, park, x, database_url)
    sy = meter(client, admin, park, y, database_url)
    dec, jan = date(2025, 12, 1), date(2026, 1, 1)
    write_readings(database_url, sx, daily_readings(dec, [100.0] * 31))
    write_readings(database_url, sy, daily_readings(dec, [50.0] * 31))
    write_readings(database_url, sx, [(at(jan, 12), 3200.0),
                                      (at(jan + timedelta(days=1), 12), 3280.0)])  # fmt: skip
    write_readings(database_url, sy, [(at(jan, 12), 1575.0)])
    url = f"/api/v1/parks/{park}/economy/power-index?from=2026-01-01&to=2026-01-02"
    body = client.get(url, headers=viewer).json()
    first, second = body["days"]
    assert first["index"] == pytest.approx(125 / 150 * 100)
    assert first["comparable_index"] == pytest.approx(125 / 150 * 100)
    assert (first["monitored"], first["operating"], first["no_data"]) == (2, 2, 0)
    assert second["index"] == pytest.approx(80 / 150 * 100)
    assert second["comparable_index"] == pytest.approx(80)
    assert second["by_industry_comparable"]["C"] == pytest.approx(80)
    assert (second["monitored"], second["operating"], second["no_data"]) == (1, 1, 1)
    assert second["operating_rate"] == 1
    firms = {e["enterprise_id"]: e for e in body["enterprises"]}
    assert [(d["has_data"], d["operating"]) for d in firms[y]["days"]] == [
        (True, True),
        (False, None),
    ]
