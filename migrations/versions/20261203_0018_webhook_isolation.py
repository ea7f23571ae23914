"""Webhooks as a trust boundary: per-webhook isolation, a circuit breaker, cancelled deliveries,
and alarm floods per source device.

- ``webhook.consecutive_failures`` / ``circuit_opened_at`` / ``circuit_open_until``: the
  circuit breaker. Closed while ``circuit_open_until`` is null; open until that time (no
  attempt is made, the deliveries wait); half-open after it (one probe attempt at a time).
- ``webhook_delivery.urgent``: the event is critical; urgent deliveries are claimed first.
  ``status`` may be ``cancelled``: the webhook was deactivated, so the event may be purged.
- ``alarm_flood.device_id``: a flood is one device chattering (more raises than the threshold
  within the window), no longer a whole park; one open flood per (park, device).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE webhook ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN circuit_opened_at timestamptz NULL,
    ADD COLUMN circuit_open_until timestamptz NULL;

ALTER TABLE webhook_delivery ADD COLUMN urgent boolean NOT NULL DEFAULT false;
ALTER TABLE webhook_delivery DROP CONSTRAINT webhook_delivery_status_check;
ALTER TABLE webhook_delivery ADD CONSTRAINT webhook_delivery_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled'));
CREATE INDEX webhook_delivery_queue ON webhook_delivery (webhook_id, urgent DESC, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_attempt_in_flight ON webhook_attempt (webhook_id, started_at)
    WHERE outcome = 'in_flight';

ALTER TABLE alarm_flood ADD COLUMN device_id text NOT NULL DEFAULT '';
DROP INDEX alarm_flood_open_key;
CREATE UNIQUE INDEX alarm_flood_open_key ON alarm_flood (park_id, device_id)
    WHERE ended_at IS NULL;
CREATE INDEX event_outbox_raised_device_idx
    ON event_outbox (park_id, (coalesce(data->>'device_id', '')), created_at)
    WHERE type = 'alarm.raised';
"""

DOWNGRADE = """
DROP INDEX IF EXISTS event_outbox_raised_device_idx;
UPDATE alarm_flood SET ended_at = now() WHERE ended_at IS NULL;
DROP INDEX IF EXISTS alarm_flood_open_key;
ALTER TABLE alarm_flood DROP COLUMN IF EXISTS device_id;
CREATE UNIQUE INDEX alarm_flood_open_key ON alarm_flood (park_id) WHERE ended_at IS NULL;

DROP INDEX IF EXISTS webhook_attempt_in_flight;
DROP INDEX IF EXISTS webhook_delivery_queue;
UPDATE webhook_delivery SET status = 'dead' WHERE status = 'cancelled';
ALTER TABLE webhook_delivery DROP CONSTRAINT webhook_delivery_status_check;
ALTER TABLE webhook_delivery ADD CONSTRAINT webhook_delivery_status_check
    CHECK (status IN ('pending', 'delivered', 'dead'));
ALTER TABLE webhook_delivery DROP COLUMN IF EXISTS urgent;
ALTER TABLE webhook DROP COLUMN IF EXISTS consecutive_failures,
    DROP COLUMN IF EXISTS circuit_opened_at, DROP COLUMN IF EXISTS circuit_open_until;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
