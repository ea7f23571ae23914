"""SQL for detectors' service states (``detector_state``, its audit ``detector_state_event``),
the alarms they raise (``detector_fault``, ``calibration_due``) and the alarms suppressed while
a detector was out of service or a rule's by-design condition held."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

DEVICE = text(
    "SELECT d.id, d.type, d.name, t.domain FROM device d JOIN device_type t ON t.type = d.type "
    "WHERE d.park_id = :park AND d.id = :id"
)

ENSURE = text(
    "INSERT INTO detector_state (park_id, device_id) VALUES (:park, :id) ON CONFLICT DO NOTHING"
)

LOCK = text("SELECT * FROM detector_state WHERE park_id = :park AND device_id = :id FOR UPDATE")

SET_STATE = text(
    """
    UPDATE detector_state SET state = :state, since = now(), comment = :comment,
        set_by = :actor, updated_at = now()
    WHERE park_id = :park AND device_id = :id
    RETURNING *
    """
)

SET_CALIBRATION = text(
    """
    UPDATE detector_state SET calibration_due_on = :due_on, updated_at = now()
    WHERE park_id = :park AND device_id = :id
    RETURNING *
    """
)

RECORD = text(
    """
    INSERT INTO detector_state_event (park_id, device_id, state, calibration_due_on, actor,
                                      comment)
    VALUES (:park, :id, :state, :due_on, :actor, :comment)
    """
)

# The park's local date decides whether a calibration is due (the park's timezone).
LIST_COLUMNS = """
    SELECT d.id AS device_id, d.type, d.name, coalesce(s.state, 'in_service') AS state,
           s.since, s.comment, s.set_by, s.calibration_due_on,
           s.calibration_due_on - (now() AT TIME ZONE p.timezone)::date AS days_to_calibration,
           (SELECT count(*) FROM alarm a WHERE a.park_id = d.park_id AND a.device_id = d.id
              AND a.suppressed IS NOT NULL AND a.closed_at IS NULL) AS suppressed_alarms
    FROM device d JOIN park p ON p.id = d.park_id
    LEFT JOIN detector_state s ON s.park_id = d.park_id AND s.device_id = d.id
"""

FILTERS = {
    "not_in_service": "coalesce(s.state, 'in_service') <> 'in_service'",
    "out_of_service": "s.state IN ('maintenance', 'calibration')",
    "fault": "s.state = 'fault'",
    "calibration_due": "s.calibration_due_on <= (now() AT TIME ZONE p.timezone)::date + :lead",
    "all": "s.device_id IS NOT NULL",
}


async def device(session: AsyncSession, park_id: str, device_id: str) -> RowMapping | None:
    return (await session.execute(DEVICE, {"park": park_id, "id": device_id})).mappings().first()


async def lock(session: AsyncSession, park_id: str, device_id: str) -> RowMapping:
    """The detector's state row, made if missing, locked for this transaction."""
    params = {"park": park_id, "id": device_id}
    await session.execute(ENSURE, params)
    return (await session.execute(LOCK, params)).mappings().one()


async def set_state(
    session: AsyncSession, park_id: str, device_id: str, state: str, actor: str, comment: str
) -> RowMapping:
    params = {"park": park_id, "id": device_id, "state": state, "actor": actor, "comment": comment}
    return (await session.execute(SET_STATE, params)).mappings().one()


async def set_calibration(
    session: AsyncSession, park_id: str, device_id: str, due_on: date | None
) -> RowMapping:
    params = {"park": park_id, "id": device_id, "due_on": due_on}
    return (await session.execute(SET_CALIBRATION, params)).mappings().one()


async def record(session: AsyncSession, row: RowMapping, actor: str, comment: str) -> None:
    """One entry of the audit trail: the state and calibration date as they now are."""
    params = {
        "park": row["park_id"],
        "id": row["device_id"],
        "state": row["state"],
        "due_on": row["calibration_due_on"],
        "actor": actor,
        "comment": comment,
    }
    await session.execute(RECORD, params)


async def list_(
    session: AsyncSession,
    park_id: str,
    which: str,
    lead_days: int,
    after: str | None,
    limit: int,
) -> Sequence[RowMapping]:
    sql = text(
        LIST_COLUMNS + "WHERE d.park_id = :park AND " + FILTERS[which] + " "
        "AND (CAST(:after AS text) IS NULL OR d.id > :after) ORDER BY d.id LIMIT :limit"
    )
    params = {"park": park_id, "lead": lead_days, "after": after, "limit": limit}
    return (await session.execute(sql, params)).mappings().all()


async def one(session: AsyncSession, park_id: str, device_id: str) -> RowMapping:
    sql = text(LIST_COLUMNS + "WHERE d.park_id = :park AND d.id = :id")
    return (await session.execute(sql, {"park": park_id, "id": device_id})).mappings().one()


async def history(session: AsyncSession, park_id: str, device_id: str) -> Sequence[RowMapping]:
    sql = text(
        "SELECT at, state, calibration_due_on, actor, comment FROM detector_state_event "
        "WHERE park_id = :park AND device_id = :id ORDER BY id"
    )
    return (await session.execute(sql, {"park": park_id, "id": device_id})).mappings().all()


# -- the alarms of a detector's state -------------------------------------------------------

