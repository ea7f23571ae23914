"""The worker's jobs: webhook delivery (issue 5), rollups and retention (issue 4)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import policy as alarm_policy
from app.alarms.jobs import detect_offline, end_floods, run_timers, unshelve_expired
from app.carbon.budgets import check as carbon_budgets
from app.core.config import Settings
from app.economy.power import detect_anomalies as economy_anomalies
from app.emergency.jobs import open_from_alarms, report_reminders
from app.idempotency.jobs import prune as idempotency_retention
from app.telemetry import repository as telemetry
from app.telemetry import rollup_repository as rollups
from app.webhooks.delivery import WebhookDispatcher
from app.webhooks.delivery import purge as webhook_retention
from app.worker.loop import Job

logger = logging.getLogger(__name__)

RETENTION_EVERY_S = 3600.0
REJECTION_RETENTION_EVERY_S = 10.0
REJECTION_PURGE_BATCH = 10_000
OFFLINE_EVERY_S = 10.0
TIMERS_EVERY_S = 1.0
SHELVING_EVERY_S = 5.0
FLOODS_EVERY_S = 10.0
ECONOMY_ANOMALIES_EVERY_S = 3600.0
CARBON_BUDGETS_EVERY_S = 300.0
REPORT_REMINDERS_EVERY_S = 5.0


async def rollup(session: AsyncSession, settings: Settings) -> int:
    """Recompute the rollups of up to ``PARKTWIN_ROLLUP_BATCH`` dirty hours (an hour still being
    written at most every ``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL``)."""
    hours = await rollups.claim_dirty(
        session, settings.rollup_batch, settings.rollup_open_hour_interval
    )
    if hours:
        horizon = datetime.now(UTC) - settings.raw_retention
        await rollups.recompute(session, hours, horizon)
    return len(hours)


async def retention(session: AsyncSession, settings: Settings) -> int:
    """Drop raw chunks past ``PARKTWIN_RAW_RETENTION`` and rollups past theirs."""
    dropped = 0
    for table, age in (
        ("telemetry", settings.raw_retention),
        ("rollup_hour", settings.hourly_rollup_retention),
        ("rollup_day", settings.daily_rollup_retention),
    ):
        count = await rollups.drop_expired(session, table, age)
        if count:
            logger.info("retention: dropped %d chunk(s) of %s older than %s", count, table, age)
        dropped += count
    await rollups.forget_dirty_before(session, datetime.now(UTC) - settings.raw_retention)
    return 0  # dropping chunks is not a backlog: no need to run the next round at once


async def rejection_retention(session: AsyncSession, settings: Settings) -> int:
    """Delete ingest rejections past ``PARKTWIN_REJECTION_RETENTION``, at most
    ``REJECTION_PURGE_BATCH`` per run (every ``REJECTION_RETENTION_EVERY_S``): up to 3.6 M an
    hour, what 6,000 devices each at the per-device rate limit (10 a minute) can store."""
    count = await telemetry.purge_rejections(
        session, older_than=settings.rejection_retention, limit=REJECTION_PURGE_BATCH
    )
    if count:
        logger.info("rejection retention: deleted %d rejection(s)", count)
    return count


def default_jobs() -> list[Job]:
    # Webhooks first: a safety event must not wait behind a round of rollups.
    return [
        Job("webhooks", WebhookDispatcher(hold_back=alarm_policy.hold_back)),
        Job("incidents", open_from_alarms),  # every round: the alarm's NOTIFY wakes the loop
        Job("incident_reports", report_reminders, every=REPORT_REMINDERS_EVERY_S),
        Job("rollup", rollup),
        Job("offline", detect_offline, every=OFFLINE_EVERY_S),
        Job("alarm_timers", run_timers, every=TIMERS_EVERY_S),
        Job("alarm_shelving", unshelve_expired, every=SHELVING_EVERY_S),
        Job("alarm_floods", end_floods, every=FLOODS_EVERY_S),
        Job("carbon_budgets", carbon_budgets, every=CARBON_BUDGETS_EVERY_S),
        Job("economy_anomalies", economy_anomalies, every=ECONOMY_ANOMALIES_EVERY_S),
        Job("retention", retention, every=RETENTION_EVERY_S),
        Job("webhook_retention", webhook_retention, every=RETENTION_EVERY_S),
        Job("rejection_retention", rejection_retention, every=REJECTION_RETENTION_EVERY_S),
        Job("idempotency_retention", idempotency_retention, every=RETENTION_EVERY_S),
    ]
