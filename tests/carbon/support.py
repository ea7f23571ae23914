"""Helpers of the carbon tests: meters with readings, the budget job run as the worker does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.carbon.budgets import check
from app.core.config import Settings
from app.core.db import create_engine_for
from app.telemetry import rollup_repository as rollups
from app.worker.loop import Job, run_job
from tests.api.conftest import create_device, series_id, write_readings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """A Shanghai wall-clock time ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def meter(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    park_id: str,
    readings: list[tuple[str, float]],
    device_type: str = "electricity_meter",
    **extra: Any,
) -> str:
    """A device of ``device_type`` with its counter readings (local times)."""
    device = create_device(client, admin, park_id, device_type, **extra)
    metric = {"gas_meter": "volume_m3", "water_meter": "volume_m3", "steam_meter": "mass_t"}.get(
        device_type, "energy_kwh"
    )
    sid = _series(database_url, park_id, str(device["id"]), metric)
    write_readings(database_url, sid, [(local(t), v) for t, v in readings])
    return str(device["id"])


def _series(database_url: str, park_id: str, device_id: str, metric: str) -> int:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO series (park_id, device_id, metric) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (park_id, device_id, metric),
        )
    return series_id(database_url, park_id, device_id, metric)


async def _run(settings: Settings) -> int:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        return await run_job(maker, Job("carbon_budgets", check), settings)
    finally:
        await engine.dispose()


async def _rollups(settings: Settings) -> None:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as session, session.begin():
            while claims := await rollups.claim_dirty(session, 10_000, timedelta(0)):
                hours = [(c.series_id, c.bucket) for c in claims]
                await rollups.recompute(
                    session, hours, datetime(2000, 1, 1, tzinfo=UTC), days_of=hours
                )
                await rollups.release(session, claims)
    finally:
        await engine.dispose()


def build_rollups(settings: Settings) -> None:
    """The worker's rollup SQL over every queued hour, however old or open (the test data lies
    further back than the raw retention the worker keeps to)."""
    asyncio.run(_rollups(settings))


def run_budget_check(settings: Settings) -> None:
    asyncio.run(_run(settings))


def events(database_url: str, park_id: str) -> list[tuple[str, dict[str, Any]]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT type, data FROM event_outbox WHERE park_id = %s AND type LIKE 'carbon.%%' "
            "ORDER BY created_at",
            (park_id,),
        ).fetchall()
    return [(str(r[0]), dict(r[1])) for r in rows]


def grid_factor(valid_from: str, value: float, source: str) -> dict[str, Any]:
    """The body of a park's own location-based national grid factor (kgCO2/kWh) in force from
    ``valid_from``, for ``POST .../carbon/factors``."""
    return {"carrier": "electricity_grid", "method": "location", "region": "national",
            "valid_from": valid_from, "value": value, "source": source}  # fmt: skip
