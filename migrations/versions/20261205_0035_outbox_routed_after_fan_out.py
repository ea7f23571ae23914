"""Notifications to people are routed after the webhooks' fan-out, in a transaction of their own
(``event_outbox.routed_at``).

The webhook worker routed each batch of events to people (app/notify/routing.py: routes,
facts, plans, people, messages) inside the transaction that fans the batch out to webhooks and
claims their deliveries, so a gas alarm's POST waited for every statement of the routing. Now
that transaction commits first and the POSTs start; a second transaction takes the events fanned
out and not yet routed (``FOR UPDATE SKIP LOCKED``), routes them and sets ``routed_at``. A worker
killed between the two leaves the events unrouted, and the next run routes them: nothing is
lost. Events already fanned out count as routed (they were, in the old transaction), at the
migration's time: the column is added with ``now()`` as its default, which PostgreSQL evaluates
once and keeps in the catalogue for the rows already there, so the outbox (30 days of events by
default, millions of rows in a large park) is not rewritten; the default is then dropped, and
only the few events not yet fanned out are set back to unrouted. A test event
(``webhook.test``) is inserted routed, as it was never routed before.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE event_outbox ADD COLUMN routed_at timestamptz NULL DEFAULT now();
ALTER TABLE event_outbox ALTER COLUMN routed_at DROP DEFAULT;
COMMENT ON COLUMN event_outbox.routed_at IS
    'when the worker routed the event to people (app/notify/routing.py), after its fan-out';
UPDATE event_outbox SET routed_at = NULL WHERE fanned_out_at IS NULL;
CREATE INDEX event_outbox_unrouted ON event_outbox (created_at) WHERE routed_at IS NULL;
"""

DOWNGRADE = """
DROP INDEX IF EXISTS event_outbox_unrouted;
ALTER TABLE event_outbox DROP COLUMN IF EXISTS routed_at;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
