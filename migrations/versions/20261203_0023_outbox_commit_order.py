"""Outbox events numbered in commit order (``event_outbox.seq``), for resumable event streams.

The server-sent event stream (``GET /api/v1/parks/{park_id}/events``) resumes from the last
number a client saw, so the numbers must follow commit order: a reader that has seen number N
must never later find a committed event numbered below N. A sequence taken at INSERT does not
give that (a transaction that took 10 may commit after one that took 11). So the number is
taken at COMMIT: a deferred constraint trigger takes a transaction-level advisory lock and then
numbers the transaction's events in insertion order. The lock is released only after the
commit is visible (PostgreSQL releases locks after it marks the transaction committed), so the
next outbox writer numbers its events after this one's are visible. The cost: commits of
transactions that write events are serialised for the few statements of the trigger and the
commit itself (alarm changes, incidents, device status: not telemetry). Transactions that do
not write to the outbox never take the lock. ``seq`` is NULL only inside the writing
transaction, never in a committed row. Existing rows are numbered by ``created_at``.

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0018"
branch_labels = None
depends_on = None

# pg_advisory_xact_lock(7023000001): the lock that orders outbox commits; used nowhere else
UPGRADE = """
CREATE SEQUENCE event_outbox_seq AS bigint;
ALTER TABLE event_outbox ADD COLUMN seq bigint NULL;
COMMENT ON COLUMN event_outbox.seq IS
    'commit order of the events (set at commit by event_outbox_sequence): the SSE event id';
WITH numbered AS (
    SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM event_outbox
)
UPDATE event_outbox o SET seq = numbered.n FROM numbered WHERE numbered.id = o.id;
SELECT setval('event_outbox_seq', coalesce((SELECT max(seq) FROM event_outbox), 0) + 1, false);
CREATE UNIQUE INDEX event_outbox_seq_key ON event_outbox (seq);
CREATE INDEX event_outbox_park_seq ON event_outbox (park_id, seq);

CREATE FUNCTION event_outbox_sequence() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7023000001);
    UPDATE event_outbox SET seq = nextval('event_outbox_seq') WHERE id = NEW.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION event_outbox_sequence() IS
    'numbers outbox events at commit, in commit order (migration 0023)';
CREATE CONSTRAINT TRIGGER event_outbox_sequence AFTER INSERT ON event_outbox
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION event_outbox_sequence();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS event_outbox_sequence ON event_outbox;
DROP FUNCTION IF EXISTS event_outbox_sequence();
DROP INDEX IF EXISTS event_outbox_park_seq;
DROP INDEX IF EXISTS event_outbox_seq_key;
ALTER TABLE event_outbox DROP COLUMN IF EXISTS seq;
DROP SEQUENCE IF EXISTS event_outbox_seq;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
