"""SQL shared by the read path (repository.py) and the rollup worker (rollup_repository.py).

Every aggregate of the read API is composed from per-bucket rows of the same shape, made
either from raw readings (``RAW_ROLLUP``) or read back from ``rollup_hour``/``rollup_day``/
``rollup_month``:
count, sum, min, max, first and last reading, and ``increase``, the counter consumption
between consecutive readings inside the bucket. A reading below the one before it means
the meter restarted from zero, so it counts in full.
"""

from __future__ import annotations

from app.core.sqlcompose import Fixed, compose

ROLLUP_COLUMNS = (
    "series_id, bucket, count, sum, min, max, first_time, first_value, last_time, last_value, "
    "increase"
)

STEP = (
    "CASE WHEN {before} IS NULL THEN 0 "
    "WHEN {value} >= {before} THEN {value} - {before} ELSE {value} END"
)
"""One reading's consumption against the one before it (none before: 0)."""

RAW_ROLLUP = compose(
    """
SELECT series_id, bucket, count(*)::int AS count, sum(value) AS sum, min(value) AS min,
       max(value) AS max, min(time) AS first_time, first(value, time) AS first_value,
       max(time) AS last_time, last(value, time) AS last_value,
       sum({step}) AS increase
FROM (
    SELECT k.series_id, k.bucket, t.time, t.value,
           lag(t.value) OVER (PARTITION BY k.series_id, k.bucket ORDER BY t.time) AS before
    FROM {{keys}} k
    JOIN telemetry t ON t.series_id = k.series_id AND t.time >= k.bucket AND t.time < k.bucket_end
    WHERE t.time >= {{lo}} AND t.time < {{hi}}
) readings
GROUP BY series_id, bucket
""",
    step=Fixed(STEP.format(before="before", value="value")),
)
"""Rollup rows computed from raw readings for the keys ``(series_id, bucket, bucket_end)``.

``{lo}`` and ``{hi}`` bound every key's bucket by constants (bound parameters): TimescaleDB can
then skip the chunks outside them, which it cannot do from the join's bounds alone.
"""

DAY_END = "((({b}) AT TIME ZONE {tz}) + interval '1 day') AT TIME ZONE {tz}"
"""The end of the local day starting at ``b`` (23 or 25 hours on DST change days)."""

MONTH_END = "((({b}) AT TIME ZONE {tz}) + interval '1 month') AT TIME ZONE {tz}"
"""The end of the local month starting at ``b`` (a local midnight, the first of a month)."""

DAYS_OF_HOURS = """
SELECT DISTINCT k.series_id, time_bucket('1 day', v.h, p.timezone) AS bucket, p.timezone
FROM {hours} k
JOIN series s ON s.id = k.series_id
JOIN park p ON p.id = s.park_id
CROSS JOIN LATERAL (
    VALUES (k.bucket), (k.bucket + interval '1 hour' - interval '1 microsecond')
) v(h)
"""
"""The park-local days ``(series_id, bucket, timezone)`` that the UTC hours ``{hours}`` touch."""


WHOLE_HOURS = (
    "date_trunc('hour', k.bucket, 'UTC') = k.bucket "
    "AND date_trunc('hour', k.bucket_end, 'UTC') = k.bucket_end"
)
"""A local day ``k`` (``bucket``, ``bucket_end``) that starts and ends on whole UTC hours (every
zone but the half- and quarter-hour ones): its rollup row can be made from its hourly rows."""

INTO_BUCKET = compose(
    "sum(h.count)::int AS count, sum(h.sum) AS sum, min(h.min) AS min, max(h.max) AS max, "
    "min(h.first_time) AS first_time, first(h.first_value, h.first_time) AS first_value, "
    "max(h.last_time) AS last_time, last(h.last_value, h.last_time) AS last_value, "
    "sum(h.increase + {step}) AS increase",
    step=Fixed(STEP.format(before="h.before", value="h.first_value")),
)
"""A bucket's rollup columns (``count`` to ``increase``) from the rollup rows ``h`` of the
consecutive buckets it is made of (a day's hours, a month's days), grouped by the bucket, each
with ``before``: the previous row's ``last_value`` within the bucket (NULL for its first). The
steps between rows are the raw rule's: each row's first reading against the previous row's
last, the bucket's first row against nothing, as ``RAW_ROLLUP`` counts a bucket's first reading.
One rule for the worker's daily and monthly rows (``DAYS_FROM_HOURS``, ``MONTHS_FROM_DAYS`` in
app/telemetry/rollup_repository.py) and the read path's queued days
(app/telemetry/consumption.py)."""
