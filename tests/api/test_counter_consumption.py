"""A counter's consumption (app/telemetry/consumption.py) against a pure-Python definition.

Random counters with resets and gaps are written for three meters of a park (raw readings, the
worker's rollups, then late readings whose hours are left queued or rolled up), in zones with
a DST change and a half-hour offset. Each meter's consumption per park-local day of a window,
and over the window, is read from the owner and from its three callers (the read API's
``delta``, the carbon ledger, 电力看经济) and compared with ``consumption_by_day`` below. Then
raw retention drops every reading older than a cutoff at or before the window: the baseline
must come from the rollups, and no answer may change.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.carbon import repository as carbon
from app.core.config import Settings
from app.core.db import create_engine_for
from app.economy import power_repository as economy
from app.telemetry import repository as telemetry
from app.telemetry.consumption import daily_consumption
from app.telemetry.intervals import INTERVALS
from tests.api.conftest import (
    clear_series,
    create_device,
    create_park,
    series_id,
    write_readings,
)
from tests.api.worker_util import drain_rollups
from tests.economy.support import make_enterprise

BASE = datetime(2026, 3, 4, tzinfo=UTC)  # New York moves its clocks on 8 March
DAYS = 6
SPAN_MIN = DAYS * 24 * 60
ZONES = ["Asia/Shanghai", "Asia/Kolkata", "America/New_York"]
METERS = 3
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""The property tests' examples: the same 25 each run, each against a real database."""

Readings = dict[datetime, float]
PerDay = dict[date, float]


def consumption_by_day(readings: Readings, zone: str, first: date, end: date) -> PerDay:
    """The contract's ``delta`` per local day of ``[first, end)``, from every reading ever
    written: each reading minus the one before it, a drop counting in full (a reset)."""
    per_day: PerDay = {}
    before: float | None = None
    for t, value in sorted(readings.items()):
        day = t.astimezone(ZoneInfo(zone)).date()
        if first <= day < end:
            step = 0.0 if before is None else value - before if value >= before else value
            per_day[day] = per_day.get(day, 0.0) + step
        before = value
    return per_day


@dataclass
class Site:
    park_id: str
    zone: str
    sids: list[int]
    enterprises: list[str]  # meter i belongs to enterprises[i]


@pytest.fixture(scope="module")
def sites(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, Site]:
    found = {}
    for zone in ZONES:
        park = create_park(client, admin, tz=zone)
        sids, enterprises = [], []
        for _ in range(METERS):
            enterprise = make_enterprise(database_url, park.id)
            device = create_device(client, admin, park.id, enterprise_id=enterprise)
            sids.append(series_id(database_url, park.id, str(device["id"]), "energy_kwh"))
            enterprises.append(enterprise)
        found[zone] = Site(park.id, zone, sids, enterprises)
    return found


def _keep_all(settings_: Settings) -> Settings:
    """The fixed dates here are older than the default raw retention: keep them all."""
    return settings_.model_copy(update={"raw_retention": timedelta(days=36500)})


