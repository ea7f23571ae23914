"""The batch writer: one transaction per batch, the only place that writes telemetry.

Per batch, in one transaction:

1. the readings, passed as three binary arrays (time, series, value), inserted into the
   hypertable by a plain ``INSERT ... SELECT FROM unnest(...)``. When that hits the unique key
   (a reading already stored: a redelivery, a device resending) the transaction is rolled back
   and the batch written again with ``ON CONFLICT DO NOTHING``, so the first value stored for
   a (series, time) wins. The batch itself was deduplicated in arrival order beforehand. The
   plain insert is the common case; for a batch of thousands it costs PostgreSQL about two
   thirds of the ``ON CONFLICT`` path's CPU (docs/benchmarks.md);
2. ``latest_value`` upserted with the newest reading per series, only when newer;
3. the touched UTC hours queued in ``telemetry_dirty`` for the rollup job;
4. the accepted readings handed to the alarm evaluation (``AlarmWriter.apply``: it finds the
   rules that watch them, raises and clears alarms and queues their webhook events);
5. devices' ``last_seen_at`` and ``status`` (telemetry means online; status messages say which);
6. rejected messages inserted into ``ingest_rejection`` (as many as the per-device rate limit
   lets through: ingest/ratelimit.py).

The transaction runs in psycopg's pipeline mode: its statements go to PostgreSQL together and
the writer waits for an answer only where it needs one (the alarm states it locks, the devices
whose status changed) and where psycopg's transaction block checks for errors (its end, the
commit), so a batch waits for PostgreSQL four or five times instead of eleven (libpq trace,
bench/writer_rtt.py). Each wait is a round trip: across a network (PostgreSQL on a host of its
own) it is what a small batch's time is made of, and on a busy machine it is a wait for the
database backend and then for this thread to be scheduled again. COPY cannot run in pipeline
mode, hence the arrays: for small batches they cost PostgreSQL about what a binary COPY costs,
for batches of thousands about a third more CPU per row (docs/benchmarks.md, "Ingest writer
across a network").

The caller acknowledges the batch's MQTT messages only after ``write()`` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from app.alarms.evaluator import AlarmWriter
from app.alarms.rules import RuleBook, ahead_of_backlog
from app.core.pgarray import Float8s, Int4s, Int8s, Texts, Timestamptzs
from ingest.parse import Telemetry
from ingest.rows import Row

logger = logging.getLogger(__name__)

# Times travel as int8 microseconds since the Unix epoch (see ingest.parse.Reading).
INSERT_ROWS = """
INSERT INTO telemetry (time, series_id, value)
SELECT TIMESTAMPTZ 'epoch' + u.us * INTERVAL '1 microsecond', u.series_id, u.value
FROM unnest(%s::int8[], %s::int4[], %s::float8[]) AS u(us, series_id, value)
"""
INSERT_NEW_ROWS = INSERT_ROWS + "ON CONFLICT (series_id, time) DO NOTHING\n"
"""The batch again after a unique violation: only the readings not stored yet."""
TELEMETRY_KEY = "telemetry_series_time_key"  # the unique key (chunks' copies end with it)

UPSERT_LATEST = """
INSERT INTO latest_value AS l (series_id, time, value)
SELECT u.series_id, TIMESTAMPTZ 'epoch' + u.us * INTERVAL '1 microsecond', u.value
FROM unnest(%s::int4[], %s::int8[], %s::float8[]) AS u(series_id, us, value)
ORDER BY u.series_id
ON CONFLICT (series_id) DO UPDATE SET time = excluded.time, value = excluded.value
WHERE l.time < excluded.time
"""

# DO UPDATE rather than DO NOTHING: marking an hour a rollup job has taken clears its stamp,
# so the job's release leaves the mark and the hour is recomputed again with our rows
# (migration 0032; the job's claim waits for our commit, or skips the hour while we hold it).
# Only a stamped mark is rewritten: an unclaimed one (nearly all: each batch marks the open
# hour of every series it holds) is locked by the ON CONFLICT all the same, which is what the
# job's claim waits for, without a new row version and its WAL at every batch.
# ``marked_at`` stays as first set (migration 0014). Sorted, so that concurrent writers lock
# the rows in the same order.
MARK_DIRTY = """
INSERT INTO telemetry_dirty AS t (series_id, bucket)
SELECT u.series_id, TIMESTAMPTZ 'epoch' + u.us * INTERVAL '1 microsecond'
FROM unnest(%s::int4[], %s::int8[]) AS u(series_id, us)
ORDER BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET claimed_at = NULL
WHERE t.claimed_at IS NOT NULL
"""

# Both lock the device rows in key order first (``prev``), then update them; they answer
# which devices changed status, with the status they had (for device.online/offline events).
TOUCH_DEVICES = """
WITH u AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) AS u(park_id, id, seen)),
prev AS (
    SELECT d.park_id, d.id, d.status FROM device d JOIN u USING (park_id, id)
    ORDER BY 1, 2 FOR UPDATE OF d
),
upd AS (
    UPDATE device d SET
        last_seen_at = greatest(d.last_seen_at, u.seen),
        status = 'online',
        status_changed_at = CASE WHEN d.status = 'online' THEN d.status_changed_at ELSE u.seen END
    FROM u WHERE d.park_id = u.park_id AND d.id = u.id
    RETURNING d.park_id
)
SELECT prev.park_id, prev.id, prev.status, 'online' FROM prev WHERE prev.status <> 'online'
"""

SET_STATUS = """
WITH u AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[])
    AS u(park_id, id, status, at)
),
prev AS (
    SELECT d.park_id, d.id, d.status FROM device d JOIN u USING (park_id, id)
    ORDER BY 1, 2 FOR UPDATE OF d
),
upd AS (
    UPDATE device d SET status = u.status, status_changed_at = u.at,
        last_seen_at = CASE WHEN u.status = 'online' THEN greatest(d.last_seen_at, u.at)
                            ELSE d.last_seen_at END
    FROM u WHERE d.park_id = u.park_id AND d.id = u.id AND d.status IS DISTINCT FROM u.status
    RETURNING d.park_id
)
SELECT prev.park_id, prev.id, prev.status, u.status FROM prev JOIN u USING (park_id, id)
WHERE prev.status IS DISTINCT FROM u.status
"""

INSERT_REJECTION = (
    "INSERT INTO ingest_rejection (received_at, park_id, device_id, topic, reason, detail, "
    "payload, payload_size) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


def row_arrays(rows: list[Row]) -> tuple[Int8s, Int4s, Float8s]:
    """The rows as ``INSERT_ROWS``' three arrays: times, series ids, values."""
    if not rows:
        return Int8s(), Int4s(), Float8s()
    times, series, values = zip(*rows, strict=True)
    return Int8s(times), Int4s(series), Float8s(values)


