"""``parktwin worker``: serve the metrics, build the engine, run the loop until a signal,
dispose."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import check_timescaledb, create_engine_for
from app.core.gcpause import freeze_startup_heap
from app.worker.jobs import default_jobs
from app.worker.loop import install_signal_handlers, run_loop
from app.worker.metrics import WorkerMetrics
from app.worker.metrics import serve as serve_metrics

# Sessions open at once, routinely: the job loop's, the webhook job's own dispatch transaction
# inside it, the NOTIFY-woken dispatch pump's, and one per delivery being recorded (the LISTEN
# and the alarm timers' connections are psycopg's own, outside the pool). With fewer
# pooled connections than that, every busy moment opened and closed overflow connections (a
# PostgreSQL backend start each: most of the worker's CPU under a steady event stream).
POOL_SIZE = 6


async def serve(settings: Settings) -> None:
    # The worker's role and limits for everything it opens: the pool, LISTEN, the alarm timers.
    settings = settings.for_process("worker")
    metrics = WorkerMetrics.create()
    serve_metrics(settings, metrics)  # parktwin_worker_up is 0 until the loop runs
    engine = create_engine_for(settings.resolved_database_url(), pool_size=POOL_SIZE)
    try:
        await check_timescaledb(engine)
        stop = asyncio.Event()
        install_signal_handlers(stop)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        freeze_startup_heap("worker")  # full GC passes delayed the webhooks (app/core/gcpause.py)
        await run_loop(maker, default_jobs(), settings, stop, metrics)
    finally:
        await engine.dispose()


def main(settings: Settings) -> int:
    asyncio.run(serve(settings))
    return 0
