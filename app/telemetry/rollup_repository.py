"""SQL of the rollup worker: claim dirty hours, recompute their hourly, daily and monthly
rollups, and drop expired chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.sql import Composable, Identifier
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.sqlcompose import Fixed, compose, statement
from app.telemetry.sql import (
    DAY_END,
    DAYS_OF_HOURS,
    INTO_BUCKET,
    MONTH_END,
    RAW_ROLLUP,
    ROLLUP_COLUMNS,
    WHOLE_HOURS,
)

CLAIM_LEASE = timedelta(minutes=10)
"""A claim whose recomputation has not committed within this is taken again (its worker was
killed; one that fails in the ordinary way gives its hours back at once: ``unclaim``)."""

DUE = """(bucket + interval '1 hour' <= now() OR marked_at <= now() - :open_hour_interval)
      AND (claimed_at IS NULL OR claimed_at <= now() - :lease)"""
"""A mark the job may take: a closed hour, or an open one whose mark is old enough, not
claimed (or claimed longer ago than the lease)."""

CLAIM = compose(
    """
UPDATE telemetry_dirty d SET claimed_at = clock_timestamp()
FROM (
    SELECT series_id, bucket FROM telemetry_dirty
    WHERE {due}
    ORDER BY bucket, series_id LIMIT :limit FOR UPDATE SKIP LOCKED
) taken
WHERE d.series_id = taken.series_id AND d.bucket = taken.bucket
RETURNING d.series_id, d.bucket, d.claimed_at
""",
    due=Fixed(DUE),
)
"""Take up to ``limit`` dirty hours, oldest first, skipping those a writer or another worker
holds: every closed hour, and an open one (still being written) once its mark is
``open_hour_interval`` old, so a steady stream gets its current hours recomputed now and then,
not every round. The hours are stamped, not deleted, and the job commits the stamps at once
(migration 0032): the recomputation then runs without holding any mark's lock, so a writer
marking one of these hours again never waits for it. It clears the stamp instead, and
``RELEASE`` leaves such a mark for a later pass (its rows may be newer than the recomputation's
snapshot)."""

MINE = """(
    SELECT t.series_id, t.bucket, c.claimed_at AS taken FROM telemetry_dirty t
    JOIN unnest(CAST(:sids AS integer[]), CAST(:buckets AS timestamptz[]),
                CAST(:claimed AS timestamptz[])) AS c(series_id, bucket, claimed_at)
      ON t.series_id = c.series_id AND t.bucket = c.bucket AND {stamp}
    FOR UPDATE OF t SKIP LOCKED
) mine"""
"""The job's marks that still carry its stamp (``stamp``), locked, skipping those a writer
holds: a writer marking one of them again clears its stamp (``DO UPDATE SET claimed_at =
NULL``, in key order) and keeps its lock until its batch commits, so waiting for it would order
the two by nothing but chance (deadlocks seen at 100,000 devices, bench/park100k). A skipped
mark stays for a later pass, which is what the writer's mark asks for anyway (or, if its batch
rolled back, the stamp's lease hands it out again)."""

STAMPED = "t.claimed_at = c.claimed_at"
"""Still the job's stamp: nobody marked the hour again since it was taken."""

STAMPED_OR_MARKED = "(t.claimed_at = c.claimed_at OR t.claimed_at IS NULL)"
"""Still the job's stamp, or marked again by a writer since (not taken by another job)."""

RELEASE = compose(
    """
DELETE FROM telemetry_dirty d USING {mine}
WHERE d.series_id = mine.series_id AND d.bucket = mine.bucket
""",
    mine=Fixed(MINE).format(stamp=Fixed(STAMPED)),
)

UNCLAIM = compose(
    """
UPDATE telemetry_dirty d SET claimed_at = NULL FROM {mine}
WHERE d.series_id = mine.series_id AND d.bucket = mine.bucket
""",
    mine=Fixed(MINE).format(stamp=Fixed(STAMPED)),
)

RESCHEDULE = compose(
    """
UPDATE telemetry_dirty d SET claimed_at = NULL, marked_at = mine.taken FROM {mine}
WHERE d.series_id = mine.series_id AND d.bucket = mine.bucket
""",
    mine=Fixed(MINE).format(stamp=Fixed(STAMPED_OR_MARKED)),
)
"""Keep the marks of open hours whose hourly rows were just recomputed, due again an
``open_hour_interval`` after they were taken: the mark stands for the local day too, whose
row is recomputed once the hour has closed (``rollup`` in app/telemetry/jobs.py), and keeps
the read path making that day from raw readings until then. A mark a writer made again since
(its stamp cleared) is kept the same way: its new rows are folded in on that later pass."""


@dataclass(frozen=True)
class Claim:
    """A dirty hour a rollup job took, with its stamp."""

    series_id: int
    bucket: datetime
    claimed_at: datetime


