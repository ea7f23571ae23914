"""Asset version per park: a counter bumped by triggers whenever a parcel, building, space,
enterprise or lease changes, or a device is added, removed, moved or relinked.

The API keeps a spatial index per park in each process (app/assets/twin/index.py); before a
query it reads this one row and rebuilds the index when the number has moved, so a change
made by any process or any path (API, bulk import, SQL) is seen by the next query, for the
price of a primary-key lookup. Device updates that do not touch what the index holds
(``status``, ``last_seen_at``, ...: the ingestor's and the offline detector's writes) do not
bump it. No foreign key to ``park``: deleting a park cascades to its assets, whose triggers
would otherwise write a row for a park being deleted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("parcel", "building", "space", "enterprise", "lease")
DEVICE_COLUMNS = ("lon", "lat", "name", "type", "building_id", "space_id", "enterprise_id")

SCHEMA = """
CREATE TABLE asset_version (
    park_id     text PRIMARY KEY,
    version     bigint NOT NULL DEFAULT 0,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE asset_version IS 'bumped by triggers on every change of what the spatial index holds';

CREATE FUNCTION bump_asset_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    park text := CASE WHEN TG_OP = 'DELETE' THEN OLD.park_id ELSE NEW.park_id END;
BEGIN
    INSERT INTO asset_version AS v (park_id, version, changed_at) VALUES (park, 1, now())
    ON CONFLICT (park_id) DO UPDATE SET version = v.version + 1, changed_at = now();
    RETURN NULL;
END
$$;
"""


def _triggers() -> str:
    statements = [
        f"CREATE TRIGGER {table}_asset_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION bump_asset_version();"
        for table in TABLES
    ]
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in DEVICE_COLUMNS)
    statements += [
        "CREATE TRIGGER device_asset_version AFTER INSERT OR DELETE ON device "
        "FOR EACH ROW EXECUTE FUNCTION bump_asset_version();",
        "CREATE TRIGGER device_moved_asset_version AFTER UPDATE ON device "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION bump_asset_version();",
    ]
    return "\n".join(statements)


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute(_triggers())


def downgrade() -> None:
    drops = [f"DROP TRIGGER IF EXISTS {t}_asset_version ON {t};" for t in TABLES]
    drops += [
        "DROP TRIGGER IF EXISTS device_asset_version ON device;",
        "DROP TRIGGER IF EXISTS device_moved_asset_version ON device;",
        "DROP FUNCTION IF EXISTS bump_asset_version();",
        "DROP TABLE IF EXISTS asset_version;",
    ]
    op.execute("\n".join(drops))