# Open a device-level alarm; an open one is raised again (``count + 1``) if it had cleared
# (unacknowledged, so still open), or takes the new severity; ``was_active``: as it was before.
RAISE_DEVICE_ALARM = text(
    """
    WITH before AS (
        SELECT active FROM alarm
        WHERE park_id = :park AND device_id = :device AND metric = '' AND type = :type
          AND closed_at IS NULL
    )
    INSERT INTO alarm AS a (id, park_id, device_id, metric, type, severity, raised_at, value,
                            peak_value)
    VALUES (:id, :park, :device, '', :type, :severity, now(), :value, :value)
    ON CONFLICT (park_id, device_id, metric, type) WHERE closed_at IS NULL DO UPDATE SET
        active = true, normal = false, cleared_at = NULL, severity = excluded.severity,
        count = a.count + CASE WHEN a.active THEN 0 ELSE 1 END,
        value = excluded.value, peak_value = greatest(a.peak_value, excluded.value),
        updated_at = now()
    WHERE a.severity IS DISTINCT FROM excluded.severity OR NOT a.active
    RETURNING *, coalesce((SELECT active FROM before), false) AS was_active
    """
)

CLEAR_DEVICE_ALARM = text(
    """
    UPDATE alarm SET active = false, normal = true, cleared_at = now(), updated_at = now(),
        closed_at = CASE WHEN acknowledged THEN now() END
    WHERE park_id = :park AND device_id = :device AND metric = '' AND type = :type
      AND closed_at IS NULL AND active
    RETURNING *
    """
)


async def raise_device_alarm(
    session: AsyncSession,
    park_id: str,
    device_id: str,
    type_: str,
    severity: str,
    value: float | None,
) -> RowMapping | None:
    """Open a device-level alarm, or change the open one's severity; None when the open one
    already says the same."""
    params = {
        "id": uuid.uuid4(),
        "park": park_id,
        "device": device_id,
        "type": type_,
        "severity": severity,
        "value": value,
    }
    return (await session.execute(RAISE_DEVICE_ALARM, params)).mappings().one_or_none()


async def clear_device_alarm(
    session: AsyncSession, park_id: str, device_id: str, type_: str
) -> RowMapping | None:
    params = {"park": park_id, "device": device_id, "type": type_}
    return (await session.execute(CLEAR_DEVICE_ALARM, params)).mappings().one_or_none()


# A detector back in service: its alarms raised while it was out (still open, so still active:
# a suppressed alarm closes when it clears) go in front of the operator.
UNSUPPRESS_DEVICE = text(
    """
    UPDATE alarm SET suppressed = NULL, updated_at = now()
    WHERE park_id = :park AND device_id = :device AND suppressed = 'out_of_service'
      AND closed_at IS NULL
    RETURNING *
    """
)

# Alarms suppressed by design whose condition no longer holds on the device's newest reading
# of the condition metric (or whose rule is gone); SKIP LOCKED so several workers share them.
BY_DESIGN_OVER = text(
    """
    UPDATE alarm a SET suppressed = NULL, updated_at = now()
    FROM (
        SELECT a.id FROM alarm a LEFT JOIN alarm_rule r ON r.id = a.rule_id
        WHERE a.suppressed = 'by_design' AND a.closed_at IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM series se JOIN latest_value l ON l.series_id = se.id
              WHERE se.park_id = a.park_id AND se.device_id = a.device_id
                AND se.metric = r.suppress_when->>'metric'
                AND (l.value < CAST(r.suppress_when->>'below' AS float8)
                     OR l.value > CAST(r.suppress_when->>'above' AS float8)))
        ORDER BY a.raised_at LIMIT :limit
        FOR UPDATE OF a SKIP LOCKED
    ) over
    WHERE a.id = over.id
    RETURNING a.*
    """
)

# Detectors whose calibration falls due within the lead time (park-local dates) and whose open
# calibration_due alarm is missing or not yet at the severity the date asks for: ``warning``
# (blue) while due soon, ``minor`` (yellow) once the date has passed. ``days_over``: days past
# the due date (negative: days left).
CALIBRATION_DUE = text(
    """
    SELECT s.park_id, s.device_id, due.days_over,
           CASE WHEN due.days_over > 0 THEN 'minor' ELSE 'warning' END AS severity
    FROM detector_state s JOIN park p ON p.id = s.park_id
    CROSS JOIN LATERAL (
        SELECT (now() AT TIME ZONE p.timezone)::date - s.calibration_due_on AS days_over
    ) due
    LEFT JOIN alarm a ON a.park_id = s.park_id AND a.device_id = s.device_id
        AND a.metric = '' AND a.type = 'calibration_due' AND a.closed_at IS NULL AND a.active
    WHERE s.calibration_due_on IS NOT NULL AND due.days_over >= -:lead
      AND (a.id IS NULL
           OR a.severity <> CASE WHEN due.days_over > 0 THEN 'minor' ELSE 'warning' END)
    ORDER BY s.park_id, s.device_id
    LIMIT :limit
    FOR UPDATE OF s SKIP LOCKED
    """
)


async def unsuppress_device(
    session: AsyncSession, park_id: str, device_id: str
) -> Sequence[RowMapping]:
    params = {"park": park_id, "device": device_id}
    return (await session.execute(UNSUPPRESS_DEVICE, params)).mappings().all()


async def by_design_over(session: AsyncSession, limit: int) -> Sequence[RowMapping]:
    return (await session.execute(BY_DESIGN_OVER, {"limit": limit})).mappings().all()


async def calibration_due(session: AsyncSession, lead_days: int, limit: int) -> list[Any]:
    params = {"lead": lead_days, "limit": limit}
    return list((await session.execute(CALIBRATION_DUE, params)).mappings().all())
