"""Alarms, second part: rate-of-change rules, time-limited shelving and alarm floods.

- ``alarm_rule.type`` may be ``rate_of_change``: the levels' thresholds are a rate in the
  metric's unit per minute between consecutive readings (``direction`` above: rising at least
  that fast; below: falling at least that fast, the threshold given as a positive number).
- ``alarm.shelved_by`` / ``shelved_at``: who shelved the alarm and when; ``shelved_until``
  (from 0005) bounds it. A shelved alarm is still evaluated and recorded; it is left out of the
  active list and summary unless asked for, and its notifications are held back.
- ``alarm_flood``: one row per park and flood (more than N raises within a window, ISA-18.2's
  10 in 10 minutes by default); during a flood, ``alarm.raised`` notifications of alarms that do
  not latch are held back (``event_outbox.held_back``); gas and fire alarms (latched) never are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE alarm_rule DROP CONSTRAINT alarm_rule_type_check;
ALTER TABLE alarm_rule ADD CONSTRAINT alarm_rule_type_check
    CHECK (type IN ('threshold', 'state', 'rate_of_change'));

ALTER TABLE alarm ADD COLUMN shelved_by text, ADD COLUMN shelved_at timestamptz;
CREATE INDEX alarm_shelved_idx ON alarm (shelved_until) WHERE shelved_until IS NOT NULL;

CREATE TABLE alarm_flood (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id     text NOT NULL REFERENCES park (id) ON DELETE CASCADE,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    raised      integer NOT NULL DEFAULT 0,
    held_back   integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alarm_flood_open_key ON alarm_flood (park_id) WHERE ended_at IS NULL;
CREATE INDEX alarm_raised_idx ON alarm (park_id, raised_at);

ALTER TABLE event_outbox ADD COLUMN held_back text
    CHECK (held_back IN ('shelved', 'flood'));
COMMENT ON COLUMN event_outbox.held_back IS
    'why no delivery was queued for this event: its alarm was shelved, or an alarm flood';
CREATE INDEX event_outbox_raised_idx ON event_outbox (park_id, created_at)
    WHERE type = 'alarm.raised';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS alarm_flood;
DROP INDEX IF EXISTS event_outbox_raised_idx;
ALTER TABLE event_outbox DROP COLUMN IF EXISTS held_back;
DROP INDEX IF EXISTS alarm_raised_idx, alarm_shelved_idx;
ALTER TABLE alarm DROP COLUMN IF EXISTS shelved_by, DROP COLUMN IF EXISTS shelved_at;
DELETE FROM alarm_rule WHERE type = 'rate_of_change';
ALTER TABLE alarm_rule DROP CONSTRAINT alarm_rule_type_check;
ALTER TABLE alarm_rule ADD CONSTRAINT alarm_rule_type_check CHECK (type IN ('threshold', 'state'));
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
