"""The batch writer: one transaction per batch, the only place that writes telemetry.

Per batch, in one transaction:

1. binary ``COPY`` of the readings into a session-local staging table, then
   ``INSERT INTO telemetry SELECT ... ON CONFLICT DO NOTHING`` (the first value stored for a
   (series, time) wins; the batch itself was deduplicated in arrival order beforehand);
2. ``latest_value`` upserted from the newest staged reading per series, only when newer;
3. the touched UTC hours queued in ``telemetry_dirty`` for the rollup job (when that table
   exists);
4. devices' ``last_seen_at`` and ``status`` (telemetry means online; status messages say which);
5. rejected messages copied into ``ingest_rejection``.

The caller acknowledges the batch's MQTT messages only after ``write()`` returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

logger = logging.getLogger(__name__)

STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS telemetry_stage (
    time timestamptz NOT NULL, series_id integer NOT NULL, value double precision NOT NULL
) ON COMMIT DELETE ROWS
"""

COPY_STAGE = "COPY telemetry_stage (time, series_id, value) FROM STDIN (FORMAT BINARY)"

INSERT_TELEMETRY = """
INSERT INTO telemetry (time, series_id, value)
SELECT time, series_id, value FROM telemetry_stage
ON CONFLICT (series_id, time) DO NOTHING
"""

UPSERT_LATEST = """
INSERT INTO latest_value AS l (series_id, time, value)
SELECT DISTINCT ON (series_id) series_id, time, value
FROM telemetry_stage ORDER BY series_id, time DESC
ON CONFLICT (series_id) DO UPDATE SET time = excluded.time, value = excluded.value
WHERE l.time < excluded.time
"""

# DO UPDATE rather than DO NOTHING: the no-op update takes the row lock, so a rollup job
# that is recomputing this hour must wait for our commit (see migration 0002).
# Sorted, so that concurrent writers lock the rows in the same order.
MARK_DIRTY = """
INSERT INTO telemetry_dirty (series_id, bucket)
SELECT DISTINCT series_id, time_bucket('1 hour', time) FROM telemetry_stage ORDER BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET bucket = excluded.bucket
"""

TOUCH_DEVICES = """
UPDATE device d SET
    last_seen_at = greatest(d.last_seen_at, u.seen),
    status = 'online',
    status_changed_at = CASE WHEN d.status = 'online' THEN d.status_changed_at ELSE u.seen END
FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) AS u(park_id, id, seen)
WHERE d.park_id = u.park_id AND d.id = u.id
"""

SET_STATUS = """
UPDATE device d SET status = u.status, status_changed_at = u.at,
    last_seen_at = CASE WHEN u.status = 'online' THEN greatest(d.last_seen_at, u.at)
                        ELSE d.last_seen_at END
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[]) AS u(park_id, id, status, at)
WHERE d.park_id = u.park_id AND d.id = u.id AND d.status IS DISTINCT FROM u.status
"""

COPY_REJECTIONS = (
    "COPY ingest_rejection (received_at, park_id, device_id, topic, reason, detail, payload, "
    "payload_size) FROM STDIN (FORMAT BINARY)"
)
REJECTION_TYPES = ["timestamptz", "text", "text", "text", "text", "text", "bytea", "int4"]

REJECTED_PAYLOAD_BYTES = 64 * 1024

Row = tuple[datetime, int, float]


@dataclass
class RejectedRow:
    received_at: datetime
    park_id: str | None
    device_id: str | None
    topic: str
    reason: str
    detail: str
    payload: bytes

    def as_copy_row(self) -> tuple[object, ...]:
        return (
            self.received_at,
            self.park_id,
            self.device_id,
            self.topic,
            self.reason,
            self.detail,
            self.payload[:REJECTED_PAYLOAD_BYTES],
            len(self.payload),
        )


@dataclass
class Batch:
    """What one transaction writes. Device lists are sorted so concurrent workers lock device
    rows in the same order."""

    rows: list[Row] = field(default_factory=list)
    repeated: int = 0  # readings dropped because the batch already held their (series, ts)
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)
    statuses: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    rejections: list[RejectedRow] = field(default_factory=list)


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int


class TelemetryWriter:
    """Writes batches through one connection (autocommit; each batch is one transaction)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        conn.execute(STAGE_DDL)
        found = conn.execute("SELECT to_regclass('telemetry_dirty') IS NOT NULL").fetchone()
        self._rollups = bool(found and found[0])

    def write(self, batch: Batch) -> WriteResult:
        inserted = 0
        with self.conn.transaction():
            if batch.rows:
                inserted = self._write_rows(batch.rows)
            if batch.seen:
                self._touch_devices(batch.seen)
            if batch.statuses:
                self._set_statuses(batch.statuses)
            if batch.rejections:
                self._write_rejections(batch.rejections)
        return WriteResult(inserted, len(batch.rows) - inserted + batch.repeated)

    def _write_rows(self, rows: list[Row]) -> int:
        with self.conn.cursor() as cur:
            with cur.copy(COPY_STAGE) as copy:
                copy.set_types(["timestamptz", "int4", "float8"])
                for row in rows:
                    copy.write_row(row)
            cur.execute(INSERT_TELEMETRY)
            inserted = cur.rowcount
            cur.execute(UPSERT_LATEST)
            if self._rollups:
                cur.execute(MARK_DIRTY)
        return inserted

    def _touch_devices(self, seen: dict[tuple[str, str], datetime]) -> None:
        keys = sorted(seen)
        self.conn.execute(
            TOUCH_DEVICES, ([k[0] for k in keys], [k[1] for k in keys], [seen[k] for k in keys])
        )

    def _set_statuses(self, statuses: dict[tuple[str, str], tuple[str, datetime]]) -> None:
        keys = sorted(statuses)
        self.conn.execute(
            SET_STATUS,
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [statuses[k][0] for k in keys],
                [statuses[k][1] for k in keys],
            ),
        )

    def _write_rejections(self, rejections: list[RejectedRow]) -> None:
        with self.conn.cursor() as cur, cur.copy(COPY_REJECTIONS) as copy:
            copy.set_types(REJECTION_TYPES)
            for rejection in rejections:
                copy.write_row(rejection.as_copy_row())