@dataclass
class RejectedRow:
    received_at: datetime
    park_id: str | None
    device_id: str | None
    topic: str
    reason: str
    detail: str
    payload: bytes  # the part kept (PARKTWIN_INGEST_REJECTION_PAYLOAD_MAX at most)
    payload_size: int  # the whole payload's length

    def as_row(self) -> tuple[object, ...]:
        return (
            self.received_at,
            self.park_id,
            self.device_id,
            self.topic,
            self.reason,
            self.detail,
            self.payload,
            self.payload_size,
        )


@dataclass
class Batch:
    """What one transaction writes. Device lists are sorted so concurrent workers lock device
    rows in the same order."""

    rows: list[Row] = field(default_factory=list)
    repeated: int = 0  # readings dropped because the batch already held their (series, ts)
    latest: dict[int, tuple[int, float]] = field(default_factory=dict)  # series -> (us, value)
    hours: set[tuple[int, int]] = field(default_factory=set)  # (series, UTC hour start in us)
    newest_us: list[int] = field(default_factory=list)  # per stored message, its newest reading
    telemetry: list[Telemetry] = field(default_factory=list)  # accepted, for the alarms
    device_types: Mapping[tuple[str, str], str] = field(default_factory=dict)  # of its devices
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)
    statuses: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    rejections: list[RejectedRow] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # reasons of rejections not stored


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int


