"""Alarm evaluation inside the ingest transaction (and the worker's timer job), so a batch's
rows, the alarms they raise and the webhook events announcing them commit together (or not at
all).

Per batch: the readings some rule watches are picked out (``RuleBook.resolve``,
app/alarms/rules.py: ingest hands over the batch's accepted readings and nothing else), the
evaluation states of the (device, metric, rule) keys that got readings are
created if missing and locked (``FOR UPDATE``, in key order, so racing workers serialise per
key instead of deadlocking), each key's readings go through the pure state machine
(``app.alarms.engine``) in time order, and every change of effective level becomes an alarm
transition: raise (or re-raise: ``count + 1``), escalate, return to normal (a latched alarm stays
active until acknowledged), clear. At most one open alarm per (device, metric, type) is
guaranteed by the database (a unique index over open alarms), not by this code.

A raise is always recorded. While the detector is out of service (``detector_state``) or the
rule's by-design condition holds, the alarm is marked ``suppressed`` (with a note in its audit
entry): listed, its webhook events held back by the notification policy, and it does not
latch (app/alarms/detectors.py puts it in front of the operator once that ends).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg.rows import dict_row

from app.alarms.document import alarm_document
from app.alarms.engine import Change, State, due_us, expire, step
from app.alarms.rules import DeviceReadings, Key, RuleBook, StoredRule
from app.core.clock import from_us, to_us
from app.core.pgarray import Float8s, Int4s, Int8s, Texts, Timestamptzs
from app.core.severity import SQL_ORDER
from app.core.sqlcompose import Fixed, compose
from app.webhooks import outbox

logger = logging.getLogger(__name__)

ENSURE_STATES = """
INSERT INTO alarm_state (park_id, device_id, metric, rule_id)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int8[]) ORDER BY 1, 2, 3, 4
ON CONFLICT DO NOTHING
"""

LOCK_STATES = """
SELECT s.park_id, s.device_id, s.metric, s.rule_id, s.level, s.pending, s.pending_since,
       s.last_at, s.last_value
FROM alarm_state s
JOIN unnest(%s::text[], %s::text[], %s::text[], %s::int8[])
  AS k(park_id, device_id, metric, rule_id) USING (park_id, device_id, metric, rule_id)
ORDER BY 1, 2, 3, 4
FOR UPDATE OF s
"""

DUE_STATES = """
SELECT park_id, device_id, metric, rule_id, level, pending, pending_since, last_at, last_value
FROM alarm_state WHERE due_at <= now()
ORDER BY due_at LIMIT %s
FOR UPDATE SKIP LOCKED
"""

# Every evaluated key's state in one statement per batch: a third of a 100,000-device park's
# messages are watched (smoke, gas and toxic-gas detectors), and an UPDATE per key was a round
# trip per reading inside the urgent lane's transaction, which a gas reading waits behind.
SAVE_STATES = """
UPDATE alarm_state s SET level = v.level, pending = v.pending, pending_since = v.pending_since,
       due_at = v.due_at, last_at = v.last_at, last_value = v.last_value
FROM unnest(%s::text[], %s::text[], %s::text[], %s::int8[], %s::int4[], %s::int4[],
            %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::float8[])
  AS v(park_id, device_id, metric, rule_id, level, pending, pending_since, due_at, last_at,
       last_value)
WHERE s.park_id = v.park_id AND s.device_id = v.device_id AND s.metric = v.metric
  AND s.rule_id = v.rule_id
"""

# A raise is recorded either way; ``suppressed`` says why it is not announced: the detector is
# out of service (or marked faulty), or the rule's by-design condition holds on the device's
# newest reading of the condition metric.
SUPPRESSED = """
CASE WHEN EXISTS (SELECT 1 FROM detector_state s WHERE s.park_id = %(park)s
                  AND s.device_id = %(device)s AND s.state <> 'in_service')
     THEN 'out_of_service'
     WHEN EXISTS (SELECT 1 FROM series se JOIN latest_value l ON l.series_id = se.id
                  WHERE se.park_id = %(park)s AND se.device_id = %(device)s
                    AND se.metric = %(cond_metric)s
                    AND (l.value < %(cond_below)s OR l.value > %(cond_above)s))
     THEN 'by_design'
END
"""

RAISE = compose(
    """
INSERT INTO alarm AS a (id, park_id, device_id, metric, type, rule_id, severity, latched,
                        raised_at, value, peak_value, threshold, suppressed)
VALUES (%(id)s, %(park)s, %(device)s, %(metric)s, %(type)s, %(rule)s, %(severity)s, %(latch)s,
        %(at)s, %(value)s, %(value)s, %(threshold)s, {suppressed})
