"""Storing one lane's batches: assemble them against the registry, write them in one
transaction, retry, isolate, quarantine (one :class:`BatchStore` per lane, each with its own
connection, registry cache and rule book).

Faults: while the database is unreachable the batch is retried with backoff and nothing is
acknowledged; the queue fills, paho stops reading and the broker keeps the rest. A batch that
the database refuses for its content (not its availability), or whose assembly or write raises
anything else, is split and written message by message, and a message that still fails goes to
the rejection log as ``storage_error`` (the database refused it) or ``internal_error`` (our
code failed on it; so does a parser failure): one bad message never blocks the stream, and
nothing is dropped without a trace. A message that was in flight when workers died is retried
alone and then quarantined (ingest/quarantine.py); rejections are stored up to a per-device
rate (ingest/ratelimit.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from app.alarms.rules import RuleBook
from app.core.config import Settings
from app.core.db import libpq_url
from ingest.consumer import Inbound
from ingest.metrics import IngestMetrics
from ingest.parse import Rejection, Status, Telemetry, split_topic
from ingest.quarantine import Quarantine
from ingest.ratelimit import RejectionLimiter
from ingest.registry import Registry
from ingest.rows import RowBuilder
from ingest.writer import Batch, RejectedRow, TelemetryWriter, WriteResult

logger = logging.getLogger(__name__)

REGISTRY_CHANNEL = "parktwin_registry"
Parsed = Telemetry | Status | Rejection

# Rejections that say the message could not be handled, rather than what is wrong with it.
FAILURE_REASONS = frozenset(("storage_error", "internal_error"))


class Stopping(Exception):
    """Shutdown was requested while a batch could not be committed: leave it unacknowledged."""


@dataclass(frozen=True)
class IngestOptions:
    batch_max: int
    batch_wait: float
    max_age: timedelta
    last_seen_resolution: timedelta
    rejection_payload_max: int = 64 * 1024
    rejection_rate: int = 60
    rejection_bytes: int = 1 << 20
    quarantine_after: int = 2
    session_expiry: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestOptions:
        return cls(
            batch_max=settings.ingest_batch_max,
            batch_wait=settings.ingest_batch_wait_ms / 1000,
            max_age=settings.ingest_max_age,
            last_seen_resolution=settings.ingest_last_seen_resolution,
            rejection_payload_max=settings.ingest_rejection_payload_max,
            rejection_rate=settings.ingest_rejection_rate,
            rejection_bytes=settings.ingest_rejection_bytes,
            quarantine_after=settings.ingest_quarantine_after,
            session_expiry=settings.ingest_session_expiry,
        )


def failure(message: Inbound, reason: str, detail: str) -> Rejection:
    """A rejection of ``message`` for a failure, with the park and device its topic names."""
    where = split_topic(message.topic)
    park, device = (where[0], where[1]) if where else (None, None)
    return Rejection(reason, detail, park, device)


def _failed_on(message: Inbound, exc: Exception) -> Rejection:
    if isinstance(exc, psycopg.Error):
        first_line = (str(exc).splitlines() or [""])[0][:300]
        return failure(message, "storage_error", f"the database refused it: {first_line}")
    return failure(message, "internal_error", f"storing it failed: {type(exc).__name__}")


class BatchStore:
    """Stores one lane's batches through a connection of its own. ``publish_watched``, when
    given, receives the topics the rule book watches whenever the rules are (re)loaded (the
    normal lane's store hands them to the consumer: they take the urgent lane). With
    ``alarms_only`` (the fast lane's store) a batch's readings only go to the alarm evaluation:
    rows, last-seen times, statuses and rejections are the persistent session's copy's."""

    def __init__(
        self,
        database_url: str,
        options: IngestOptions,
        metrics: IngestMetrics,
        stop: threading.Event,
        quarantine: Quarantine,
        limiter: RejectionLimiter,
        publish_watched: Callable[[frozenset[str]], None] | None = None,
        alarms_only: bool = False,
    ) -> None:
        self.database_url = libpq_url(database_url)
        self.alarms_only = alarms_only
        self.options = options
        self.metrics = metrics
        self.stop = stop
        self.quarantine = quarantine
        self.limiter = limiter
        self.registry = Registry()
        self.rules = RuleBook()
        self._publish_watched = publish_watched
        self._writer: TelemetryWriter | None = None
        self._registry_changed = False
        self._last_seen_written: dict[tuple[str, str], datetime] = {}

    # -- quarantine marks ---------------------------------------------------------------------

    def mark(self, digests: list[bytes]) -> None:
        """Commit the batch's digests before touching it (retried while the database is away)."""
        delay = 0.2
        while True:
            try:
                self.quarantine.mark(self.connect().conn, digests)
                return
            except psycopg.OperationalError as exc:
                delay = self._wait_for_database(exc, delay)

    def unmark(self) -> None:
        """A clean stop: no batch is in flight."""
        try:
            if self._writer is not None and not self._writer.conn.closed:
                self.quarantine.unmark(self._writer.conn)
        except psycopg.Error as exc:
            logger.info("could not clear the in-flight mark (%s)", exc)

    def cleared(self, digest: bytes) -> None:
        """A suspect went through alone: it loses its strike."""
        try:
            self.quarantine.cleared(self.connect().conn, digest)
        except psycopg.Error as exc:  # it keeps its strike: only retried alone again
            logger.info("could not clear a suspect's strike (%s)", exc)

    def _wait_for_database(self, exc: psycopg.Error, delay: float) -> float:
        self.metrics.write_retries.inc()
        logger.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
        self.close()
        if self.stop.wait(delay):
            raise Stopping from exc
        return min(delay * 2, 5.0)

    # -- storing with retries ---------------------------------------------------------------

    def store(
        self, messages: Sequence[Inbound], parsed: Sequence[Parsed]
    ) -> tuple[Batch, WriteResult]:
        delay = 0.2
        while True:
            try:
                writer = self.connect()
                batch = self._assemble(writer.conn, messages, parsed)
                return batch, writer.write(batch)
            except psycopg.errors.TransactionRollback as exc:
                # A deadlock or serialization failure with another worker: just go again.
                self.metrics.write_retries.inc()
                logger.info("batch rolled back (%s); retrying", exc)
            except (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction) as exc:
                # Read-only: the node this connection reached is a standby now (a Patroni
                # switchover demoted it); reconnecting finds the new primary.
                delay = self._wait_for_database(exc, delay)
            except Exception as exc:  # the content of one message, ours or the database's
                if not isinstance(exc, psycopg.Error):
                    logger.exception("batch of %d failed; isolating its messages", len(messages))
                    self.close()  # whatever state the connection was left in
                if len(messages) > 1:
                    logger.warning("batch refused (%s); writing its messages one by one", exc)
                    return self._store_one_by_one(messages, parsed)
                if isinstance(parsed[0], Rejection) and parsed[0].reason in FAILURE_REASONS:
                    logger.error(
                        "cannot store even the rejection of %s (%s); payload %.200r",
                        messages[0].topic,
                        exc,
                        messages[0].payload,
                    )
                    return Batch(), WriteResult(0, 0)
                parsed = [_failed_on(messages[0], exc)]

    def _store_one_by_one(
        self, messages: Sequence[Inbound], parsed: Sequence[Parsed]
    ) -> tuple[Batch, WriteResult]:
        self.registry.clear()
        merged, inserted, duplicates = Batch(), 0, 0
        for message, item in zip(messages, parsed, strict=True):
            batch, result = self.store([message], [item])
            merged.rows += batch.rows
            merged.repeated += batch.repeated
            merged.newest_us += batch.newest_us
            merged.seen.update(batch.seen)
            merged.statuses.update(batch.statuses)
            merged.rejections += batch.rejections
            merged.suppressed += batch.suppressed
            inserted, duplicates = inserted + result.inserted, duplicates + result.duplicates
        return merged, WriteResult(inserted, duplicates)

    def current_rules(self) -> RuleBook:
        """The rule book as the database has it now (reloaded after a registry or rule change
        was announced); raises psycopg.Error when the database is away."""
        conn = self.connect().conn
        self._poll_registry_changes(conn)
        self._load_rules(conn)
        return self.rules

    def committed(self, batch: Batch) -> None:
        """The batch is stored: its devices' ``last_seen_at`` is written."""
        self._last_seen_written.update(batch.seen)

    # -- assembling a batch against the registry ---------------------------------------------

    def _assemble(
        self, conn: psycopg.Connection, messages: Sequence[Inbound], parsed: Sequence[Parsed]
    ) -> Batch:
        self._poll_registry_changes(conn)
        self.registry.load_devices(
            conn, ((p.park_id, p.device_id) for p in parsed if isinstance(p, Telemetry | Status))
        )
        batch = Batch()
        accepted: list[tuple[Inbound, Telemetry]] = []
        for message, item in zip(messages, parsed, strict=True):
            if isinstance(item, Telemetry):
                problem = self.registry.check(item)
                if problem is None:
                    accepted.append((message, item))
                else:
                    batch.rejections.append(self._rejected(message, problem))
            elif isinstance(item, Status):
                self._add_status(batch, message, item)
            else:
                batch.rejections.append(self._rejected(message, item))
        self._add_rows(conn, batch, accepted)
        self._load_rules(conn)
        if batch.rejections:
            self._limit_rejections(batch)
        return batch

    def _limit_rejections(self, batch: Batch) -> None:
        """Keep what the per-device rate allows; a quarantined message is always kept (rare by
        construction, and its stored payload is the only copy left to diagnose or replay)."""
        kept = []
        for row in batch.rejections:
            device = f"{row.park_id}/{row.device_id}" if row.device_id else row.topic[:200]
            if row.reason == "quarantined" or self.limiter.admit(
                device, row.received_at, len(row.payload)
            ):
                kept.append(row)
            else:
                batch.suppressed.append(row.reason)
        batch.rejections = kept

    def _add_status(self, batch: Batch, message: Inbound, status: Status) -> None:
        key = (status.park_id, status.device_id)
        if not self.registry.known_device(key):
            problem = Rejection(
                "unknown_device", f"no device {status.device_id!r} in this park", *key
            )
            batch.rejections.append(self._rejected(message, problem))
            return
        batch.statuses[key] = ("online" if status.online else "offline", message.received_at)
        self._last_seen_written.pop(key, None)

    def _add_rows(
        self, conn: psycopg.Connection, batch: Batch, accepted: list[tuple[Inbound, Telemetry]]
    ) -> None:
        """The rows of the accepted readings; the readings themselves, with their devices'
        types, go to the alarm evaluation (which picks those some rule watches)."""
        if self.alarms_only:  # evaluated only: no rows, no last-seen (ingest/fastpath.py)
            batch.telemetry = [t for _m, t in accepted]
            batch.device_types = self.registry.device_types
            return
        needed: dict[tuple[str, str], set[str]] = {}
        for _m, t in accepted:
            needed.setdefault((t.park_id, t.device_id), set()).update(m for _u, m, _v in t.readings)
        series = self.registry.series_ids(conn, needed)
        builder = RowBuilder()
        for message, telemetry in accepted:
            key = (telemetry.park_id, telemetry.device_id)
            batch.newest_us.append(builder.add_readings(series[key], telemetry.readings))
            batch.telemetry.append(telemetry)
            self._note_seen(batch, key, message.received_at)
        batch.rows, batch.hours, batch.repeated = builder.rows, builder.hours, builder.repeated
        batch.latest = builder.latest()
        batch.device_types = self.registry.device_types

    def _load_rules(self, conn: psycopg.Connection) -> None:
        """The rule book (reloaded whenever the registry or a rule changes), and from it the
        watched topics for ``publish_watched``."""
        if self.rules.loaded:
            return
        self.rules.load(conn)
        if self._publish_watched is not None:
            self._publish_watched(self.rules.watched_topics(conn))

    def _rejected(self, message: Inbound, rejection: Rejection) -> RejectedRow:
        return RejectedRow(
            message.received_at,
            rejection.park_id,
            rejection.device_id,
            message.topic,
            rejection.reason,
            rejection.detail,
            message.payload[: self.options.rejection_payload_max],
            message.size,
        )

    def _note_seen(self, batch: Batch, key: tuple[str, str], received_at: datetime) -> None:
        written = self._last_seen_written.get(key)
        if written is None or received_at - written >= self.options.last_seen_resolution:
            batch.seen[key] = received_at

    def _poll_registry_changes(self, conn: psycopg.Connection) -> None:
        for _notify in conn.notifies(timeout=0):
            self._registry_changed = True
        if self._registry_changed:
            self._registry_changed = False
            self.registry.clear()
            self.rules.clear()

    # -- connection ---------------------------------------------------------------------------

    def connect(self) -> TelemetryWriter:
        if self._writer is not None and not self._writer.conn.closed:
            return self._writer
        conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
        conn.execute(f"LISTEN {REGISTRY_CHANNEL}")
        self.registry.clear()  # changes may have been missed while disconnected
        self.rules.clear()
        self._writer = TelemetryWriter(conn, self.rules, self.alarms_only)
        self._load_rules(conn)
        if not self.quarantine.recovered:
            self.quarantine.recover(conn)
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.conn.close()
            self._writer = None
