"""Run the worker's jobs from tests, the way ``parktwin worker`` runs them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.alarms.jobs import unshelve_expired
from app.core.config import Settings
from app.core.db import create_engine_for
from app.telemetry.jobs import retention, rollup
from app.worker.loop import Job, run_job


async def _drain(settings: Settings, job: Job) -> int:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        total = 0
        while done := await run_job(maker, job, settings):
            total += done
        return total
    finally:
        await engine.dispose()


async def _once(settings: Settings, job: Job) -> int:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    try:
        return await run_job(async_sessionmaker(engine, expire_on_commit=False), job, settings)
    finally:
        await engine.dispose()


def run_once(settings: Settings, job: Job) -> int:
    """Run ``job`` once (one transaction); return how much it did."""
    return asyncio.run(_once(settings, job))


def drain(settings: Settings, job: Job) -> int:
    """Run ``job`` until it has nothing left to do; return how much it did."""
    return asyncio.run(_drain(settings, job))


def drain_rollups(settings: Settings) -> int:
    """Recompute every queued hour, open ones too; return how many there were."""
    everything = settings.model_copy(update={"rollup_open_hour_interval": timedelta(0)})
    return drain(everything, Job("rollup", rollup))


def run_retention(settings: Settings) -> None:
    drain(settings, Job("retention", retention))


def run_shelving(settings: Settings) -> int:
    """End every shelving that has run out; return how many."""
    return drain(settings, Job("alarm_shelving", unshelve_expired))
