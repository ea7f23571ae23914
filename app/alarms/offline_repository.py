"""SQL of offline detection: devices silent past their reporting timeout while the platform was
listening (``ingest_coverage``, written by ingest/coverage.py), and their ``device_offline``
alarms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

# Devices silent past their type's reporting timeout while the platform was listening, with no
# open device_offline alarm; those not yet marked offline (a last will may have done it) are
# marked here. Listening (``coverage``): since the earliest unbroken subscription among the
# ingest workers whose heartbeat is fresh; none fresh, nobody is listening and no device goes
# offline. Silence counts from the later of the device's last reading and that start (the
# start plus a grace period, for the backlog to drain and devices to reconnect): a gap the
# platform caused (ingest or broker down) is never the device's.
STALE = text(
    """
    WITH coverage AS (
        SELECT min(covered_since) AS since FROM ingest_coverage
        WHERE covered_since IS NOT NULL
          AND heartbeat_at > now() - make_interval(secs => :heartbeat_stale_s)
    ),
    stale AS (
        SELECT d.park_id, d.id, d.status, t.reporting_timeout_s,
               extract(epoch FROM now() - greatest(d.last_seen_at, c.since)) AS silent_s
        FROM coverage c CROSS JOIN device d JOIN device_type t ON t.type = d.type
        WHERE c.since IS NOT NULL AND d.last_seen_at IS NOT NULL
          AND greatest(d.last_seen_at, c.since + make_interval(secs => :grace_s))
              < now() - make_interval(secs => t.reporting_timeout_s)
          AND NOT EXISTS (
              SELECT 1 FROM alarm a
              WHERE a.park_id = d.park_id AND a.device_id = d.id AND a.type = 'device_offline'
                AND a.closed_at IS NULL AND a.active)
        ORDER BY d.park_id, d.id
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    ),
    marked AS (
        UPDATE device d SET status = 'offline', status_changed_at = now()
        FROM stale s WHERE d.park_id = s.park_id AND d.id = s.id AND d.status <> 'offline'
        RETURNING d.park_id, d.id
    )
    SELECT s.park_id, s.id, s.reporting_timeout_s, s.silent_s, (m.id IS NOT NULL) AS went_offline
    FROM stale s LEFT JOIN marked m ON m.park_id = s.park_id AND m.id = s.id
    """
)

RAISE_OFFLINE = text(
    """
    INSERT INTO alarm AS a (id, park_id, device_id, metric, type, severity, raised_at, value,
                            peak_value, threshold)
    VALUES (:id, :park, :device, '', 'device_offline', 'minor', now(), :silent, :silent, :timeout)
    ON CONFLICT (park_id, device_id, metric, type) WHERE closed_at IS NULL DO UPDATE SET
        active = true, normal = false, cleared_at = NULL, count = a.count + 1,
        value = excluded.value, peak_value = greatest(a.peak_value, excluded.value),
        updated_at = now()
    RETURNING *
    """
)


async def stale_devices(
    session: AsyncSession, limit: int, heartbeat_stale_s: float, grace_s: float
) -> Sequence[RowMapping]:
    params = {"limit": limit, "heartbeat_stale_s": heartbeat_stale_s, "grace_s": grace_s}
    return (await session.execute(STALE, params)).mappings().all()


async def raise_offline(session: AsyncSession, params: dict[str, Any]) -> RowMapping:
    """Open a device_offline alarm, or count a repeat on the open one."""
    return (await session.execute(RAISE_OFFLINE, params)).mappings().one()
