"""A counter's consumption over a range: the one home of the rule (the contract's ``delta``).

A counter's consumption in a bucket is each reading minus the one before it, the bucket's first
reading against the last one before the bucket; a reading below the one before it means the
meter restarted from zero, so it counts in full (``STEP`` in app/telemetry/sql.py, which the
rollup worker uses for each bucket's ``increase``). Over rollup rows that is, per bucket, its
``increase`` plus the step from the reading before the bucket to its first one (``DELTA``).

Built here, once, for the read API (app/telemetry/repository.py), the carbon ledger
(app/carbon/sql.py) and 电力看经济 (app/economy/power_repository.py):

- the baseline (``last_before``): the last reading before the range; from raw readings while
  retention has kept them, else from the newest hourly or daily rollup row that ended before it;
- the buckets (UTC hours, or the park's local days) still queued for the rollup worker in
  ``telemetry_dirty`` are made from raw readings with the worker's own SQL (``RAW_ROLLUP``);
  the others are read from ``rollup_hour`` / ``rollup_day``;
- each bucket's ``before`` is the previous bucket's last reading; the first one's, the baseline.

The bucket rows and the bucket rows with their ``before`` are ``MATERIALIZED``: each is
computed once per statement. Inlined, a caller joining them to a relation the planner
underestimates (the carbon ledger's meters, estimated at one row for hundreds) had them
recomputed once per outer row, quadratic in the meters: a park's annual carbon report took
minutes instead of about a second (bench/carbon).

The builders compose CTEs (app/core/sqlcompose.py) for the caller's single statement. Their
arguments are SQL written in the code (CTE names, bound parameters such as ``:lo``), never values.
"""

from __future__ import annotations

from app.core.sqlcompose import Fixed, compose
from app.telemetry.intervals import Level
from app.telemetry.sql import DAY_END, RAW_ROLLUP, STEP

TZ = "CAST(:tz AS text)"

COLUMNS = "count, sum, min, max, first_time, first_value, last_time, last_value, increase"
"""The rollup columns of a bucket row (after ``series_id, bucket``)."""

DELTA = "increase + " + STEP.format(before="before", value="first_value")
"""A bucket row's consumption: the steps inside it and the one from ``before`` to its first."""

_ROLLUP_BEFORE = (
    "(SELECT last_value, last_time FROM {rollup} WHERE series_id = {sid} "
    "AND bucket < {lo} AND last_time < {lo} ORDER BY bucket DESC LIMIT 1)"
)


def last_before(series_id: str, lo: str) -> str:
    """The last reading of series ``series_id`` (an SQL expression) before ``lo``, or NULL.

    Raw readings first: retention drops the oldest chunks, so what is left is the newest.
    Without any, the newest of the last hourly and the last daily rollup row that ended before
    ``lo`` (a bucket straddling ``lo``, e.g. the UTC hour around a half-hour zone's midnight,
    does not count). Both scalar subqueries are index lookups, evaluated only when needed.
    """
    sid, bound = Fixed(series_id), Fixed(lo)
    hour, day = (
        Fixed(compose(_ROLLUP_BEFORE, rollup=Fixed(table), sid=sid, lo=bound))
        for table in ("rollup_hour", "rollup_day")
    )
    return compose(
        """coalesce(
    (SELECT t.value FROM telemetry t WHERE t.series_id = {sid} AND t.time < {lo}
     ORDER BY t.time DESC LIMIT 1),
    (SELECT c.last_value FROM ({hour} UNION ALL {day}) c ORDER BY c.last_time DESC LIMIT 1))""",
        sid=sid,
        lo=bound,
        hour=hour,
        day=day,
    )