HOURS = """hours AS (
    SELECT series_id, bucket, bucket + interval '1 hour' AS bucket_end
    FROM unnest(CAST(:sids AS integer[]), CAST(:buckets AS timestamptz[])) AS k(series_id, bucket)
    WHERE bucket >= :horizon
)"""

DAYS = compose(
    """days AS (
    SELECT series_id, bucket, {day_end} AS bucket_end
    FROM ({days_of_hours}) d
)""",
    day_end=Fixed(DAY_END.format(b="bucket", tz="timezone")),
    days_of_hours=Fixed(DAYS_OF_HOURS.format(hours="hours")),
)


FROM_PARTS = """
SELECT h.series_id, k.bucket, {into_bucket}
FROM {keys} k
CROSS JOIN LATERAL (
    SELECT r.*, lag(r.last_value) OVER (ORDER BY r.bucket) AS before
    FROM {parts} r
    WHERE r.series_id = k.series_id AND r.bucket >= k.bucket AND r.bucket < k.bucket_end
      {bounds}
) h
WHERE {where}
GROUP BY h.series_id, k.bucket
"""
"""The rows of the buckets ``keys`` from the rows of their parts in ``parts`` (``INTO_BUCKET``)."""


def _from_parts(keys: str, parts: str, bounds: str = "", where: str = "true") -> str:
    return compose(
        FROM_PARTS,
        into_bucket=Fixed(INTO_BUCKET),
        keys=Fixed(keys),
        parts=Fixed(parts),
        bounds=Fixed(bounds),
        where=Fixed(where),
    )


DAYS_FROM_HOURS = _from_parts(
    "days", "rollup_hour", "AND r.bucket >= :tmin AND r.bucket < :tmax", WHOLE_HOURS
)
"""A local day's rollup row from its hourly rows (just recomputed, or clean): 24 rows a
series instead of every raw reading of the day (5,760 at one reading every 15 s, read again
each time one of the day's hours is recomputed: the rollup job's cost at 100,000 devices).
Only for days made of whole UTC hours (``WHOLE_HOURS``); a day in a half-hour zone (Asia/
Kolkata) starts inside a UTC hour and is made from raw readings (``RAW_ROLLUP``). The
columns are ``INTO_BUCKET`` (app/telemetry/sql.py). A day whose other hours are still
queued gets a row from their stale hourly rows; the read path makes a day touched by a queued
hour from its clean hourly rows and its queued hours' raw readings (app/telemetry/
consumption.py), and the worker recomputes the day again with those hours."""


MONTHS = compose(
    """months AS (
    SELECT series_id, bucket, {month_end} AS bucket_end
    FROM (
        SELECT DISTINCT d.series_id, date_trunc('month', d.bucket, d.timezone) AS bucket,
               d.timezone
        FROM ({days_of_hours}) d
    ) m
)""",
    month_end=Fixed(MONTH_END.format(b="bucket", tz="timezone")),
    days_of_hours=Fixed(DAYS_OF_HOURS.format(hours="hours")),
)
"""The park-local months ``(series_id, bucket, bucket_end)`` that the days of ``hours`` lie in."""

MONTHS_FROM_DAYS = _from_parts("months", "rollup_day")
"""A local month's rollup row from its daily rows (just recomputed, or clean), by the rule that
makes a day from its hours (``INTO_BUCKET``); a local day lies whole in its local month, in
every zone. Recomputed with the days, so a month none of whose hours is queued any more has a
current row; a month with a queued hour is read from its days (app/telemetry/consumption.py).
Up to 31 rows a series, against the 24 hourly rows a day is made of."""


DAYS_BY_RAW = RAW_ROLLUP.format(
    keys=compose("(SELECT * FROM days k WHERE NOT ({whole}))", whole=Fixed(WHOLE_HOURS)),
    lo=":tmin",
    hi=":tmax",
)
"""The days not made of whole UTC hours, from raw readings."""


async def claim_dirty(
    executor: AsyncSession | AsyncConnection, limit: int, open_hour_interval: timedelta
) -> list[Claim]:
    """Stamp up to ``limit`` dirty hours as taken (the caller commits: ``rollup`` in a
    transaction of its own, before the recomputation)."""
    rows = await executor.execute(
        text(CLAIM),
        {"limit": limit, "open_hour_interval": open_hour_interval, "lease": CLAIM_LEASE},
    )
    return [Claim(int(r[0]), r[1], r[2]) for r in rows]


def _claims(claims: list[Claim]) -> dict[str, list[Any]]:
    return {
        "sids": [c.series_id for c in claims],
        "buckets": [c.bucket for c in claims],
        "claimed": [c.claimed_at for c in claims],
    }


async def release(session: AsyncSession, claims: list[Claim]) -> None:
    """Delete the marks of recomputed hours that nobody marked again since they were taken."""
    await session.execute(text(RELEASE), _claims(claims))


async def reschedule(session: AsyncSession, claims: list[Claim]) -> None:
    """Keep the marks of recomputed open hours, due again an interval after they were taken
    (:data:`RESCHEDULE`)."""
    await session.execute(text(RESCHEDULE), _claims(claims))


