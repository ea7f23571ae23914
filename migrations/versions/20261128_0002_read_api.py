"""Read API: hourly and daily rollups per series, and the queue of hours to recompute.

``telemetry_dirty`` holds the (series, UTC hour) pairs that received rows since the worker
last looked: the ingest writer adds them in the same transaction as each batch, with
``time_bucket('1 hour', time)`` as the bucket. Writers should mark with
``INSERT ... ON CONFLICT (series_id, bucket) DO UPDATE SET bucket = excluded.bucket``: the
no-op update takes the row lock, so a mark made while the worker is recomputing that hour
waits for the worker's commit and then survives it (with ``DO NOTHING`` a batch that commits
just after the worker's snapshot could leave its hour stale until the hour is marked again).

``rollup_hour`` (UTC hours) and ``rollup_day`` (days in the park's timezone) hold, per
series and bucket, what every aggregate of the read API can be composed from: count, sum,
min, max, the first and last reading, and ``increase``, the counter consumption between
consecutive readings inside the bucket (a drop counts the new reading in full). The
consumption across a bucket edge (first reading against the previous bucket's last) is
computed when reading, so a late reading changes only its own bucket.

Both are hypertables (30-day and 1-year chunks) so that retention can drop whole chunks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op
from psycopg import sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLLUP_COLUMNS = """
    series_id    integer NOT NULL,
    bucket       timestamptz NOT NULL,
    count        integer NOT NULL,
    sum          double precision NOT NULL,
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    first_time   timestamptz NOT NULL,
    first_value  double precision NOT NULL,
    last_time    timestamptz NOT NULL,
    last_value   double precision NOT NULL,
    increase     double precision NOT NULL,
    PRIMARY KEY (series_id, bucket)
"""

SCHEMA_TEMPLATE = """
CREATE TABLE telemetry_dirty (series_id integer NOT NULL, bucket timestamptz NOT NULL, PRIMARY KEY (series_id, bucket));
COMMENT ON TABLE telemetry_dirty IS 'UTC hours (time_bucket(''1 hour'', time)) per series that received rows since the rollup worker last recomputed them';

CREATE TABLE rollup_hour ({columns});
SELECT create_hypertable('rollup_hour', by_range('bucket', INTERVAL '30 days'), create_default_indexes => false);
COMMENT ON TABLE rollup_hour IS 'per series and UTC hour: count, sum, min, max, first, last, and the counter increase inside the hour';

CREATE TABLE rollup_day ({columns});
SELECT create_hypertable('rollup_day', by_range('bucket', INTERVAL '365 days'), create_default_indexes => false);
COMMENT ON TABLE rollup_day IS 'per series and day in the park''s timezone: as rollup_hour';

-- Readings stored before this migration get their rollups on the worker's first run.
INSERT INTO telemetry_dirty (series_id, bucket)
SELECT DISTINCT series_id, time_bucket('1 hour', time) FROM telemetry
ON CONFLICT DO NOTHING;
"""

SCHEMA = sql.SQL(SCHEMA_TEMPLATE).format(columns=sql.SQL(ROLLUP_COLUMNS)).as_string()


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS rollup_day, rollup_hour, telemetry_dirty CASCADE")
