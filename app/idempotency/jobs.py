"""The ``idempotency_retention`` worker job."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.idempotency import repository

logger = logging.getLogger(__name__)

PRUNE_BATCH = 10_000


async def prune(session: AsyncSession, _settings: Settings) -> int:
    """Delete keys past ``PARKTWIN_IDEMPOTENCY_RETENTION`` (their ``expires_at``), a batch per
    run; a full batch counts as work so the loop comes back at once for the rest."""
    count = await repository.delete_expired(session, PRUNE_BATCH)
    if count:
        logger.info("idempotency retention: deleted %d expired key(s)", count)
    return count if count == PRUNE_BATCH else 0
