"""Rollups: when each dirty mark was first made, so an hour still being written is recomputed
at most every ``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL``.

Under a steady stream every batch marks the current hour of its series again, and the rollup
job took those marks at once, recomputing the growing hour (and its day) from raw readings
round after round while holding the marks' row locks, so the ingest writers that marked the
same hours waited for each recomputation to commit. Readers compute dirty hours from raw
readings anyway, so recomputing an open hour more often than now and then buys nothing.
``marked_at`` is set when a mark is inserted and kept when a writer marks the hour again
(``ON CONFLICT ... DO UPDATE SET bucket = excluded.bucket`` leaves it alone); the job takes
closed hours at once and an open hour's mark once it is older than the interval.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE telemetry_dirty ADD COLUMN marked_at timestamptz NOT NULL DEFAULT now()"
    )
    op.execute(
        "COMMENT ON COLUMN telemetry_dirty.marked_at IS "
        "'when the hour was first marked since the rollup job last took it'"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE telemetry_dirty DROP COLUMN marked_at")