def _drop_raw_before(database_url: str, sids: list[int], cutoff: datetime) -> None:
    """Raw retention: the readings before ``cutoff`` are gone, their rollups stay."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "DELETE FROM telemetry WHERE series_id = ANY(%s) AND time < %s", (sids, cutoff)
        )


def _local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


# ---------------------------------------------------------------- what the code answers

OWNER = f"""WITH keys AS (SELECT unnest(CAST(:sids AS integer[])) AS series_id),
{daily_consumption("daily", keys="keys")}
SELECT series_id, (bucket AT TIME ZONE CAST(:tz AS text))::date AS day, qty FROM daily"""


@dataclass
class Answers:
    owner: dict[int, PerDay]
    read_api: dict[tuple[str, int], PerDay]  # (source, series) -> per day
    economy_days: dict[str, PerDay]
    economy_total: dict[str, float]
    carbon_days: dict[str, PerDay]


def _per_day(rows: Any, zone: str) -> PerDay:
    return {ts.astimezone(ZoneInfo(zone)).date(): float(v) for ts, v in rows}


async def _read(session: AsyncSession, site: Site, first: date, end: date) -> Answers:
    lo, hi, zone = _local_midnight(first, site.zone), _local_midnight(end, site.zone), site.zone
    owner: dict[int, PerDay] = {sid: {} for sid in site.sids}
    params = {"sids": site.sids, "lo": lo, "hi": hi, "tz": zone}
    for sid, day, qty in await session.execute(text(OWNER), params):
        owner[sid][day] = float(qty)
    read_api = {}
    for sid in site.sids:
        for level in ("day", None):
            rows = await telemetry.bucketed(
                session, series_id=sid, lo=lo, hi=hi, interval=INTERVALS["1d"], tz=zone,
                agg="delta", level=level,
            )  # fmt: skip
            read_api[(str(level), sid)] = _per_day(rows, zone)
    economy_days: dict[str, PerDay] = {e: {} for e in site.enterprises}
    for r in await economy.daily_kwh(session, park_id=site.park_id, tz=zone, lo=lo, hi=hi):
        if r["day"] is not None:
            economy_days[r["enterprise_id"]][r["day"]] = float(r["kwh"])
    total = await economy.total_kwh(session, park_id=site.park_id, tz=zone, lo=lo, hi=hi)
    carbon_days: dict[str, PerDay] = {e: {} for e in site.enterprises}
    for r in await carbon.quantities(
        session, park_id=site.park_id, tz=zone, span=(lo, hi, first, end),
        group_by="enterprise", step="day", grid_region="national",
    ):  # fmt: skip
        assert r["carrier"] == "electricity_grid"
        carbon_days[r["group_key"]][r["bucket"]] = float(r["quantity"])
    return Answers(owner, read_api, economy_days, total, carbon_days)


def read(settings_: Settings, site: Site, first: date, end: date) -> Answers:
    async def run() -> Answers:
        engine = create_engine_for(settings_.resolved_database_url(), pool_size=1)
        try:
            async with AsyncSession(engine) as session:
                return await _read(session, site, first, end)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _same(got: PerDay, expected: PerDay, what: object) -> None:
    assert sorted(got) == sorted(expected), what
    for day, value in expected.items():
        assert math.isclose(got[day], value, rel_tol=1e-9, abs_tol=1e-9), (what, day, got)


def check(answers: Answers, site: Site, expected: dict[int, PerDay]) -> None:
    """Every answer equals the definition, per meter and day and over the window."""
    for sid, enterprise in zip(site.sids, site.enterprises, strict=True):
        _same(answers.owner[sid], expected[sid], ("owner", sid))
        for level in ("day", "None"):
            _same(answers.read_api[(level, sid)], expected[sid], ("read API", level, sid))
        _same(answers.economy_days[enterprise], expected[sid], ("economy", sid))
        _same(answers.carbon_days[enterprise], expected[sid], ("carbon", sid))
        if expected[sid]:
            total = sum(expected[sid].values())
            assert math.isclose(answers.economy_total[enterprise], total, abs_tol=1e-9), sid
        else:
            assert enterprise not in answers.economy_total


# ---------------------------------------------------------------- the property

counter = st.tuples(
    st.integers(0, 720),  # first reading, minutes after BASE
    st.lists(
        st.tuples(
            st.integers(1, 1800),  # gap to the next reading: up to 30 hours
            st.integers(0, 30),  # increase
            st.sampled_from([False] * 5 + [True]),  # the meter restarts from zero
        ),
        max_size=25,
    ),
)
late = st.lists(st.tuples(st.integers(0, SPAN_MIN - 1), st.integers(0, 400).map(float)), max_size=6)


def _at(minute: int) -> datetime:
    return BASE + timedelta(minutes=minute)


def _counter(start: int, steps: list[tuple[int, int, bool]]) -> list[tuple[datetime, float]]:
    minute, value = start, 100.0
    readings = [(_at(minute), value)]
    for gap, increase, reset in steps:
        minute += gap
        value = float(increase) if reset else value + increase
        if minute < SPAN_MIN:
            readings.append((_at(minute), value))
    return readings


@EXAMPLES
@given(
    zone=st.sampled_from(ZONES),
    counters=st.lists(counter, min_size=METERS, max_size=METERS),
    lates=st.lists(late, min_size=METERS, max_size=METERS),
    drain_late=st.booleans(),
    window=st.tuples(st.integers(1, DAYS - 2), st.integers(1, DAYS - 2)),
    keep_hours=st.integers(0, 30),
)
def test_consumption_equals_the_raw_definition(
    sites: dict[str, Site],
    database_url: str,
    settings: Settings,
    zone: str,
    counters: list[tuple[int, list[tuple[int, int, bool]]]],
    lates: list[list[tuple[int, float]]],
    drain_late: bool,
    window: tuple[int, int],
    keep_hours: int,
) -> None:
    site = sites[zone]
    first = BASE.astimezone(ZoneInfo(zone)).date() + timedelta(days=window[0])
    end = first + timedelta(days=min(window[1], DAYS - 1 - window[0]))
    cutoff = _local_midnight(first, zone) - timedelta(hours=keep_hours)
    clear_series(database_url, site.sids)
    written: dict[int, Readings] = {}
    for sid, (start, steps) in zip(site.sids, counters, strict=True):
        readings = _counter(start, steps)
        write_readings(database_url, sid, readings)
        written[sid] = dict(readings)
    drain_rollups(_keep_all(settings))
    for sid, extra in zip(site.sids, lates, strict=True):
        # Late readings after the cutoff only: retention forgets the queue before it.
        kept = [(_at(m), v) for m, v in extra if _at(m) >= cutoff]
        write_readings(database_url, sid, kept)  # a time already written keeps its value
        for t, v in kept:
            written[sid].setdefault(t, v)
    if drain_late:
        drain_rollups(_keep_all(settings))
    expected = {sid: consumption_by_day(written[sid], zone, first, end) for sid in site.sids}
    check(read(settings, site, first, end), site, expected)
    _drop_raw_before(database_url, site.sids, cutoff)
    check(read(settings, site, first, end), site, expected)


# ---------------------------------------------------------------- the behaviour that changed


def test_after_retention_a_half_hour_zone_takes_the_baseline_from_the_last_rollup_to_end(
    sites: dict[str, Site], database_url: str, settings: Settings
) -> None:
    """Kolkata's midnight falls inside a UTC hour (18:30Z). Once raw retention has dropped the
    readings before the range, the baseline is the newest rollup row that ended before it:
    here the daily one (15 at 23:40 local), not the hourly one ending before the straddling
    hour (10 at 23:10 local), which telemetry and economy used to take (consumption 10, not 5).
    """
    site = sites["Asia/Kolkata"]
    first = date(2026, 3, 6)
    lo = _local_midnight(first, site.zone)
    clear_series(database_url, site.sids)
    sid = site.sids[0]
    readings = [(lo - timedelta(minutes=50), 10.0), (lo - timedelta(minutes=20), 15.0),
                (lo + timedelta(minutes=10), 18.0), (lo + timedelta(hours=5), 20.0)]  # fmt: skip
    write_readings(database_url, sid, readings)
    drain_rollups(_keep_all(settings))
    _drop_raw_before(database_url, site.sids, lo)
    expected: dict[int, PerDay] = {s: {} for s in site.sids}
    expected[sid] = {first: (18.0 - 15.0) + (20.0 - 18.0)}
    assert consumption_by_day(dict(readings), site.zone, first, first + timedelta(1)) == {
        first: 5.0
    }
    check(read(settings, site, first, first + timedelta(days=1)), site, expected)


def test_a_queued_day_takes_its_clean_hours_from_their_rollups(
    sites: dict[str, Site], database_url: str, settings: Settings
) -> None:
    """Today in a live park: its hours rolled up, its open hour queued. The day is made from
    the clean hours' rollup rows and the queued hour's raw readings, not from every reading
    since midnight. Shanghai, 2026-03-06: 10 at 00:10, 15 at 01:10, 21 at 01:50 (rolled up),
    then 4 at 02:10 (the meter restarted: counts in full) and 6 at 02:40, left queued.
    The consumption is (15 - 10) + (21 - 15) + 4 + (6 - 4) = 17. Once the rolled-up hours'
    raw readings are gone, the day still counts them: it is made from their rollups."""
    site = sites["Asia/Shanghai"]
    first = date(2026, 3, 6)
    lo = _local_midnight(first, site.zone)
    clear_series(database_url, site.sids)
    sid = site.sids[0]
    minutes = [(10, 10.0), (70, 15.0), (110, 21.0)]
    write_readings(database_url, sid, [(lo + timedelta(minutes=m), v) for m, v in minutes])
    drain_rollups(_keep_all(settings))
    write_readings(database_url, sid, [(lo + timedelta(minutes=130), 4.0),
                                       (lo + timedelta(minutes=160), 6.0)])  # fmt: skip
    with psycopg.connect(database_url) as conn:
        queued = conn.execute(
            "SELECT bucket FROM telemetry_dirty WHERE series_id = %s", (sid,)
        ).fetchall()
    assert queued == [(lo + timedelta(hours=2),)]
    expected: dict[int, PerDay] = {s: {} for s in site.sids}
    expected[sid] = {first: (15.0 - 10.0) + (21.0 - 15.0) + 4.0 + (6.0 - 4.0)}
    assert expected[sid][first] == 17.0
    day = (first, first + timedelta(days=1))
    check(read(settings, site, *day), site, expected)
    # Only the rollups know the first two hours now: every read made from daily buckets
    # (not the read API's raw path, level None) still counts them.
    _drop_raw_before(database_url, [sid], lo + timedelta(hours=2))
    answers = read(settings, site, *day)
    enterprise = site.enterprises[0]
    for got in (answers.owner[sid], answers.read_api[("day", sid)],
                answers.economy_days[enterprise], answers.carbon_days[enterprise]):  # fmt: skip
        _same(got, expected[sid], "after the clean hours' raw readings are gone")


# ---------------------------------------------------------------- whole months (migration 0036)

MONTHS_BASE = datetime(2026, 1, 20, tzinfo=UTC)  # to mid-April: New York moves on 8 March
MONTHS_SPAN = 85 * 24 * 60  # minutes

month_counter = st.tuples(
    st.integers(0, 7200),  # first reading, minutes after MONTHS_BASE
    st.lists(
        st.tuples(
            st.integers(60, 5000),  # gap to the next reading: an hour to three and a half days
            st.integers(0, 50),
            st.sampled_from([False] * 5 + [True]),  # the meter restarts from zero
        ),
        min_size=40,
        max_size=60,
    ),
)


def _month_readings(start: int, steps: list[tuple[int, int, bool]]) -> Readings:
    minute, value = start, 100.0
    readings = {MONTHS_BASE + timedelta(minutes=minute): value}
    for gap, increase, reset in steps:
        minute += gap
        value = float(increase) if reset else value + increase
        if minute < MONTHS_SPAN:
            readings[MONTHS_BASE + timedelta(minutes=minute)] = value
    return readings


async def _by_month(
    settings_: Settings, site: Site, first: date, end: date
) -> tuple[dict[tuple[str, date], float], dict[str, float], dict[tuple[str, date], float]]:
    """电力看经济's monthly and total kWh and the carbon ledger by month, per enterprise."""
    lo, hi = _local_midnight(first, site.zone), _local_midnight(end, site.zone)
    engine = create_engine_for(settings_.resolved_database_url(), pool_size=1)
    try:
        async with AsyncSession(engine) as session:
            q = {"park_id": site.park_id, "tz": site.zone, "lo": lo, "hi": hi}
            monthly = await economy.monthly_kwh(session, **q)
            total = await economy.total_kwh(session, **q)
            ledger = {
                (str(r["group_key"]), r["bucket"]): float(r["quantity"])
                for r in await carbon.quantities(
                    session,
                    park_id=site.park_id,
                    tz=site.zone,
                    span=(lo, hi, first, end),
                    group_by="enterprise",
                    step="month",
                    grid_region="national",
                )
            }
            return monthly, total, ledger
    finally:
        await engine.dispose()


