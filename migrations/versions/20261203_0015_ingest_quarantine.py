"""Ingest: the tables that find poison messages (see ingest/quarantine.py).

``ingest_inflight`` holds, per worker lane (its MQTT client id, ``/urgent`` for the urgent
lane), the digests of the batch it is processing; a lane empties it on a clean stop, so a full
row at start names the batch in flight when the last process died. ``ingest_suspect`` counts,
per message digest, how many such deaths the message was in flight for; at
``PARKTWIN_INGEST_QUARANTINE_AFTER`` it is rejected as ``quarantined`` instead of processed.
Both stay small: one row per lane, and at most one batch of suspects per unclean stop,
forgotten after the broker's session expiry. ``ingest_inflight`` is UNLOGGED: rewritten before
every batch, it must cost no WAL and no disk flush at commit; it only has to survive the
*ingestor's* death, and a database crash, which empties it, costs nothing but one diagnosis.

The rejection log's retention job (``rejection_retention``) needs no new index: it deletes by
``received_at`` through ``ingest_rejection_received_idx``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE UNLOGGED TABLE ingest_inflight (
    worker     text PRIMARY KEY,
    digests    bytea,
    marked_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ingest_inflight IS
    'per ingest worker lane: the 16-byte blake2b digests of the batch being processed';
CREATE TABLE ingest_suspect (
    digest     bytea PRIMARY KEY,
    strikes    integer NOT NULL,
    struck_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ingest_suspect IS
    'messages that were in flight when an ingest worker died, with how often';
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS ingest_suspect, ingest_inflight")
