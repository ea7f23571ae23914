"""API keys for enterprises: role ``enterprise``, bound to one enterprise of one park.

An enterprise key reads only what belongs to its enterprise (its leases, spaces, meters and
their readings, energy, carbon, alarms, 亩均 result, rent) and submits the enterprise's monthly
reports; every park-wide route refuses it (403) and another enterprise's data is 404.
Deleting the enterprise deletes its keys.

Revision ID: 0029
Revises: 0020
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE api_key DROP CONSTRAINT api_key_role_check;
        ALTER TABLE api_key
            ADD CONSTRAINT api_key_role_check
                CHECK (role IN ('enterprise', 'viewer', 'operator', 'admin')),
            ADD COLUMN enterprise_id text,
            ADD CONSTRAINT api_key_enterprise_fk FOREIGN KEY (park_id, enterprise_id)
                REFERENCES enterprise (park_id, id) ON DELETE CASCADE,
            ADD CONSTRAINT api_key_enterprise_scope CHECK (
                (role = 'enterprise') = (enterprise_id IS NOT NULL)
                AND (enterprise_id IS NULL OR park_id IS NOT NULL)
            );
        COMMENT ON COLUMN api_key.enterprise_id IS
            'role enterprise: the enterprise (of park_id) the key sees; NULL for park staff';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM api_key WHERE role = 'enterprise';
        ALTER TABLE api_key
            DROP CONSTRAINT api_key_enterprise_scope,
            DROP CONSTRAINT api_key_enterprise_fk,
            DROP COLUMN enterprise_id,
            DROP CONSTRAINT api_key_role_check,
            ADD CONSTRAINT api_key_role_check CHECK (role IN ('viewer', 'operator', 'admin'));
        """
    )
