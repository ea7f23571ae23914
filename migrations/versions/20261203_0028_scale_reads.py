"""Reads and writes at 100,000 devices.

1. The asset version (0009) is bumped once per statement and park, not once per row. A row
   trigger updates the park's one ``asset_version`` row once per row, and each update of a
   row already updated in the same transaction walks the chain of its earlier versions: a
   single INSERT of N devices cost O(N²) (100,000 devices in one statement: minutes, not
   seconds; 2,000: 0.2 s). Statement triggers with transition tables bump each park the
   statement touched once. A trigger with a transition table may name one event only, hence
   one trigger per event. The device's "moved or relinked" update stays 0009's row trigger
   with its ``WHEN`` clause: it costs nothing on the updates that change none of the columns
   the spatial index holds (ingest's status updates, many a second), where a statement
   trigger would build transition tables on each, and would need the ingest role to write
   ``asset_version``.
2. ``device (park_id, status)``: the twin's offline and unknown filters, the device list's
   ``status`` filter and ``GET .../latest?status=`` at 100,000 devices.

Revision ID: 0028
Revises: 0031
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0031"
branch_labels = None
depends_on = None

TABLES = ("parcel", "building", "space", "enterprise", "lease")
EVENTS = (("insert", "INSERT", "NEW"), ("update", "UPDATE", "NEW"), ("delete", "DELETE", "OLD"))

FUNCTIONS = """
CREATE FUNCTION bump_asset_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_version AS v (park_id, version, changed_at)
    SELECT DISTINCT park_id, 1, now() FROM changed
    ON CONFLICT (park_id) DO UPDATE SET version = v.version + 1, changed_at = now();
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION bump_asset_versions() IS
    'statement trigger: bump the asset version of every park in the transition table "changed"';

"""


def _statement_triggers() -> list[str]:
    statements = []
    for table in TABLES:
        statements.append(f"DROP TRIGGER {table}_asset_version ON {table};")
        statements += [
            f"CREATE TRIGGER {table}_asset_version_{name} AFTER {event} ON {table} "
            f"REFERENCING {side} TABLE AS changed FOR EACH STATEMENT "
            "EXECUTE FUNCTION bump_asset_versions();"
            for name, event, side in EVENTS
        ]
    statements += [
        "DROP TRIGGER device_asset_version ON device;",
        "CREATE TRIGGER device_asset_version_insert AFTER INSERT ON device "
        "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT "
        "EXECUTE FUNCTION bump_asset_versions();",
        "CREATE TRIGGER device_asset_version_delete AFTER DELETE ON device "
        "REFERENCING OLD TABLE AS changed FOR EACH STATEMENT "
        "EXECUTE FUNCTION bump_asset_versions();",
    ]
    return statements


def _row_triggers() -> list[str]:
    """0009's triggers, for the downgrade."""
    statements = [
        f"CREATE TRIGGER {table}_asset_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION bump_asset_version();"
        for table in TABLES
    ]
    return [
        *statements,
        "CREATE TRIGGER device_asset_version AFTER INSERT OR DELETE ON device "
        "FOR EACH ROW EXECUTE FUNCTION bump_asset_version();",
    ]


def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.execute("\n".join(_statement_triggers()))
    op.execute("CREATE INDEX device_status_idx ON device (park_id, status)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS device_status_idx")
    drops = [
        f"DROP TRIGGER IF EXISTS {table}_asset_version_{name} ON {table};"
        for table in TABLES
        for name, _event, _side in EVENTS
    ]
    drops += [
        f"DROP TRIGGER IF EXISTS device_asset_version_{name} ON device;"
        for name in ("insert", "delete")
    ]
    op.execute("\n".join(drops))
    op.execute("\n".join(_row_triggers()))
    op.execute("DROP FUNCTION bump_asset_versions();")
