"""Ingest: tell ingestors when the registry changes.

Each ingest worker caches parks, devices, their types' metrics and series ids. These
statement-level triggers send ``NOTIFY parktwin_registry`` whenever a park or device appears
or goes, a device changes type, a type's metrics change, or a series is deleted; the workers
drop their caches on it. The ingestor's own writes (device last-seen and status, new series)
fire none of them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TRIGGERS = {
    "park_registry_notify": "AFTER INSERT OR DELETE ON park",
    "device_registry_notify": "AFTER INSERT OR DELETE OR UPDATE OF type ON device",
    "device_type_metric_registry_notify": "AFTER INSERT OR DELETE OR UPDATE ON device_type_metric",
    "series_registry_notify": "AFTER DELETE ON series",
}


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_registry_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('parktwin_registry', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change()"
        )


def downgrade() -> None:
    for name, when in TRIGGERS.items():
        table = when.rsplit(" ", 1)[-1]
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS notify_registry_change()")