@EXAMPLES
@given(
    zone=st.sampled_from(ZONES),
    counters=st.lists(month_counter, min_size=METERS, max_size=METERS),
    lates=st.lists(
        st.lists(
            st.tuples(st.integers(0, MONTHS_SPAN - 1), st.integers(0, 400).map(float)), max_size=4
        ),
        min_size=METERS,
        max_size=METERS,
    ),
    drain_late=st.booleans(),
    window=st.tuples(st.integers(0, 12), st.integers(30, 70)),  # February at least
)
def test_whole_months_equal_their_days(
    sites: dict[str, Site],
    database_url: str,
    settings: Settings,
    zone: str,
    counters: list[tuple[int, list[tuple[int, int, bool]]]],
    lates: list[list[tuple[int, float]]],
    drain_late: bool,
    window: tuple[int, int],
) -> None:
    """Reads that take a whole month from ``rollup_month`` (电力看经济's monthly and total kWh,
    the carbon ledger by month) answer each month's sum of the definition's days, with the
    month's hours rolled up or some left queued by late readings, in every zone."""
    site = sites[zone]
    first = MONTHS_BASE.astimezone(ZoneInfo(zone)).date() + timedelta(days=window[0])
    end = first + timedelta(days=window[1])
    clear_series(database_url, site.sids)
    written: dict[int, Readings] = {}
    for sid, (start, steps) in zip(site.sids, counters, strict=True):
        written[sid] = _month_readings(start, steps)
        write_readings(database_url, sid, sorted(written[sid].items()))
    drain_rollups(_keep_all(settings))
    for sid, extra in zip(site.sids, lates, strict=True):
        kept = [(MONTHS_BASE + timedelta(minutes=m), v) for m, v in extra]
        write_readings(database_url, sid, kept)  # a time already written keeps its value
        for t, v in kept:
            written[sid].setdefault(t, v)
    if drain_late:
        drain_rollups(_keep_all(settings))
    monthly, total, ledger = asyncio.run(_by_month(settings, site, first, end))
    for sid, enterprise in zip(site.sids, site.enterprises, strict=True):
        expected: dict[date, float] = {}
        for day, qty in consumption_by_day(written[sid], zone, first, end).items():
            month = day.replace(day=1)
            expected[month] = expected.get(month, 0.0) + qty
        for got in (monthly, ledger):
            mine = {m: v for (e, m), v in got.items() if e == enterprise}
            assert sorted(mine) == sorted(expected), (sid, mine, expected)
            for month, value in expected.items():
                assert math.isclose(mine[month], value, rel_tol=1e-9, abs_tol=1e-9), month
        if expected:
            assert math.isclose(total[enterprise], sum(expected.values()), abs_tol=1e-9)
        else:
            assert enterprise not in total


@pytest.fixture(autouse=True)
def _no_leftovers(sites: dict[str, Site], database_url: str) -> Iterator[None]:
    yield
    for site in sites.values():
        clear_series(database_url, site.sids)
