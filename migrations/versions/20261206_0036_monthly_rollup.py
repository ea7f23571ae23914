"""Monthly rollups: ``rollup_month``, per series and month in the park's timezone.

A year of the carbon ledger (the cockpit's year to date, the park's annual report, energy by
enterprise) and of the 亩均 evaluation's kWh read one ``rollup_day`` row per counter and day:
at 100,000 devices 17 million rows (340 days), past the API's 30-s statement timeout
(bench/ledger_year). A month's row holds the same columns as a day's (count, sum, min, max,
first and last reading, ``increase``), made by the rollup worker from the month's daily rows
as a day's is made from its hours (app/telemetry/rollup_repository.py); the reads take it for
a whole month with no hour of it still queued (app/telemetry/consumption.py).

Rows of the daily rollups already there are rolled up here into their months, by the same rule
(this migration's copy of it: a released migration is never edited). Retention drops its chunks
with the daily rollups' (``PARKTWIN_DAILY_ROLLUP_RETENTION``): ``parktwin_drop_expired`` accepts
the table.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE rollup_month (
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
);
SELECT create_hypertable('rollup_month', by_range('bucket', INTERVAL '365 days'),
                         create_default_indexes => false);
COMMENT ON TABLE rollup_month IS
    'per series and month in the park''s timezone: as rollup_day, made from its daily rows';
GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_month TO parktwin_api, parktwin_worker;
"""

# The months of the daily rows already there. Each day's row against the day before it in the
# same month: its first reading minus that day's last (a drop counts in full), as
# INTO_BUCKET in app/telemetry/sql.py combines a day's hours.
BACKFILL = """
INSERT INTO rollup_month (series_id, bucket, count, sum, min, max, first_time, first_value,
                          last_time, last_value, increase)
SELECT series_id, month, sum(count)::int, sum(sum), min(min), max(max), min(first_time),
       first(first_value, first_time), max(last_time), last(last_value, last_time),
       sum(increase + CASE WHEN before IS NULL THEN 0
                           WHEN first_value >= before THEN first_value - before
                           ELSE first_value END)
FROM (
    SELECT r.*, m.month,
           lag(r.last_value) OVER (PARTITION BY r.series_id, m.month ORDER BY r.bucket) AS before
    FROM rollup_day r
    JOIN series s ON s.id = r.series_id
    JOIN park p ON p.id = s.park_id
    CROSS JOIN LATERAL (SELECT date_trunc('month', r.bucket, p.timezone) AS month) m
) days
GROUP BY series_id, month
"""

DROP_EXPIRED = """
CREATE OR REPLACE FUNCTION parktwin_drop_expired(p_table text, p_age interval) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF p_table NOT IN ({tables}) THEN
        RAISE EXCEPTION 'retention drops chunks of telemetry and the rollups only, not %', p_table;
    END IF;
    RETURN (SELECT count(*) FROM drop_chunks(p_table::regclass, older_than => p_age));
END
$$
"""

WITH_MONTHS = "'telemetry', 'rollup_hour', 'rollup_day', 'rollup_month'"
WITHOUT_MONTHS = "'telemetry', 'rollup_hour', 'rollup_day'"


def upgrade() -> None:
    op.execute(TABLE)
    op.execute(BACKFILL)
    op.execute(DROP_EXPIRED.format(tables=WITH_MONTHS))


def downgrade() -> None:
    op.execute(DROP_EXPIRED.format(tables=WITHOUT_MONTHS))
    op.execute("DROP TABLE rollup_month")