def _dirty(keys: str, level: Level, lo: str, hi: str, tz: str) -> str:
    """``(series_id, bucket, bucket_end)`` of the buckets of ``[lo, hi)`` still queued."""
    parts = {"keys": Fixed(keys), "lo": Fixed(lo), "hi": Fixed(hi)}
    if level == "hour":
        return compose(
            """SELECT d.series_id, d.bucket, d.bucket + interval '1 hour' AS bucket_end
    FROM telemetry_dirty d JOIN {keys} k ON k.series_id = d.series_id
    WHERE d.bucket >= {lo} AND d.bucket < {hi}""",
            **parts,
        )
    # A queued hour dirties the local days it touches (two if it straddles a local midnight).
    return compose(
        """SELECT DISTINCT d.series_id, v.b AS bucket, {end} AS bucket_end
    FROM telemetry_dirty d JOIN {keys} k ON k.series_id = d.series_id
    CROSS JOIN LATERAL (VALUES
        (time_bucket('1 day', d.bucket, {tz})),
        (time_bucket('1 day', d.bucket + interval '1 hour' - interval '1 microsecond', {tz}))
    ) v(b)
    WHERE d.bucket >= CAST({lo} AS timestamptz) - interval '1 day' AND d.bucket < {hi}
      AND v.b >= {lo} AND v.b < {hi}""",
        end=Fixed(DAY_END.format(b="v.b", tz=tz)),
        tz=Fixed(tz),
        **parts,
    )


def counter_buckets(
    name: str, *, keys: str, level: Level, lo: str = ":lo", hi: str = ":hi", tz: str = TZ
) -> str:
    """CTEs ending in ``{name}``: one row per series of ``keys`` and bucket of ``level`` in
    ``[lo, hi)`` holding readings, with ``series_id, bucket``, the rollup ``COLUMNS`` and
    ``before`` (the last reading before the bucket); ``DELTA`` of a row is its consumption.

    ``keys`` names a relation with a ``series_id`` column, each series once. ``lo`` and ``hi``
    are bucket starts of ``level`` (local midnights in zone ``tz`` for days).
    """
    return compose(
        """{name}_dirty AS (
    {dirty}
), {name}_rows AS MATERIALIZED (
    SELECT r.series_id, r.bucket, {columns}
    FROM {rollup} r JOIN {keys} k ON k.series_id = r.series_id
    WHERE r.bucket >= {lo} AND r.bucket < {hi}
      AND NOT EXISTS (SELECT 1 FROM {name}_dirty x
                      WHERE x.series_id = r.series_id AND x.bucket = r.bucket)
    UNION ALL
    SELECT series_id, bucket, {columns} FROM ({fresh}) fresh
), {name}_prev AS (
    SELECT k.series_id, {before} AS value FROM {keys} k
), {name} AS MATERIALIZED (
    SELECT x.*, lag(x.last_value, 1, p.value) OVER (PARTITION BY x.series_id ORDER BY x.bucket)
               AS before
    FROM {name}_rows x JOIN {name}_prev p ON p.series_id = x.series_id
)""",
        name=Fixed(name),
        dirty=Fixed(_dirty(keys, level, lo, hi, tz)),
        columns=Fixed(COLUMNS),
        rollup=Fixed("rollup_" + level),
        keys=Fixed(keys),
        lo=Fixed(lo),
        hi=Fixed(hi),
        fresh=Fixed(RAW_ROLLUP.format(keys=name + "_dirty", lo=lo, hi=hi)),
        before=Fixed(last_before("k.series_id", lo)),
    )


def daily_consumption(
    name: str, *, keys: str, lo: str = ":lo", hi: str = ":hi", tz: str = TZ
) -> str:
    """CTEs ending in ``{name} (series_id, bucket, qty)``: each series of ``keys``' consumption
    per local day (zone ``tz``) of ``[lo, hi)`` that holds readings; ``lo``, ``hi`` are local
    midnights."""
    return compose(
        """{days}, {name} AS (
    SELECT series_id, bucket, {delta} AS qty FROM {name}_days
)""",
        days=Fixed(counter_buckets(name + "_days", keys=keys, level="day", lo=lo, hi=hi, tz=tz)),
        name=Fixed(name),
        delta=Fixed(DELTA),
    )
