"""One ingest worker: take a batch off the consumer's queue, parse it, resolve it against the
registry, write it in one transaction, then acknowledge it.

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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from app.alarms.evaluator import RuleBook
from app.core.clock import to_us
from app.core.config import Settings
from app.core.db import libpq_url
from ingest.consumer import Inbound, MqttConsumer, SubscriptionMode
from ingest.metrics import IngestMetrics, observe_many
from ingest.parse import (
    MAX_PAYLOAD_BYTES,
    Rejection,
    Status,
    Telemetry,
    parse_status,
    parse_telemetry,
    split_topic,
)
from ingest.quarantine import Quarantine, message_digest
from ingest.ratelimit import RejectionLimiter
from ingest.registry import Registry
from ingest.rows import RowBuilder
from ingest.writer import Batch, RejectedRow, TelemetryWriter, WriteResult

logger = logging.getLogger(__name__)

REGISTRY_CHANNEL = "parktwin_registry"
Parsed = Telemetry | Status | Rejection


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


def parse(message: Inbound, max_age: timedelta) -> Parsed:
    """The message's meaning or its rejection; never raises (an unexpected failure is the
    message's ``internal_error``, not the worker's end)."""
    try:
        if message.size > MAX_PAYLOAD_BYTES:  # the consumer kept only its start
            return _too_large(message)
        if message.topic.endswith("/status"):
            return parse_status(message.topic, message.payload)
        return parse_telemetry(message.topic, message.payload, message.received_at, max_age)
    except Exception as exc:
        logger.exception("cannot parse %s; payload %.200r", message.topic, message.payload)
        return _failure(message, "internal_error", f"the parser failed: {type(exc).__name__}")


# The telemetry topics of the devices whose messages take the urgent lane.
WATCHED_TOPICS = """
SELECT 'parks/' || park_id || '/devices/' || id || '/telemetry' FROM device WHERE type = ANY(%s)
"""


class IngestWorker:
    """Takes one lane of the consumer's queue. The worker for the normal lane (the one
    ``build_worker`` makes) runs a sibling for the urgent lane in a thread of its own, with
    its own connection, registry and rule book: a watched reading is written in a small
    transaction of its own as soon as it arrives, never behind a big meter batch."""

    def __init__(
        self,
        consumer: MqttConsumer,
        database_url: str,
        options: IngestOptions,
        metrics: IngestMetrics,
        stop: threading.Event,
        urgent: bool = False,
        limiter: RejectionLimiter | None = None,
    ) -> None:
        self.consumer = consumer
        self.database_url = libpq_url(database_url)
        self.urgent = urgent
        self.options = options
        self.metrics = metrics
        self.stop = stop
        self.registry = Registry()
        self.rules = RuleBook()
        self._conn: psycopg.Connection | None = None
        self._writer: TelemetryWriter | None = None
        self._registry_changed = False
        self._last_seen_written: dict[tuple[str, str], datetime] = {}
        self._received = 0
        self.limiter = limiter or RejectionLimiter(options.rejection_rate, options.rejection_bytes)
        lane = f"{consumer.client_id}/urgent" if urgent else consumer.client_id
        self.quarantine = Quarantine(lane, options.quarantine_after, options.session_expiry)
        self._sibling: IngestWorker | None = None
        if not urgent:
            self._sibling = IngestWorker(
                consumer, database_url, options, metrics, stop, True, self.limiter
            )

    @property
    def received_total(self) -> int:
        return self._received + (self._sibling._received if self._sibling else 0)

    # -- main loop ------------------------------------------------------------------------

    def run(self) -> None:
        """The normal lane's loop, with the urgent lane's in a thread; both end on ``stop``."""
        assert self._sibling is not None, "run() belongs to the normal lane's worker"
        self.consumer.start()
        self._prime()
        urgent = threading.Thread(target=self._sibling.loop, name="ingest-urgent", daemon=True)
        urgent.start()
        try:
            self.loop()
        finally:
            self.stop.set()
            urgent.join()
            self.consumer.stop()
            quiet = self.consumer.retiring and self.received_total == 0
            level = logging.DEBUG if quiet else logging.INFO
            logger.log(level, "stopped after %d messages", self.received_total)

    def loop(self) -> None:
        """Take batches off this worker's lane and store them until ``stop``. An urgent batch
        is whatever is waiting (no collect window); a normal one waits up to the batch window
        to fill. Both block up to 0.25 s for the first message, so a stop is noticed soon."""
        wait = 0.0 if self.urgent else self.options.batch_wait
        try:
            while not self.stop.is_set():
                if not self.urgent:
                    self.metrics.queue_depth.set(self.consumer.queue.qsize())
                    self.metrics.queue_bytes.set(self.consumer.queue.qbytes())
                messages = self.consumer.queue.take(
                    self.options.batch_max, 0.25, wait, urgent=self.urgent
                )
                if messages:
                    self.process(messages)
            self._unmark()
        except Stopping:
            logger.info("stopping with an uncommitted batch; the broker will redeliver it")
        finally:
            self._close()

    def _prime(self) -> None:
        """Know the watched devices as soon as possible (best effort: with the database away
        they are loaded with the first batch that gets through; meanwhile every message takes
        the normal lane)."""
        try:
            self._connect()
        except psycopg.OperationalError:
            logger.info("database unavailable at start; watched devices load later")

    def process(self, messages: Sequence[Inbound]) -> None:
        self.metrics.received.inc(len(messages))
        if self.urgent:
            self.metrics.urgent.inc(len(messages))
        self._received += len(messages)
        digests = [message_digest(m.topic, m.payload) for m in messages]
        if not self.quarantine.strikes:
            self._process(messages, digests)
            return
        suspect = [self.quarantine.suspect(d) for d in digests]
        rest = [i for i, alone in enumerate(suspect) if not alone]
        if rest:
            self._process([messages[i] for i in rest], [digests[i] for i in rest])
        for i in (i for i, alone in enumerate(suspect) if alone):
            self._process([messages[i]], [digests[i]])  # alone: a crash names it, no other
            try:
                self.quarantine.cleared(self._connect().conn, digests[i])
            except psycopg.Error as exc:  # it keeps its strike: only retried alone again
                logger.info("could not clear a suspect's strike (%s)", exc)

    def _process(self, messages: Sequence[Inbound], digests: list[bytes]) -> None:
        """Mark, parse, store, acknowledge one batch."""
        self._mark(digests)
        parsed = [self._parse(m, d) for m, d in zip(messages, digests, strict=True)]
        started = time.perf_counter()
        batch, result = self._store(messages, parsed)
        self.metrics.flush_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(messages))
        self._after_commit(messages, batch, result)

    def _parse(self, message: Inbound, digest: bytes) -> Parsed:
        strikes = self.quarantine.quarantined(digest) if self.quarantine.strikes else 0
        if strikes:
            detail = f"in flight at {strikes} worker crashes; not processed again"
            return _failure(message, "quarantined", detail)
        return parse(message, self.options.max_age)

    def _mark(self, digests: list[bytes]) -> None:
        """Commit the batch's digests before touching it (retried while the database is away)."""
        delay = 0.2
        while True:
            try:
                self.quarantine.mark(self._connect().conn, digests)
                return
            except psycopg.OperationalError as exc:
                delay = self._wait_for_database(exc, delay)

    def _unmark(self) -> None:
        """A clean stop: no batch is in flight."""
        try:
            if self._writer is not None and not self._writer.conn.closed:
                self.quarantine.unmark(self._writer.conn)
        except psycopg.Error as exc:
            logger.info("could not clear the in-flight mark (%s)", exc)

    def _wait_for_database(self, exc: psycopg.OperationalError, delay: float) -> float:
        self.metrics.write_retries.inc()
        logger.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
        self._close()
        if self.stop.wait(delay):
            raise Stopping from exc
        return min(delay * 2, 5.0)

    # -- storing with retries ---------------------------------------------------------------

    def _store(
        self, messages: Sequence[Inbound], parsed: Sequence[Parsed]
    ) -> tuple[Batch, WriteResult]:
        delay = 0.2
        while True:
            try:
                writer = self._connect()
                batch = self._assemble(writer.conn, messages, parsed)
                return batch, writer.write(batch)
            except psycopg.errors.TransactionRollback as exc:
                # A deadlock or serialization failure with another worker: just go again.
                self.metrics.write_retries.inc()
                logger.info("batch rolled back (%s); retrying", exc)
            except psycopg.OperationalError as exc:
                delay = self._wait_for_database(exc, delay)
            except Exception as exc:  # the content of one message, ours or the database's
                if not isinstance(exc, psycopg.Error):
                    logger.exception("batch of %d failed; isolating its messages", len(messages))
                    self._close()  # whatever state the connection was left in
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
            batch, result = self._store([message], [item])
            merged.rows += batch.rows
            merged.repeated += batch.repeated
            merged.newest_us += batch.newest_us
            merged.seen.update(batch.seen)
            merged.statuses.update(batch.statuses)
            merged.rejections += batch.rejections
            merged.suppressed += batch.suppressed
            inserted, duplicates = inserted + result.inserted, duplicates + result.duplicates
        return merged, WriteResult(inserted, duplicates)

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
        self._add_alarm_readings(conn, batch, accepted)
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
        needed: dict[tuple[str, str], set[str]] = {}
        for _m, t in accepted:
            needed.setdefault((t.park_id, t.device_id), set()).update(m for _u, m, _v in t.readings)
        series = self.registry.series_ids(conn, needed)
        builder = RowBuilder()
        for message, telemetry in accepted:
            key = (telemetry.park_id, telemetry.device_id)
            batch.newest_us.append(builder.add_readings(series[key], telemetry.readings))
            self._note_seen(batch, key, message.received_at)
        batch.rows, batch.hours, batch.repeated = builder.rows, builder.hours, builder.repeated
        batch.latest = builder.latest()

    def _add_alarm_readings(
        self, conn: psycopg.Connection, batch: Batch, accepted: list[tuple[Inbound, Telemetry]]
    ) -> None:
        """The readings some alarm rule watches, per (device, metric, rule)."""
        self._load_rules(conn)
        watched_by_type: dict[str, frozenset[str]] = {}
        for _message, telemetry in accepted:
            key = (telemetry.park_id, telemetry.device_id)
            device_type = self.registry.device_type(key)
            watched = watched_by_type.get(device_type)
            if watched is None:
                watched = watched_by_type[device_type] = self.rules.watched_metrics(device_type)
            if not watched:
                continue
            for us, metric, value in telemetry.readings:
                if metric in watched:
                    for rule in self.rules.for_reading(*key, device_type, metric):
                        batch.alarm_readings.setdefault((*key, metric, rule.id), []).append(
                            (us, value)
                        )

    def _load_rules(self, conn: psycopg.Connection) -> None:
        """The rule book; the normal lane's worker also sets, from it, the topics that take
        the urgent lane: those of every device of a type some rule watches (reloaded whenever
        the registry or a rule changes). The set is swapped whole; paho's thread only tests
        membership."""
        if self.rules.loaded:
            return
        self.rules.load(conn)
        if self.urgent:
            return
        types = sorted(self.rules.watched_types())
        rows = conn.execute(WATCHED_TOPICS, (types,)).fetchall() if types else []
        self.consumer.urgent_topics = frozenset(topic for (topic,) in rows)

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

    # -- after the commit ---------------------------------------------------------------------

    def _after_commit(self, messages: Sequence[Inbound], batch: Batch, result: WriteResult) -> None:
        self.consumer.ack(messages)
        self._last_seen_written.update(batch.seen)
        now = datetime.now(UTC)
        rejected = len(batch.rejections) + len(batch.suppressed)
        self.metrics.stored_messages.inc(len(messages) - rejected)
        self.metrics.stored_readings.inc(result.inserted)
        self.metrics.duplicate_readings.inc(result.duplicates)
        for rejection in batch.rejections:
            self.metrics.rejected.labels(rejection.reason).inc()
        for reason in batch.suppressed:
            self.metrics.rejected.labels(reason).inc()
            self.metrics.rejections_suppressed.labels(reason).inc()
        now_us = to_us(now)
        lags = [(now_us - newest) / 1_000_000 for newest in batch.newest_us if newest]
        observe_many(self.metrics.lag_seconds, lags)

    # -- connection ---------------------------------------------------------------------------

    def _connect(self) -> TelemetryWriter:
        if self._writer is not None and not self._writer.conn.closed:
            return self._writer
        conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
        conn.execute(f"LISTEN {REGISTRY_CHANNEL}")
        self.registry.clear()  # changes may have been missed while disconnected
        self.rules.clear()
        self._writer = TelemetryWriter(conn, self.rules)
        self._load_rules(conn)
        if not self.quarantine.recovered:
            self.quarantine.recover(conn)
        return self._writer

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.conn.close()
            self._writer = None


