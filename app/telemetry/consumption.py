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
  ``telemetry_dirty`` are made as the worker will make them; the others are read from
  ``rollup_hour`` / ``rollup_day``. A queued hour is made from its raw readings
  (``RAW_ROLLUP``); a queued day from its hours (``INTO_BUCKET``): the queued ones from raw
  readings, the others from ``rollup_hour`` (a day in a half-hour zone, which starts inside a
  UTC hour, from raw readings). In a live park today is always queued (its open hour is), and
  made from raw its cost grew with the hour of the day (every reading since midnight); made
  from its hours it is about one hour's raw readings at any hour (bench/today);
- each bucket's ``before`` is the previous bucket's last reading; the first one's, the baseline;
- for a caller that sums days by month or over the range (``months``), a series' park-local
  month lying whole in the range comes as one row from ``rollup_month`` where none of its
  hours is queued (the worker makes it from the month's daily rows with ``INTO_BUCKET``); the
  stretches between such months are read by day as above.

The bucket rows and the bucket rows with their ``before`` are ``MATERIALIZED``: each is
computed once per statement. Inlined, a caller joining them to a relation the planner
underestimates (the carbon ledger's meters, estimated at one row for hundreds) had them
recomputed once per outer row, quadratic in the meters: a park's annual carbon report took
minutes instead of about a second (bench/carbon). So are a queued day's hours and its queued
hours (``fresh_days``): inlined, the planner made the hours again for each queued day (bench/
today at 200 devices: about a second instead of 25 ms).

The builders compose CTEs (app/core/sqlcompose.py) for the caller's single statement. Their
arguments are SQL written in the code (CTE names, bound parameters such as ``:lo``), never values.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from psycopg.sql import Composable

from app.core.sqlcompose import Fixed, compose, identifiers
from app.telemetry.intervals import Level
from app.telemetry.sql import DAY_END, INTO_BUCKET, MONTH_END, RAW_ROLLUP, STEP, WHOLE_HOURS

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


def fresh_from_raw(name: str, lo: str, hi: str) -> str:
    """CTE ``{name}_fresh``: the queued buckets ``{name}_dirty`` from their raw readings (a
    queued hour's rule; bench/today's baseline for days, the rule before 2026-12-06)."""
    return compose(
        "{name}_fresh AS ({raw})",
        name=Fixed(name),
        raw=Fixed(RAW_ROLLUP.format(keys=name + "_dirty", lo=lo, hi=hi)),
    )


def fresh_days(name: str, lo: str, hi: str) -> str:
    """CTEs ``{name}_queued`` (the queued hours of the queued days ``{name}_dirty`` made of
    whole UTC hours) and ``{name}_hours`` (those days' hourly rows: the queued hours from raw
    readings, the others from ``rollup_hour``), then ``{name}_fresh``: the queued days' rows,
    from their hours where whole, else from raw readings. A clean hour is told from a queued
    one by ``telemetry_dirty``'s key, not by ``{name}_queued``: PostgreSQL, guessing that CTE
    at one row, scanned it for every hourly row (2.2 s of 2.7 at 2,000 devices, bench/today)."""
    parts = {"name": Fixed(name), "lo": Fixed(lo), "hi": Fixed(hi), "whole": Fixed(WHOLE_HOURS)}
    return compose(
        """{name}_queued AS MATERIALIZED (
    SELECT q.series_id, q.bucket, q.bucket + interval '1 hour' AS bucket_end
    FROM {name}_dirty k JOIN telemetry_dirty q
      ON q.series_id = k.series_id AND q.bucket >= k.bucket AND q.bucket < k.bucket_end
    WHERE {whole} AND q.bucket >= {lo} AND q.bucket < {hi}
), {name}_hours AS MATERIALIZED (
    SELECT r.series_id, r.bucket, {columns}
    FROM {name}_dirty k CROSS JOIN LATERAL (
        SELECT * FROM rollup_hour r
        WHERE r.series_id = k.series_id AND r.bucket >= k.bucket AND r.bucket < k.bucket_end
          AND r.bucket >= {lo} AND r.bucket < {hi}
    ) r
    WHERE {whole} AND NOT EXISTS (SELECT 1 FROM telemetry_dirty q
                                  WHERE q.series_id = r.series_id AND q.bucket = r.bucket)
    UNION ALL
    SELECT series_id, bucket, {columns} FROM ({raw_hours}) raw
), {name}_fresh AS (
    SELECT h.series_id, h.day AS bucket, {into_bucket}
    FROM (
        SELECT k.series_id, k.bucket AS day, {columns_x},
               lag(x.last_value) OVER (PARTITION BY k.series_id, k.bucket ORDER BY x.bucket)
                   AS before
        FROM {name}_dirty k
        JOIN {name}_hours x
          ON x.series_id = k.series_id AND x.bucket >= k.bucket AND x.bucket < k.bucket_end
    ) h
    GROUP BY h.series_id, h.day
    UNION ALL
    SELECT series_id, bucket, {columns} FROM ({raw_days}) raw
)""",
        columns=Fixed(COLUMNS),
        columns_x=identifiers(COLUMNS.split(", "), "x"),
        into_bucket=Fixed(INTO_BUCKET),
        raw_hours=Fixed(RAW_ROLLUP.format(keys=name + "_queued", lo=lo, hi=hi)),
        raw_days=Fixed(
            RAW_ROLLUP.format(
                keys=compose(
                    "(SELECT * FROM {dirty} k WHERE NOT ({whole}))",
                    dirty=Fixed(name + "_dirty"),
                    whole=Fixed(WHOLE_HOURS),
                ),
                lo=lo,
                hi=hi,
            )
        ),
        **parts,
    )


def counter_buckets(
    name: str,
    *,
    keys: str,
    level: Level,
    lo: str = ":lo",
    hi: str = ":hi",
    tz: str = TZ,
    carry: tuple[str, ...] = (),
    months: str | None = None,
) -> str:
    """CTEs ending in ``{name}``: one row per series of ``keys`` and bucket of ``level`` in
    ``[lo, hi)`` holding readings, with ``series_id, bucket``, the rollup ``COLUMNS``, the
    columns ``carry`` of ``keys`` and ``before`` (the last reading before the bucket);
    ``DELTA`` of a row is its consumption.

    ``keys`` names a relation with a ``series_id`` column, each series once. ``lo`` and ``hi``
    are bucket starts of ``level`` (local midnights in zone ``tz`` for days). A caller that
    needs a key's columns beside each bucket (its group, its carrier) names them in ``carry``
    rather than joining ``keys`` again: PostgreSQL cannot estimate the rows of these CTEs,
    and for one group it guessed a row or two a side and looped over every bucket row once
    per key (a park's annual carbon report: 18 s at 2,000 devices, 0.9 s joined here).

    With ``months`` (days only), a caller that sums the days of whole months lets a series'
    local month lying whole in ``[lo, hi)`` come as one row, from ``rollup_month``, where
    ``months`` holds (an SQL condition on the key ``k`` and the month's row ``r``) and none of
    the month's hours is queued; its ``bucket`` is the month's start. The other days come as
    days (``_month_rows``). A year at 100,000 devices: about 550,000 monthly rows instead of
    17 million daily ones (50,000 meters, 340 days: bench/ledger_year).
    """
    fresh = fresh_from_raw(name, lo, hi) if level == "hour" else fresh_days(name, lo, hi)
    parts = {"name": Fixed(name), "keys": Fixed(keys), "lo": Fixed(lo), "hi": Fixed(hi)}
    rows = compose(
        """SELECT r.series_id, r.bucket, {columns}
    FROM {rollup} r JOIN {keys} k ON k.series_id = r.series_id
    WHERE r.bucket >= {lo} AND r.bucket < {hi}""",
        columns=Fixed(COLUMNS),
        rollup=Fixed("rollup_" + level),
        **parts,
    )
    whole_months = ""
    if months is not None:
        if level != "day":
            raise ValueError("monthly rows stand for days, not for " + level)
        whole_months, rows = _month_rows(name, keys, lo, hi, tz, months)
    return compose(
        """{name}_dirty AS (
    {dirty}
), {fresh}, {whole_months}{name}_rows AS MATERIALIZED (
    {rows}
      AND NOT EXISTS (SELECT 1 FROM {name}_dirty x
                      WHERE x.series_id = r.series_id AND x.bucket = r.bucket)
    UNION ALL
    SELECT series_id, bucket, {columns} FROM {name}_fresh{monthly}
), {name}_prev AS (
    SELECT k.series_id{carry_k}, {before} AS value FROM {keys} k
), {name} AS MATERIALIZED (
    SELECT x.*{carry_p},
           lag(x.last_value, 1, p.value) OVER (PARTITION BY x.series_id ORDER BY x.bucket)
               AS before
    FROM {name}_rows x JOIN {name}_prev p ON p.series_id = x.series_id
)""",
        dirty=Fixed(_dirty(keys, level, lo, hi, tz)),
        columns=Fixed(COLUMNS),
        fresh=Fixed(fresh),
        whole_months=Fixed(whole_months),
        rows=Fixed(rows),
        monthly=Fixed(
            compose(
                "\n    UNION ALL\n    SELECT series_id, bucket, {columns} FROM {name}_months",
                columns=Fixed(COLUMNS),
                name=Fixed(name),
            )
            if months is not None
            else ""
        ),
        before=Fixed(last_before("k.series_id", lo)),
        carry_k=_carried(carry, "k"),
        carry_p=_carried(carry, "p"),
        **parts,
    )


def holds_a_month(lo: datetime, hi: datetime, tz: str) -> bool:
    """Whether ``[lo, hi)`` holds a whole month of zone ``tz``: only then may a read of days
    take monthly rows (``months`` of ``counter_buckets``). A read within a month (the cockpit's
    this month) goes without the CTEs that look for them."""
    zone = ZoneInfo(tz)
    first, last = lo.astimezone(zone).date(), hi.astimezone(zone).date()
    start = first if first.day == 1 else _next_month(first)
    return _next_month(start) <= last


def _next_month(day: date) -> date:
    """The first of the month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _month_rows(name: str, keys: str, lo: str, hi: str, tz: str, months: str) -> tuple[str, str]:
    """CTEs ``{name}_months`` (the monthly rows a read of days may take instead: the local
    months whole in ``[lo, hi)`` for which ``months`` holds and none of whose days is queued,
    by ``{name}_dirty``, the queued days the read makes anyway) and ``{name}_spans`` (per key,
    the stretches of ``[lo, hi)`` between them), and the daily rows of those stretches, each
    looked up by its own index range (a join on the series alone could scan every daily row
    of the range, the cost the monthly rows are there to save)."""
    end = Fixed(MONTH_END.format(b="r.bucket", tz=tz))
    parts = {"name": Fixed(name), "keys": Fixed(keys), "lo": Fixed(lo), "hi": Fixed(hi)}
    ctes = compose(
        """{name}_months AS MATERIALIZED (
    SELECT r.series_id, r.bucket, {end} AS bucket_end, {columns}
    FROM {keys} k CROSS JOIN LATERAL (
        SELECT * FROM rollup_month r
        WHERE r.series_id = k.series_id AND r.bucket >= {lo} AND r.bucket < {hi}
    ) r
    WHERE {end} <= {hi} AND ({months})
      AND NOT EXISTS (SELECT 1 FROM {name}_dirty q
                      WHERE q.series_id = r.series_id
                        AND q.bucket >= r.bucket AND q.bucket < {end})
), {name}_spans AS MATERIALIZED (
    SELECT series_id,
           coalesce(lag(bucket_end) OVER (PARTITION BY series_id ORDER BY bucket),
                    CAST({lo} AS timestamptz)) AS span_lo,
           bucket AS span_hi
    FROM {name}_months
    UNION ALL
    SELECT k.series_id, coalesce(m.last_end, CAST({lo} AS timestamptz)), CAST({hi} AS timestamptz)
    FROM {keys} k
    LEFT JOIN (SELECT series_id, max(bucket_end) AS last_end FROM {name}_months GROUP BY 1) m
      ON m.series_id = k.series_id
), """,
        end=end,
        columns=Fixed(COLUMNS),
        months=Fixed(months),
        **parts,
    )
    rows = compose(
        """SELECT r.series_id, r.bucket, {columns}
    FROM {name}_spans s CROSS JOIN LATERAL (
        SELECT * FROM rollup_day r
        WHERE r.series_id = s.series_id AND r.bucket >= s.span_lo AND r.bucket < s.span_hi
          AND r.bucket >= {lo} AND r.bucket < {hi}
    ) r
    WHERE s.span_lo < s.span_hi""",
        columns=Fixed(COLUMNS),
        **parts,
    )
    return ctes, rows


def _carried(columns: tuple[str, ...], qualifier: str) -> Composable:
    """``, q."a", q."b"`` for ``columns`` (nothing for none)."""
    return Fixed(", ") + identifiers(columns, qualifier) if columns else Fixed("")


def daily_consumption(
    name: str,
    *,
    keys: str,
    lo: str = ":lo",
    hi: str = ":hi",
    tz: str = TZ,
    carry: tuple[str, ...] = (),
    months: str | None = None,
) -> str:
    """CTEs ending in ``{name} (series_id, bucket, {carry}, qty)``: each series of ``keys``'
    consumption per local day (zone ``tz``) of ``[lo, hi)`` that holds readings, with the
    columns ``carry`` of ``keys`` (``counter_buckets``); ``lo``, ``hi`` are local midnights.
    With ``months``, a whole month may come as one row starting on its first day (for a caller
    that sums by month or over the range: ``counter_buckets``)."""
    days = counter_buckets(
        name + "_days", keys=keys, level="day", lo=lo, hi=hi, tz=tz, carry=carry, months=months
    )
    return compose(
        """{days}, {name} AS (
    SELECT series_id, bucket{carried}, {delta} AS qty FROM {name}_days
)""",
        days=Fixed(days),
        name=Fixed(name),
        carried=_carried(carry, ""),
        delta=Fixed(DELTA),
    )
