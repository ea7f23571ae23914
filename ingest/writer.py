"""The batch writer: one transaction per batch, the only place that writes telemetry.

Per batch, in one transaction:

1. the readings, encoded here in PostgreSQL's binary COPY format, are copied straight into the
   hypertable inside a savepoint. When that hits the unique key (a reading already stored:
   a redelivery, a device resending) the savepoint is rolled back and the same bytes go
   through a session-local staging table and ``INSERT ... ON CONFLICT DO NOTHING``, so the first
   value stored for a (series, time) wins. The batch itself was deduplicated in arrival order
   beforehand. Direct COPY is the common case and several times cheaper than the
   ``ON CONFLICT`` path (docs/benchmarks.md);
2. ``latest_value`` upserted with the newest reading per series, only when newer;
3. the touched UTC hours queued in ``telemetry_dirty`` for the rollup job;
4. the accepted readings handed to the alarm evaluation (``AlarmWriter.apply``: it finds the
   rules that watch them, raises and clears alarms and queues their webhook events);
5. devices' ``last_seen_at`` and ``status`` (telemetry means online; status messages say which);
6. rejected messages copied into ``ingest_rejection`` (as many as the per-device rate limit
   lets through: ingest/ratelimit.py).

The caller acknowledges the batch's MQTT messages only after ``write()`` returns.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from app.alarms.evaluator import AlarmWriter
from app.alarms.rules import RuleBook, ahead_of_backlog
from app.core.pgarray import PG_EPOCH_US, Float8s, Int4s, Int8s, Texts, Timestamptzs
from ingest.parse import Telemetry
from ingest.rows import Row

logger = logging.getLogger(__name__)

STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS telemetry_stage (
    time timestamptz NOT NULL, series_id integer NOT NULL, value double precision NOT NULL
) ON COMMIT DELETE ROWS
"""

COPY_DIRECT = "COPY telemetry (time, series_id, value) FROM STDIN (FORMAT BINARY)"
COPY_STAGE = "COPY telemetry_stage (time, series_id, value) FROM STDIN (FORMAT BINARY)"

INSERT_TELEMETRY = """
INSERT INTO telemetry (time, series_id, value)
SELECT time, series_id, value FROM telemetry_stage
ON CONFLICT (series_id, time) DO NOTHING
"""

# Times travel as int8 microseconds since the Unix epoch (see ingest.parse.Reading).
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

COPY_REJECTIONS = (
    "COPY ingest_rejection (received_at, park_id, device_id, topic, reason, detail, payload, "
    "payload_size) FROM STDIN (FORMAT BINARY)"
)
REJECTION_TYPES = ["timestamptz", "text", "text", "text", "text", "text", "bytea", "int4"]

# Binary COPY: a header, then per row a field count and (length, bytes) per field:
# timestamptz as int64 microseconds since 2000-01-01, int4, float8; then a -1 trailer.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
COPY_ROW = struct.Struct(">hiqiiid")


def encode_copy(rows: list[Row]) -> bytes:
    pack = COPY_ROW.pack
    body = b"".join([pack(3, 8, us - PG_EPOCH_US, 4, sid, 8, value) for us, sid, value in rows])
    return COPY_HEADER + body + COPY_TRAILER


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

    def as_copy_row(self) -> tuple[object, ...]:
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
        conn.execute(STAGE_DDL)

    def write(self, batch: Batch) -> WriteResult:
        inserted = 0
        if self.alarms_only:  # the fast path's copies (ingest/fastpath.py): the rest comes later
            with self.conn.transaction():
                self.alarms.apply(batch.telemetry, batch.device_types, ahead_of_backlog)
            return WriteResult(0, 0)
        with self.conn.transaction():
            if batch.rows:
                inserted = self._write_rows(batch)
            if batch.telemetry:
                self.alarms.apply(batch.telemetry, batch.device_types)
            if batch.seen:
                self._touch_devices(batch.seen)
            if batch.statuses:
                self._set_statuses(batch.statuses)
            if batch.rejections:
                self._write_rejections(batch.rejections)
        return WriteResult(inserted, len(batch.rows) - inserted + batch.repeated)

    def _write_rows(self, batch: Batch) -> int:
        data = encode_copy(batch.rows)
        with self.conn.cursor() as cur:
            try:
                with self.conn.transaction(), cur.copy(COPY_DIRECT) as copy:
                    copy.write(data)
                inserted = len(batch.rows)
            except psycopg.errors.UniqueViolation:
                with cur.copy(COPY_STAGE) as copy:
                    copy.write(data)
                cur.execute(INSERT_TELEMETRY)
                inserted = cur.rowcount
            series = sorted(batch.latest)
            newest = [batch.latest[s] for s in series]
            cur.execute(
                UPSERT_LATEST,
                (Int4s(series), Int8s([n[0] for n in newest]), Float8s([n[1] for n in newest])),
            )
            hours = sorted(batch.hours)
            cur.execute(MARK_DIRTY, (Int4s([h[0] for h in hours]), Int8s([h[1] for h in hours])))
        return inserted

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
        with self.conn.cursor() as cur, cur.copy(COPY_REJECTIONS) as copy:
            copy.set_types(REJECTION_TYPES)
            for rejection in rejections:
                copy.write_row(rejection.as_copy_row())
