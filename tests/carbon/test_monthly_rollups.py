"""Monthly rollups (migration 0036): the worker makes a month's row from its days; a ledger by
month reads it for a whole month with no queued hour, unless a factor version starts inside
the month or the meter is PV (self-consumption is counted per day); a ledger by day never;
电力看经济's monthly kWh and totals do. Which reads take a month's row is told by changing the
row by hand (``_add_to_month``)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine_for
from app.economy import power_repository
from app.telemetry.consumption import holds_a_month
from tests.api.conftest import create_park, series_id, write_readings
from tests.assets.support import make_enterprise
from tests.carbon.support import build_rollups, grid_factor, local, meter

# One grid meter, Shanghai wall-clock. February's consumption by hand: the step from January's
# last reading (100 − 50), 400 − 100, the restart from zero at 30 (counts in full), 130 − 30:
# 50 + 300 + 30 + 100 = 480 kWh; March's: 150 − 130 = 20 kWh.
GRID = [
    ("2026-01-31 22:00", 50),
    ("2026-02-01 00:10", 100),
    ("2026-02-10 12:00", 400),
    ("2026-02-20 08:00", 30),
    ("2026-02-28 23:50", 130),
    ("2026-03-01 00:10", 150),
]
FEBRUARY = local("2026-02-01 00:00")


def _energy(client: TestClient, headers: dict[str, str], park: str, **q: Any) -> dict[str, float]:
    """``{period: kWh}`` of the park's grid electricity."""
    url = f"/api/v1/parks/{park}/carbon/energy"
    response = client.get(url, params={"group_by": "park", **q}, headers=headers)
    assert response.status_code == 200, response.text
    return {
        r["period"]: c["quantity"]
        for r in response.json()["rows"]
        for c in r["carriers"]
        if c["carrier"] == "electricity_grid"
    }


def _month_row(database_url: str, sid: int, month: datetime) -> tuple[Any, ...] | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count, sum, min, max, first_value, last_value, increase FROM rollup_month "
            "WHERE series_id = %s AND bucket = %s",
            (sid, month),
        ).fetchone()