async def unclaim(executor: AsyncSession | AsyncConnection, claims: list[Claim]) -> None:
    """Give taken hours back (their recomputation failed): the next pass takes them again."""
    await executor.execute(text(UNCLAIM), _claims(claims))


async def recompute(
    session: AsyncSession,
    hours: list[tuple[int, datetime]],
    horizon: datetime,
    *,
    days_of: list[tuple[int, datetime]],
) -> None:
    """Rebuild the hourly rollups of ``hours``, then the daily ones of the days that the
    hours ``days_of`` touch (some or all of ``hours``) and the monthly ones of their months.

    Hours before ``horizon`` (raw data already dropped by retention) are left as they are.
    A bucket whose readings are all gone loses its rollup row.
    """
    await _rebuild(session, "rollup_hour", hours, horizon)
    if days_of:
        await _rebuild(session, "rollup_day", days_of, horizon)
        await _rebuild(session, "rollup_month", days_of, horizon)


async def recompute_months(
    session: AsyncSession, hours: list[tuple[int, datetime]], horizon: datetime
) -> None:
    """Rebuild only the monthly rollups of the months that ``hours`` lie in, from their daily
    rows (a data set whose daily rows were written without the worker: bench/scale_reads)."""
    await _rebuild(session, "rollup_month", hours, horizon)


async def _rebuild(
    session: AsyncSession, table: str, hours: list[tuple[int, datetime]], horizon: datetime
) -> None:
    """Delete and insert again the rows of ``table`` (``rollup_hour``: the ``hours``;
    ``rollup_day``: the local days they touch; ``rollup_month``: those days' months)."""
    buckets = [h[1] for h in hours]
    keys = {"rollup_hour": "hours", "rollup_day": "days", "rollup_month": "months"}[table]
    # Every local day touching these hours lies within two days of them; their local months
    # start at most 31 days and a zone's offset before them.
    lo, hi = min(buckets) - timedelta(days=2), max(buckets) + timedelta(days=2)
    params = {
        "sids": [h[0] for h in hours],
        "buckets": buckets,
        "horizon": horizon,
        "tmin": lo,
        "tmax": hi,
        "kmin": lo - timedelta(days=31) if keys == "months" else lo,
    }
    ctes = Fixed("WITH ") + Fixed(HOURS)
    if keys != "hours":
        ctes += Fixed(", ") + Fixed(DAYS if keys == "days" else MONTHS)
    parts = {"ctes": ctes, "table": Identifier(table), "keys": Identifier(keys)}
    await session.execute(
        statement(
            "{ctes} DELETE FROM {table} r USING {keys} k "
            "WHERE r.series_id = k.series_id AND r.bucket = k.bucket "
            # constant bounds, so TimescaleDB probes only the chunks that may hold the keys
            # (the join's own bounds made it probe every chunk: 25 of rollup_hour at the
            # default two years' retention)
            "AND r.bucket >= :kmin AND r.bucket < :tmax",
            **parts,
        ),
        params,
    )
    fresh: Composable = Fixed(RAW_ROLLUP.format(keys=keys, lo=":tmin", hi=":tmax"))
    if keys == "days":
        fresh = Fixed(DAYS_FROM_HOURS) + Fixed(" UNION ALL ") + Fixed(DAYS_BY_RAW)
    elif keys == "months":
        fresh = Fixed(MONTHS_FROM_DAYS)
    await session.execute(
        statement(
            "INSERT INTO {table} ({columns}) {ctes} SELECT {columns} FROM ({fresh}) fresh",
            **parts,
            columns=Fixed(ROLLUP_COLUMNS),
            fresh=fresh,
        ),
        params,
    )


async def drop_expired(session: AsyncSession, table: str, older_than: timedelta) -> int:
    """Drop the chunks of ``table`` entirely older than ``older_than``; return their count.
    Through ``parktwin_drop_expired`` (migration 0016): drop_chunks needs the table's owner,
    and the worker's role is not."""
    result = await session.execute(
        text("SELECT parktwin_drop_expired(:table, :age)"),
        {"table": table, "age": older_than},
    )
    return int(result.scalar_one())


async def forget_dirty_before(session: AsyncSession, horizon: datetime) -> None:
    """Marks of hours whose raw data retention has dropped: nothing left to recompute."""
    await session.execute(text("DELETE FROM telemetry_dirty WHERE bucket < :h"), {"h": horizon})


COUNT_DUE = text(
    compose(
        "SELECT count(*) FROM (SELECT 1 FROM telemetry_dirty WHERE {due} LIMIT :cap) due",
        due=Fixed(DUE),
    )
)


async def count_due(
    executor: AsyncSession | AsyncConnection, open_hour_interval: timedelta, cap: int
) -> int:
    """Marks the job may take now (:data:`DUE`), counted up to ``cap``."""
    params = {"open_hour_interval": open_hour_interval, "lease": CLAIM_LEASE, "cap": cap}
    return int((await executor.execute(COUNT_DUE, params)).scalar_one())
