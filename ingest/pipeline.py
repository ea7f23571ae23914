"""One ingest worker: take a batch off the consumer's queue, parse it, resolve it against the
registry, write it in one transaction, then acknowledge it.

Faults: while the database is unreachable the batch is retried with backoff and nothing is
acknowledged; the queue fills, paho stops reading and the broker keeps the rest. A batch that
the database refuses for its content (not its availability) is split and written message by
message, and a message that still fails goes to the rejection log as ``storage_error``: one bad
message never blocks the stream, and nothing is dropped without a trace.
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
    Rejection,
    Status,
    Telemetry,
    parse_status,
    parse_telemetry,
    split_topic,
)
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

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestOptions:
        return cls(
            batch_max=settings.ingest_batch_max,
            batch_wait=settings.ingest_batch_wait_ms / 1000,
            max_age=settings.ingest_max_age,
            last_seen_resolution=settings.ingest_last_seen_resolution,
        )


def parse(message: Inbound, max_age: timedelta) -> Parsed:
    if message.topic.endswith("/status"):
        return parse_status(message.topic, message.payload)
    return parse_telemetry(message.topic, message.payload, message.received_at, max_age)


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
        self._sibling: IngestWorker | None = None
        if not urgent:
            self._sibling = IngestWorker(consumer, database_url, options, metrics, stop, True)

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
                messages = self.consumer.queue.take(
                    self.options.batch_max, 0.25, wait, urgent=self.urgent
                )
                if messages:
                    self.process(messages)
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
        parsed = [parse(m, self.options.max_age) for m in messages]
        started = time.perf_counter()
        batch, result = self._store(messages, parsed)
        self.metrics.flush_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(messages))
        self._after_commit(messages, batch, result)

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
                self.metrics.write_retries.inc()
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                self._close()
                if self.stop.wait(delay):
                    raise Stopping from exc
                delay = min(delay * 2, 5.0)
            except psycopg.Error as exc:
                if len(messages) > 1:
                    logger.warning("batch refused (%s); writing its messages one by one", exc)
                    return self._store_one_by_one(messages, parsed)
                if isinstance(parsed[0], Rejection) and parsed[0].reason == "storage_error":
                    logger.error(
                        "cannot store even the rejection of %s (%s); payload %.200r",
                        messages[0].topic,
                        exc,
                        messages[0].payload,
                    )
                    return Batch(), WriteResult(0, 0)
                parsed = [_storage_error(messages[0], exc)]

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
                    batch.rejections.append(_rejected(message, problem))
            elif isinstance(item, Status):
                self._add_status(batch, message, item)
            else:
                batch.rejections.append(_rejected(message, item))
        self._add_rows(conn, batch, accepted)
        self._add_alarm_readings(conn, batch, accepted)
        return batch

    def _add_status(self, batch: Batch, message: Inbound, status: Status) -> None:
        key = (status.park_id, status.device_id)
        if not self.registry.known_device(key):
            problem = Rejection(
                "unknown_device", f"no device {status.device_id!r} in this park", *key
            )
            batch.rejections.append(_rejected(message, problem))
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
        self.metrics.stored_messages.inc(len(messages) - len(batch.rejections))
        self.metrics.stored_readings.inc(result.inserted)
        self.metrics.duplicate_readings.inc(result.duplicates)
        for rejection in batch.rejections:
            self.metrics.rejected.labels(rejection.reason).inc()
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
        return self._writer

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.conn.close()
            self._writer = None


def _storage_error(message: Inbound, exc: psycopg.Error) -> Rejection:
    where = split_topic(message.topic)
    park, device = (where[0], where[1]) if where else (None, None)
    return Rejection(
        "storage_error", f"the database refused it: {str(exc).splitlines()[0][:300]}", park, device
    )


def _rejected(message: Inbound, rejection: Rejection) -> RejectedRow:
    return RejectedRow(
        message.received_at,
        rejection.park_id,
        rejection.device_id,
        message.topic,
        rejection.reason,
        rejection.detail,
        message.payload,
    )


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
        settings.resolved_database_url(),
        IngestOptions.from_settings(settings),
        metrics,
        stop,
    )