def _add_to_month(database_url: str, sid: int, month: datetime, kwh: float) -> None:
    """Change a monthly row by hand, to tell which reads take it."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE rollup_month SET increase = increase + %s WHERE series_id = %s AND bucket = %s",
            (kwh, sid, month),
        )


@pytest.fixture
def grid(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> tuple[str, int]:
    """A park with the grid meter, every hour rolled up: (park, series id)."""
    park = create_park(client, admin)
    device = meter(client, admin, database_url, park.id, GRID)
    build_rollups(settings)
    return park.id, series_id(database_url, park.id, device, "energy_kwh")


def test_the_worker_makes_a_month_from_its_days(
    client: TestClient,
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
    grid: tuple[str, int],
) -> None:
    park, sid = grid
    # February's four readings: sum 100 + 400 + 30 + 130 = 660; increase inside the month
    # 300 + 30 + 100 = 430 (its first reading against nothing, as a day's first is)
    assert _month_row(database_url, sid, FEBRUARY) == (4, 660, 30, 400, 100, 130, 430)
    assert _month_row(database_url, sid, local("2026-03-01 00:00")) == (1, 150, 150, 150, 150,
                                                                        150, 0)  # fmt: skip
    q = {"from": "2026-02-01", "to": "2026-03-31", "interval": "month"}
    assert _energy(client, viewer, park, **q) == {"2026-02-01": 480, "2026-03-01": 20}
    # a late reading queues its hour: February is read from its days (the queued one from raw
    # readings) until the worker has made its row again. 400 → 500 → 30 (restart) adds
    # 100 kWh: 50 + 300 + 100 + 30 + 100 = 580
    write_readings(database_url, sid, [(local("2026-02-15 09:00"), 500)])
    assert _energy(client, viewer, park, **q) == {"2026-02-01": 580, "2026-03-01": 20}
    build_rollups(settings)
    assert _month_row(database_url, sid, FEBRUARY) == (5, 1160, 30, 500, 100, 130, 530)
    assert _energy(client, viewer, park, **q) == {"2026-02-01": 580, "2026-03-01": 20}


def test_a_ledger_by_month_reads_whole_months_only(
    client: TestClient, viewer: dict[str, str], database_url: str, grid: tuple[str, int]
) -> None:
    park, sid = grid
    _add_to_month(database_url, sid, FEBRUARY, 1000)
    by_month = {"from": "2026-02-01", "to": "2026-02-28", "interval": "month"}
    assert _energy(client, viewer, park, **by_month) == {"2026-02-01": 1480}  # the month's row
    by_day = _energy(client, viewer, park, **{**by_month, "interval": "day"})
    assert sum(by_day.values()) == 480  # the days: 50 (1 Feb) + 300 + 30 + 100
    assert by_day == {"2026-02-01": 50, "2026-02-10": 300, "2026-02-20": 30, "2026-02-28": 100}
    # from 10 February, February is not whole: its days, 300 + 30 + 100 = 430, then March
    partial = {"from": "2026-02-10", "to": "2026-03-31", "interval": "month"}
    assert _energy(client, viewer, park, **partial) == {"2026-02-01": 430, "2026-03-01": 20}


def test_a_factor_starting_inside_a_month_splits_it_into_days(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    grid: tuple[str, int],
) -> None:
    park, sid = grid
    _add_to_month(database_url, sid, FEBRUARY, 1000)  # read only if February came whole
    factor = grid_factor("2026-02-15", 0.5, "test: a factor from the middle of a month")
    url = f"/api/v1/parks/{park}/carbon/factors"
    assert client.post(url, json=factor, headers=admin).status_code == 201
    q = {"from": "2026-02-01", "to": "2026-02-28", "interval": "month"}
    assert _energy(client, viewer, park, **q) == {"2026-02-01": 480}
    response = client.get(f"/api/v1/parks/{park}/carbon/emissions", params=q, headers=viewer)
    [row] = response.json()["rows"]
    # 1-14 February at the national 0.5306 (50 + 300 = 350 kWh), from the 15th at 0.5
    # (30 + 100 = 130 kWh): (350 x 0.5306 + 130 x 0.5) / 1000 = (185.71 + 65) / 1000 t
    assert row["scope2_location_t"] == pytest.approx(0.25071, abs=1e-9)


def test_pv_is_counted_by_day(
    client: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    database_url: str,
    settings: Settings,
) -> None:
    """Self-consumed PV is max(generation − export, 0) per day: a month of PV is never one row.
    Generation 1000 → 1400 (3 Feb) → 1500 (20 Feb): 400 + 100; export 0 → 300 (3 Feb) → 300:
    self-consumed 100 on the 3rd and 100 on the 20th, 200 kWh."""
    park = create_park(client, admin)
    generation = [("2026-01-31 20:00", 1000), ("2026-02-03 12:00", 1400),
                  ("2026-02-20 12:00", 1500)]  # fmt: skip
    pv = meter(client, admin, database_url, park.id, generation, "pv_inverter")
    export = [("2026-01-31 20:00", 0), ("2026-02-03 12:00", 300), ("2026-02-20 12:00", 300)]
    meter(client, admin, database_url, park.id, export, attributes={"carbon_carrier": "pv_export"})
    build_rollups(settings)
    sid = series_id(database_url, park.id, pv, "energy_kwh")
    assert _month_row(database_url, sid, FEBRUARY) is not None
    _add_to_month(database_url, sid, FEBRUARY, 1000)
    q = {"from": "2026-02-01", "to": "2026-02-28", "interval": "month", "group_by": "park"}
    response = client.get(f"/api/v1/parks/{park.id}/carbon/energy", params=q, headers=viewer)
    [row] = response.json()["rows"]
    carriers = {c["carrier"]: c["quantity"] for c in row["carriers"]}
    assert carriers == {"pv_self": 200, "pv_export": 300}


def test_an_enterprises_monthly_kwh_reads_whole_months(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> None:
    """电力看经济's monthly kWh (亩均, elasticity) and totals take whole months from their rows;
    the same meter as above, linked to an enterprise."""
    park = create_park(client, admin)
    enterprise = make_enterprise(client, admin, park.id)
    device = meter(client, admin, database_url, park.id, GRID, enterprise_id=enterprise)
    build_rollups(settings)
    sid = series_id(database_url, park.id, device, "energy_kwh")
    _add_to_month(database_url, sid, FEBRUARY, 1000)
    lo, hi = FEBRUARY, local("2026-04-01 00:00")
    monthly, total = asyncio.run(_kwh(settings, park.id, lo, hi))
    # February from its row (480 + the 1000 added by hand), March 20
    assert monthly == {(enterprise, date(2026, 2, 1)): 1480, (enterprise, date(2026, 3, 1)): 20}
    assert total == {enterprise: 1500}


async def _kwh(
    settings: Settings, park: str, lo: datetime, hi: datetime
) -> tuple[dict[tuple[str, date], float], dict[str, float]]:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        async with AsyncSession(engine) as session:
            q = {"park_id": park, "tz": "Asia/Shanghai", "lo": lo, "hi": hi}
            return (
                await power_repository.monthly_kwh(session, **q),
                await power_repository.total_kwh(session, **q),
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("first", "after", "holds"),
    [
        ("2026-12-01", "2026-12-07", False),  # this month so far: days only
        ("2026-11-15", "2026-12-15", False),  # a month long, but no whole month
        ("2026-12-01", "2027-01-01", True),  # December, across the year's end
        ("2026-01-01", "2026-12-07", True),  # the year to date
        ("2026-02-10", "2026-04-01", True),  # March
    ],
)
def test_only_a_range_holding_a_whole_month_looks_for_monthly_rows(
    first: str, after: str, holds: bool
) -> None:
    lo, hi = local(first + " 00:00"), local(after + " 00:00")
    assert holds_a_month(lo, hi, "Asia/Shanghai") is holds