class TelemetryWriter:
    """Writes batches through one connection (autocommit; each batch is one transaction)."""

    def __init__(
        self, conn: psycopg.Connection, rules: RuleBook, alarms_only: bool = False
    ) -> None:
        self.conn = conn
        self.alarms = AlarmWriter(conn, rules)
        self.alarms_only = alarms_only

    def write(self, batch: Batch) -> WriteResult:
        if self.alarms_only:  # the fast path's copies (ingest/fastpath.py): the rest comes later
            with self.conn.pipeline(), self.conn.transaction():
                self.alarms.apply(batch.telemetry, batch.device_types, ahead_of_backlog)
            return WriteResult(0, 0)
        try:
            inserted = self._write(batch, INSERT_ROWS)
        except psycopg.errors.UniqueViolation as exc:
            if not (exc.diag.constraint_name or "").endswith(TELEMETRY_KEY):
                raise
            inserted = self._write(batch, INSERT_NEW_ROWS)  # rolled back: once more, skipping
        return WriteResult(inserted, len(batch.rows) - inserted + batch.repeated)

    def _write(self, batch: Batch, insert_rows: str) -> int:
        """The batch in one transaction, its statements pipelined; the readings inserted."""
        with self.conn.pipeline(), self.conn.cursor() as rows:
            with self.conn.transaction():
                if batch.rows:
                    rows.execute(insert_rows, row_arrays(batch.rows))
                    self._write_latest(batch)
                if batch.telemetry:
                    self.alarms.apply(batch.telemetry, batch.device_types)
                if batch.seen:
                    self._touch_devices(batch.seen)
                if batch.statuses:
                    self._set_statuses(batch.statuses)
                if batch.rejections:
                    self._write_rejections(batch.rejections)
            # in the pipeline, leaving the transaction waits for every statement's result
            return rows.rowcount if batch.rows else 0

    def _write_latest(self, batch: Batch) -> None:
        series = sorted(batch.latest)
        newest = [batch.latest[s] for s in series]
        self.conn.execute(
            UPSERT_LATEST,
            (Int4s(series), Int8s([n[0] for n in newest]), Float8s([n[1] for n in newest])),
        )
        hours = sorted(batch.hours)
        self.conn.execute(MARK_DIRTY, (Int4s([h[0] for h in hours]), Int8s([h[1] for h in hours])))

    def _touch_devices(self, seen: dict[tuple[str, str], datetime]) -> None:
        keys = sorted(seen)
        changed = self.conn.execute(
            TOUCH_DEVICES,
            (
                Texts([k[0] for k in keys]),
                Texts([k[1] for k in keys]),
                Timestamptzs([seen[k] for k in keys]),
            ),
        ).fetchall()
        self.alarms.status_changes(changed)

    def _set_statuses(self, statuses: dict[tuple[str, str], tuple[str, datetime]]) -> None:
        keys = sorted(statuses)
        changed = self.conn.execute(
            SET_STATUS,
            (
                Texts([k[0] for k in keys]),
                Texts([k[1] for k in keys]),
                Texts([statuses[k][0] for k in keys]),
                Timestamptzs([statuses[k][1] for k in keys]),
            ),
        ).fetchall()
        self.alarms.status_changes(changed)

    def _write_rejections(self, rejections: list[RejectedRow]) -> None:
        with self.conn.cursor() as cur:  # pipelined: one round trip for them all
            cur.executemany(INSERT_REJECTION, [r.as_row() for r in rejections])
