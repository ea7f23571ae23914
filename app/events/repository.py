"""SQL of the event stream: the park's outbox events after a position, in commit order.

``event_outbox.seq`` is set at commit, in commit order (migration 0023), so "every event
numbered above N" never misses one that commits later: a stream that has sent N resumes with
``seq > N``. ``webhook.test`` events (a receiver's test ping) are not park events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

AFTER = text(
    "SELECT seq, id, type, created_at, park_id, data FROM event_outbox "
    "WHERE park_id = :park_id AND seq > :after AND type <> 'webhook.test' "
    "ORDER BY seq LIMIT :limit"
)
HEAD = text("SELECT coalesce(max(seq), 0) FROM event_outbox WHERE park_id = :park_id")


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    id: uuid.UUID
    type: str
    created_at: datetime
    park_id: str
    data: Any


async def after(session: AsyncSession, park_id: str, seq: int, limit: int) -> list[StoredEvent]:
    """Up to ``limit`` events of the park numbered above ``seq``, oldest first."""
    result = await session.execute(AFTER, {"park_id": park_id, "after": seq, "limit": limit})
    return [StoredEvent(**row) for row in result.mappings()]


async def head(session: AsyncSession, park_id: str) -> int:
    """The number of the park's newest committed event (0: none yet)."""
    return int((await session.execute(HEAD, {"park_id": park_id})).scalar_one())
