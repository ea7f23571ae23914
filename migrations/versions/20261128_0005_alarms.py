"""Alarms: rules (catalogue defaults and per-park/per-device overrides), alarm records with their
audit trail, and the per-(device, metric, rule) evaluation state.

- ``alarm_rule``: a rule with ``park_id`` NULL is a built-in default for every park; a park's
  rule for the same device type and metric replaces it there, and a device's rule replaces both.
  Seeded: gas detectors at 25 %LEL (major) and 50 %LEL (critical) per GB/T 50493-2019 §5.5.2,
  smoke -> critical; both latch (they stay active until back to normal AND acknowledged).
- ``alarm``: the contract's record. At most one open alarm per (park, device, metric, type):
  a unique index over the rows not yet closed, so racing ingest workers cannot open two.
  ``metric`` is '' for device-level alarms (``device_offline``).
- ``alarm_event``: every raise, escalation, return to normal, clear, acknowledgement and
  comment, with the actor (API key id) where there is one.
- ``alarm_state``: the evaluation state (effective level, a pending level inside its delay and
  since when, the newest reading evaluated), locked per row by the evaluating transaction.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE alarm_rule (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    park_id      text REFERENCES park (id) ON DELETE CASCADE,
    device_type  text NOT NULL REFERENCES device_type (type) ON DELETE CASCADE,
    device_id    text,
    metric       text NOT NULL,
    type         text NOT NULL CHECK (type IN ('threshold', 'state')),
    direction    text NOT NULL DEFAULT 'above' CHECK (direction IN ('above', 'below')),
    levels       jsonb NOT NULL,
    deadband     double precision NOT NULL DEFAULT 0 CHECK (deadband >= 0),
    on_delay_s   double precision NOT NULL DEFAULT 0 CHECK (on_delay_s >= 0),
    off_delay_s  double precision NOT NULL DEFAULT 0 CHECK (off_delay_s >= 0),
    latch        boolean NOT NULL DEFAULT false,
    enabled      boolean NOT NULL DEFAULT true,
    source       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (device_id IS NULL OR park_id IS NOT NULL),
    CHECK (jsonb_typeof(levels) = 'array' AND jsonb_array_length(levels) BETWEEN 1 AND 2)
);
CREATE UNIQUE INDEX alarm_rule_scope_key
    ON alarm_rule (coalesce(park_id, ''), device_type, coalesce(device_id, ''), metric, type);

CREATE TABLE alarm (
    id               uuid PRIMARY KEY,
    park_id          text NOT NULL,
    device_id        text NOT NULL,
    metric           text NOT NULL DEFAULT '',
    type             text NOT NULL,
    rule_id          bigint REFERENCES alarm_rule (id) ON DELETE SET NULL,
    severity         text NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'warning')),
    active           boolean NOT NULL DEFAULT true,
    acknowledged     boolean NOT NULL DEFAULT false,
    latched          boolean NOT NULL DEFAULT false,
    normal           boolean NOT NULL DEFAULT false,
    raised_at        timestamptz NOT NULL,
    cleared_at       timestamptz,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    closed_at        timestamptz,
    value            double precision,
    peak_value       double precision,
    threshold        double precision,
    count            integer NOT NULL DEFAULT 1,
    shelved_until    timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (park_id, device_id) REFERENCES device (park_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX alarm_open_key ON alarm (park_id, device_id, metric, type) WHERE closed_at IS NULL;
CREATE INDEX alarm_park_idx ON alarm (park_id, active, raised_at DESC);
COMMENT ON COLUMN alarm.normal IS 'the condition is back to normal (a latched alarm stays active until acknowledged)';

CREATE TABLE alarm_event (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alarm_id  uuid NOT NULL REFERENCES alarm (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    action    text NOT NULL,
    severity  text,
    value     double precision,
    actor     text,
    comment   text
);
CREATE INDEX alarm_event_alarm_idx ON alarm_event (alarm_id, id);

CREATE TABLE alarm_state (
    park_id         text NOT NULL,
    device_id       text NOT NULL,
    metric          text NOT NULL,
    rule_id         bigint NOT NULL REFERENCES alarm_rule (id) ON DELETE CASCADE,
    level           integer NOT NULL DEFAULT 0,
    pending         integer NOT NULL DEFAULT 0,
    pending_since   timestamptz,
    due_at          timestamptz,
    last_at         timestamptz,
    last_value      double precision,
    PRIMARY KEY (park_id, device_id, metric, rule_id),
    FOREIGN KEY (park_id, device_id) REFERENCES device (park_id, id) ON DELETE CASCADE
);
CREATE INDEX alarm_state_due_idx ON alarm_state (due_at) WHERE due_at IS NOT NULL;

INSERT INTO alarm_rule (device_type, metric, type, levels, deadband, latch, source) VALUES
    ('gas_detector', 'gas_lel_pct', 'threshold',
     '[{"severity": "major", "threshold": 25}, {"severity": "critical", "threshold": 50}]',
     2, true, 'GB/T 50493-2019 §5.5.2: level 1 <= 25 %LEL, level 2 <= 50 %LEL'),
    ('smoke_detector', 'smoke', 'state', '[{"severity": "critical", "threshold": 0.5}]',
     0, true, 'smoke detected');

CREATE TRIGGER alarm_rule_registry_notify AFTER INSERT OR UPDATE OR DELETE ON alarm_rule
    FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS alarm_state, alarm_event, alarm, alarm_rule CASCADE")
