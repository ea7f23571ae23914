"""Outbox: notify only when events were really inserted.

The statement-level ``event_outbox_notify`` trigger (0004) fired for every INSERT statement,
also one that inserted no row. The webhook fan-out itself is such a statement (its CTE that
announces a new alarm flood inserts nothing almost always), so every fan-out sent
``NOTIFY parktwin_outbox``, which woke the worker's loop and dispatch pump for another
fan-out: ``parktwin worker`` never went idle and kept a core and the database busy in a quiet
park. The trigger now looks at the statement's transition table and notifies only when it
holds rows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TRIGGER event_outbox_notify ON event_outbox")
    op.execute(
        """
        CREATE FUNCTION notify_outbox_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT FROM inserted) THEN
                PERFORM pg_notify('parktwin_outbox', '');
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox "
        "REFERENCING NEW TABLE AS inserted "
        "FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox_rows()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER event_outbox_notify ON event_outbox")
    op.execute("DROP FUNCTION notify_outbox_rows()")
    op.execute(
        "CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox()"
    )
