"""Rollups: the job claims dirty hours in a short transaction of its own, so ingest never waits
for a recomputation.

The rollup job used to delete the marks of the hours it took and recompute them in the same
transaction, holding the marks' row locks throughout; every ingest batch that marked one of
those hours again (``ON CONFLICT ... DO UPDATE``) waited for the recomputation to commit. At
100,000 devices the job recomputes every series' open hour every
``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL`` in batches of seconds each, so during a pass nearly
every ingest batch could wait on one (bench/park100k showed the ingest lag climbing to 30 s
during each pass; after this change it climbs the same, so the pass's CPU, not these locks, is
what it measured: docs/benchmarks.md).

Now the job stamps the hours it takes (``claimed_at``) and commits at once; it recomputes them
in a second transaction, which ends by deleting the marks still carrying its stamp. A writer
that marks a claimed hour again clears the stamp (``DO UPDATE SET claimed_at = NULL``), so its
mark outlives the recomputation, which may not have seen its rows, and the hour is taken again
on a later pass. A claim whose recomputation never committed (the worker killed) is taken again
once it is ``CLAIM_LEASE`` old (app/telemetry/rollup_repository.py).

Revision ID: 0032
Revises: 0027
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE telemetry_dirty ADD COLUMN claimed_at timestamptz")
    op.execute(
        "COMMENT ON COLUMN telemetry_dirty.claimed_at IS "
        "'when a rollup job took this hour (NULL: waiting); a writer marking it again clears it'"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE telemetry_dirty DROP COLUMN claimed_at")
