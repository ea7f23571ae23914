"""``parktwin worker``: build the engine, run the loop until a signal, dispose."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import check_timescaledb, create_engine_for
from app.worker.jobs import default_jobs
from app.worker.loop import install_signal_handlers, run_loop


async def serve(settings: Settings) -> None:
    engine = create_engine_for(settings.resolved_database_url(), pool_size=2)
    try:
        await check_timescaledb(engine)
        stop = asyncio.Event()
        install_signal_handlers(stop)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        await run_loop(maker, default_jobs(), settings, stop)
    finally:
        await engine.dispose()


def main(settings: Settings) -> int:
    asyncio.run(serve(settings))
    return 0