# Rejections that say the message could not be handled, rather than what is wrong with it.
FAILURE_REASONS = frozenset(("storage_error", "internal_error"))


def _failure(message: Inbound, reason: str, detail: str) -> Rejection:
    where = split_topic(message.topic)
    park, device = (where[0], where[1]) if where else (None, None)
    return Rejection(reason, detail, park, device)


def _failed_on(message: Inbound, exc: Exception) -> Rejection:
    if isinstance(exc, psycopg.Error):
        first_line = (str(exc).splitlines() or [""])[0][:300]
        return _failure(message, "storage_error", f"the database refused it: {first_line}")
    return _failure(message, "internal_error", f"storing it failed: {type(exc).__name__}")


def _too_large(message: Inbound) -> Rejection:
    detail = f"{message.size} bytes > {MAX_PAYLOAD_BYTES}"
    return _failure(message, "payload_too_large", detail)


def build_worker(
    settings: Settings,
    index: int,
    metrics: IngestMetrics,
    stop: threading.Event,
    mode: SubscriptionMode,
) -> IngestWorker:
    consumer = MqttConsumer(
        settings.mqtt_target("ingest"),
        f"{settings.ingest_client_id}-{index}",
        queue_size=settings.ingest_queue_size,
        queue_bytes=settings.ingest_queue_bytes,
        receive_maximum=settings.ingest_receive_maximum,
        session_expiry=settings.ingest_session_expiry,
        share_group=settings.ingest_share_group,
        mode=mode,
        protocol=settings.ingest_mqtt_protocol,
    )
    if mode != "retire":
        consumer.on_subscribed = lambda up: metrics.subscribed.set(1 if up else 0)
    return IngestWorker(
        consumer,
        settings.database_url_for("ingest"),  # its role, timeouts and keepalives
        IngestOptions.from_settings(settings),
        metrics,
        stop,
    )