ON CONFLICT (park_id, device_id, metric, type) WHERE closed_at IS NULL DO UPDATE SET
    active = true, normal = false, cleared_at = NULL, count = a.count + 1,
    severity = CASE WHEN array_position({order}, excluded.severity)
                       > array_position({order}, a.severity)
                    THEN excluded.severity ELSE a.severity END,
    threshold = excluded.threshold, value = excluded.value,
    peak_value = CASE WHEN %(above)s THEN greatest(a.peak_value, excluded.value)
                      ELSE least(a.peak_value, excluded.value) END,
    updated_at = now()
RETURNING *
""",
    suppressed=Fixed(SUPPRESSED),
    order=Fixed(SQL_ORDER),
)

ESCALATE = """
UPDATE alarm SET severity = %(severity)s, threshold = %(threshold)s, value = %(value)s,
    peak_value = CASE WHEN %(above)s THEN greatest(peak_value, %(value)s)
                      ELSE least(peak_value, %(value)s) END,
    normal = false, updated_at = now()
WHERE park_id = %(park)s AND device_id = %(device)s AND metric = %(metric)s
  AND type = %(type)s AND closed_at IS NULL
RETURNING *
"""

# A suppressed alarm was never put in front of an operator: it does not latch, and closes
# when it clears.
NORMAL = """
UPDATE alarm SET normal = true, value = %(value)s, updated_at = now(),
    active = latched AND NOT acknowledged AND suppressed IS NULL,
    cleared_at = CASE WHEN latched AND NOT acknowledged AND suppressed IS NULL THEN NULL
                      ELSE %(at)s END,
    closed_at = CASE WHEN acknowledged OR suppressed IS NOT NULL THEN %(at)s END
WHERE park_id = %(park)s AND device_id = %(device)s AND metric = %(metric)s
  AND type = %(type)s AND closed_at IS NULL AND active
RETURNING *
"""

# A device heard from again: its device_offline alarm clears (it does not latch).
CLEAR_OFFLINE = """
UPDATE alarm SET active = false, normal = true, cleared_at = now(), updated_at = now(),
    closed_at = CASE WHEN acknowledged THEN now() END
WHERE park_id = %s AND device_id = %s AND type = 'device_offline' AND closed_at IS NULL AND active
RETURNING *
"""

AUDIT = """
INSERT INTO alarm_event (alarm_id, at, action, severity, value, comment)
VALUES (%s, %s, %s, %s, %s, %s)
"""

SUPPRESSION_NOTE = {
    "out_of_service": "suppressed: the detector is out of service",
    "by_design": "suppressed by design: the rule's condition holds",
}


Saved = tuple[Key, StoredRule, State]
"""A key's state to write back, with its rule (for the state's due time)."""


def _state_of(row: tuple[Any, ...]) -> tuple[Key, State]:
    key: Key = (row[0], row[1], row[2], row[3])
    state = State(
        level=row[4],
        pending=row[5],
        pending_since_us=to_us(row[6]) if row[6] else None,
        last_us=to_us(row[7]) if row[7] else None,
        last_value=row[8],
    )
    return key, state


class AlarmWriter:
    """Applies a batch's alarm readings inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection, rules: RuleBook) -> None:
        self.conn = conn
        self.rules = rules

    def apply(
        self,
        batch: Sequence[DeviceReadings],
        device_types: Mapping[tuple[str, str], str],
        only: Callable[[StoredRule], bool] | None = None,
    ) -> int:
        """Evaluate a batch's accepted readings (``device_types``: each device's type) against
        the rules that watch them (those ``only`` admits, when given); return how many alarm
        transitions happened. No statement runs when no rule watches any of them."""
        self.rules.load(self.conn)
        readings = self.rules.resolve(batch, device_types, only)
        if not readings:
            return 0
        keys = sorted(readings)
        columns = (
            Texts([k[0] for k in keys]),
            Texts([k[1] for k in keys]),
            Texts([k[2] for k in keys]),
            Int8s([k[3] for k in keys]),
        )
        self.conn.execute(ENSURE_STATES, columns)
        transitions = 0
        saves: list[Saved] = []
        with self.conn.cursor() as cur:
            for row in cur.execute(LOCK_STATES, columns).fetchall():
                key, state = _state_of(row)
                transitions += self._evaluate(key, state, sorted(readings[key]), saves)
        self._save(saves)
        return transitions

    def expire_due(self, now_us: int, limit: int = 500) -> int:
        """Apply the on/off delays that ran out with no newer reading (the timer job)."""
        transitions = 0
        saves: list[Saved] = []
        with self.conn.cursor() as cur:
            for row in cur.execute(DUE_STATES, (limit,)).fetchall():
                key, state = _state_of(row)
                stored = self.rules.by_id.get(key[3])
                if stored is None:
                    continue
                after, change = expire(stored.rule, state, now_us)
                saves.append((key, stored, after))
                if change is not None:
                    self._transition(key, stored, change)
                    transitions += 1
        self._save(saves)
        return transitions

    def _evaluate(
        self, key: Key, state: State, readings: list[tuple[int, float]], saves: list[Saved]
    ) -> int:
        """Feed one key's readings; its new state joins ``saves`` if it changed."""
        stored = self.rules.by_id.get(key[3])
        if stored is None:
            return 0
        changes: list[Change] = []
        before = state
        for us, value in readings:
            state, change = step(stored.rule, state, us, value)
            if change is not None:
                changes.append(change)
        if state != before:
            saves.append((key, stored, state))
        for change in changes:
            self._transition(key, stored, change)
        return len(changes)

    def _save(self, saves: Sequence[Saved]) -> None:
        """Write the states of locked keys, all in one statement."""
        if not saves:
            return
        # key (park, device, metric, rule), level, pending, pending since, due, last at, value
        columns: tuple[list[Any], ...] = (
            *(Texts(), Texts(), Texts(), Int8s()),
            *(Int4s(), Int4s(), Timestamptzs(), Timestamptzs(), Timestamptzs(), Float8s()),
        )
        for key, stored, state in saves:
            due = due_us(stored.rule, state)
            values = (
                *key,
                state.level,
                state.pending,
                from_us(state.pending_since_us) if state.pending_since_us else None,
                from_us(due) if due else None,
                from_us(state.last_us) if state.last_us else None,
                state.last_value,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        self.conn.execute(SAVE_STATES, columns)

    def _transition(self, key: Key, stored: StoredRule, change: Change) -> None:
        """Turn a change of level into alarm changes; a swing from one side of a two-sided
        rule to the other returns the first side's alarm to normal and raises the other's."""
        before, after = change.before, change.after
        if before and after and (before > 0) != (after > 0):
            self._alarm_change(key, stored, replace(change, after=0))
            before = 0
        self._alarm_change(key, stored, replace(change, before=before))

    def _alarm_change(self, key: Key, stored: StoredRule, change: Change) -> None:
        park, device, metric, rule_id = key
        rule = stored.rule
        side = change.after or change.before
        level = rule.level_spec(change.after) if change.after else None
        condition = stored.suppress_when
        params = {
            "id": uuid.uuid4(),
            "park": park,
            "device": device,
            "metric": metric,
            "type": stored.alarm_type(side),
            "rule": rule_id,
            "latch": rule.latch,
            "at": from_us(change.at_us),
            "value": change.value,
            # which way is worse: a rate alarm's value is a speed, a low side's goes down
            "above": side > 0 and (rule.direction == "above" or rule.rate),
            "severity": level.severity if level else None,
            "threshold": level.threshold if level else None,
            "cond_metric": condition.metric if condition else None,
            "cond_below": condition.below if condition else None,
            "cond_above": condition.above if condition else None,
        }
        if change.before == 0:
            sql, action = RAISE, "raised"
        elif abs(change.after) > abs(change.before):
            sql, action = ESCALATE, "escalated"
        elif change.after == 0:
            sql, action = NORMAL, "returned_to_normal"
        else:
            return  # stepping down between two alarm levels keeps the alarm's severity
        with self.conn.cursor(row_factory=dict_row) as cur:
            alarm = cur.execute(sql, params).fetchone()
        if alarm is None:
            return
        if action == "returned_to_normal" and not alarm["active"]:
            action = "cleared"
        note = SUPPRESSION_NOTE.get(alarm["suppressed"]) if action == "raised" else None
        self.conn.execute(
            AUDIT, (alarm["id"], params["at"], action, alarm["severity"], change.value, note)
        )
        if action != "returned_to_normal":
            self.event(park, f"alarm.{action}", alarm["severity"], alarm_document(alarm))

    def status_changes(self, changed: list[tuple[str, str, str, str]]) -> None:
        """Events for devices whose status changed (park, device, before, after); a device back
        online also clears its device_offline alarm. 'unknown' -> online is a first contact,
        not news."""
        for park, device, before, after in changed:
            if after == "online" and before == "offline":
                self._clear_offline(park, device)
                self.event(park, "device.online", None, {"device_id": device, "status": after})
            elif after == "offline":
                self.event(park, "device.offline", None, {"device_id": device, "status": after})

    def _clear_offline(self, park: str, device: str) -> None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            alarm = cur.execute(CLEAR_OFFLINE, (park, device)).fetchone()
        if alarm is not None:
            self.conn.execute(
                AUDIT, (alarm["id"], alarm["cleared_at"], "cleared", alarm["severity"], None, None)
            )
            self.event(park, "alarm.cleared", alarm["severity"], alarm_document(alarm))

    def event(self, park: str, type_: str, severity: str | None, data: dict[str, Any]) -> None:
        """Queue a webhook event in this transaction."""
        outbox.enqueue_sync(self.conn, park_id=park, type=type_, severity=severity, data=data)
