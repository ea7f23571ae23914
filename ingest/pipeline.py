"""One ingest worker: two lanes of the consumer's queue, each taking batches, parsing them,
storing them (ingest/store.py: one transaction per batch, with its retries, isolation and
quarantine) and acknowledging them after the commit.

The normal lane takes big batches (up to the batch window) for throughput; the urgent lane
takes whatever is waiting, in a thread and with a connection of its own, so a watched reading
(one some alarm rule watches: ingest/lanes.py) is written as soon as it arrives, never behind
a big meter batch. The normal lane's store tells the consumer which topics are watched.
Worker 0 has a third writer while it is behind, the fast lane: the fast path's copies of
watched readings (ingest/fastpath.py), evaluated for alarms ahead of the broker's backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from app.core.clock import to_us
from app.core.config import Settings
from app.core.gcpause import freeze_startup_heap
from ingest.consumer import Inbound, MqttConsumer, SubscriptionMode
from ingest.coverage import CoverageBeacon
from ingest.fastpath import FastPath
from ingest.metrics import IngestMetrics, observe_many
from ingest.parse import MAX_PAYLOAD_BYTES, Telemetry, parse_status, parse_telemetry
from ingest.quarantine import Quarantine, message_digest
from ingest.ratelimit import RejectionLimiter
from ingest.source import Source, build_source
from ingest.store import BatchStore, IngestOptions, Parsed, Stopping, failure
from ingest.writer import Batch, WriteResult

__all__ = ["IngestOptions", "IngestWorker", "Parsed", "build_worker", "parse"]

logger = logging.getLogger(__name__)


def parse(message: Inbound, max_age: timedelta) -> Parsed:
    """The message's meaning or its rejection; never raises (an unexpected failure is the
    message's ``internal_error``, not the worker's end)."""
    try:
        if message.size > MAX_PAYLOAD_BYTES:  # the consumer kept only its start
            return failure(
                message, "payload_too_large", f"{message.size} bytes > {MAX_PAYLOAD_BYTES}"
            )
        if message.topic.endswith("/status"):
            return parse_status(message.topic, message.payload)
        return parse_telemetry(message.topic, message.payload, message.received_at, max_age)
    except Exception as exc:
        logger.exception("cannot parse %s; payload %.200r", message.topic, message.payload)
        return failure(message, "internal_error", f"the parser failed: {type(exc).__name__}")


class Lane:
    """Takes batches off one lane of the consumer's queue and stores them until ``stop``: the
    normal lane waits up to the batch window for a batch to fill (and reports the queue's
    depth); :class:`UrgentLane` takes whatever is waiting."""

    def __init__(
        self,
        consumer: Source,
        store: BatchStore,
        options: IngestOptions,
        metrics: IngestMetrics,
        stop: threading.Event,
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.quarantine = store.quarantine
        self.options = options
        self.metrics = metrics
        self.stop = stop
        self.received = 0
        self.fast_path: FastPath | None = None  # told of every take (the normal lane's)

    def _take(self) -> list[Inbound]:
        """Up to a batch, blocking up to 0.25 s for the first message (a stop is noticed soon)."""
        queue = self.consumer.queue
        self.metrics.queue_depth.set(queue.qsize())
        self.metrics.queue_bytes.set(queue.qbytes())
        return queue.take(self.options.batch_max, 0.25, self.options.batch_wait)

    def _count(self, messages: Sequence[Inbound]) -> None:
        self.metrics.received.inc(len(messages))
        self.received += len(messages)

    def loop(self) -> None:
        try:
            if self.fast_path is not None:
                self.fast_path.behind()  # a start: the broker may hold a backlog
            while not self.stop.is_set():
                messages = self._take()
                if self.fast_path is not None:
                    self.fast_path.observe(len(messages), self.options.batch_max)
                if messages:
                    self.process(messages)
            self.store.unmark()
        except Stopping:
            logger.info("stopping with an uncommitted batch; the broker will redeliver it")
        finally:
            if self.fast_path is not None:
                self.fast_path.close()
            self.store.close()

    def process(self, messages: Sequence[Inbound]) -> None:
        """Store one batch; a suspect (in flight at a crash) is stored alone, after the rest."""
        self._count(messages)
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
            self.store.cleared(digests[i])

    def _process(self, messages: Sequence[Inbound], digests: list[bytes]) -> None:
        """Mark, parse, store, acknowledge one batch."""
        self.store.mark(digests)
        parsed = [self._parse(m, d) for m, d in zip(messages, digests, strict=True)]
        started = time.perf_counter()
        batch, result = self.store.store(messages, parsed)
        self.metrics.flush_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(messages))
        self._after_commit(messages, batch, result)

    def _parse(self, message: Inbound, digest: bytes) -> Parsed:
        strikes = self.quarantine.quarantined(digest) if self.quarantine.strikes else 0
        if strikes:
            detail = f"in flight at {strikes} worker crashes; not processed again"
            return failure(message, "quarantined", detail)
        return parse(message, self.options.max_age)

    def _after_commit(self, messages: Sequence[Inbound], batch: Batch, result: WriteResult) -> None:
        self.consumer.ack(messages)
        self.store.committed(batch)
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


class UrgentLane(Lane):
    """The urgent lane: whatever is waiting, no collect window; counted as urgent too."""

    def _take(self) -> list[Inbound]:
        return self.consumer.queue.take(self.options.batch_max, 0.25, 0.0, urgent=True)

    def _count(self, messages: Sequence[Inbound]) -> None:
        super()._count(messages)
        self.metrics.urgent.inc(len(messages))


class FastLane(Lane):
    """Worker 0's third writer: the fast path's copies of watched readings (ingest/fastpath.py),
    taken at once in small transactions of their own, never behind the urgent lane's backlog,
    and only evaluated for alarms (its store is ``alarms_only``): the persistent session's copy
    stores the reading when the drain reaches it, with no duplicate to meet. Counted apart."""

    def __init__(
        self,
        consumer: Source,
        store: BatchStore,
        options: IngestOptions,
        metrics: IngestMetrics,
        stop: threading.Event,
        fast_path: FastPath,
    ) -> None:
        super().__init__(consumer, store, options, metrics, stop)
        self.path = fast_path  # not ``fast_path``: this lane does not say when it is behind

    def _take(self) -> list[Inbound]:
        return self.path.queue.take(self.options.batch_max, 0.25, 0.0, urgent=True)

    def process(self, messages: Sequence[Inbound]) -> None:
        """Parse, keep the readings that could raise an alarm (``RuleBook.could_raise``: a
        quiet detector's reading, nearly all of them, waits for the drain like any other), and
        evaluate those. No in-flight marks (a message that crashes the worker is quarantined
        through its persistent copy), nothing to acknowledge (QoS 0), nothing stored to count."""
        self.metrics.fast_path.inc(len(messages))
        try:
            rules = self.store.current_rules()
        except psycopg.Error as exc:  # the copies are expendable: their twins come later
            logger.info("fast path: %d copies not evaluated (%s)", len(messages), exc)
            return
        kept: list[tuple[Inbound, Parsed]] = []
        for message in messages:
            item = parse(message, self.options.max_age)
            if isinstance(item, Telemetry) and any(
                rules.could_raise(metric, value) for _us, metric, value in item.readings
            ):
                kept.append((message, item))
        if kept:
            self.path.evaluated += len(kept)
            self.store.store([m for m, _p in kept], [p for _m, p in kept])


class IngestWorker:
    """One consumer and its two lanes (three with a fast path), each with its own store
    (connection, registry, rule book and quarantine); they share the per-device rejection
    rate."""

    def __init__(
        self,
        consumer: Source,
        database_url: str,
        options: IngestOptions,
        metrics: IngestMetrics,
        stop: threading.Event,
        beacon: CoverageBeacon | None = None,
        fast_path: FastPath | None = None,
    ) -> None:
        self.consumer = consumer
        self.stop = stop
        self.beacon = beacon
        limiter = RejectionLimiter(options.rejection_rate, options.rejection_bytes)

        def store(lane: str, publish: bool, alarms_only: bool = False) -> BatchStore:
            quarantine = Quarantine(lane, options.quarantine_after, options.session_expiry)
            watched = self._publish_watched if publish else None
            return BatchStore(
                database_url, options, metrics, stop, quarantine, limiter, watched, alarms_only
            )

        name = consumer.client_id
        self.normal = Lane(consumer, store(name, True), options, metrics, stop)
        self.urgent = UrgentLane(consumer, store(f"{name}/urgent", False), options, metrics, stop)
        self.normal.fast_path = fast_path
        self.fast: FastLane | None = None
        if fast_path is not None:
            fast_store = store(f"{name}/fast", False, alarms_only=True)
            self.fast = FastLane(consumer, fast_store, options, metrics, stop, fast_path)

    def _publish_watched(self, topics: frozenset[str]) -> None:
        """The set is swapped whole; paho's thread only tests membership."""
        self.consumer.urgent_topics = topics

    @property
    def received_total(self) -> int:
        return self.normal.received + self.urgent.received

    def process(self, messages: Sequence[Inbound]) -> None:
        """Store a batch through the normal lane (what a batch off the queue gets)."""
        self.normal.process(messages)

    def run(self) -> None:
        """Both lanes' loops, the urgent one in a thread; both end on ``stop``."""
        beacon = None
        if self.beacon is not None:
            beacon = threading.Thread(target=self.beacon.run, name="ingest-coverage", daemon=True)
            beacon.start()
        self.consumer.start()
        self._prime()
        freeze_startup_heap("ingest")  # a full GC pass held batches up (app/core/gcpause.py)
        writers = [threading.Thread(target=self.urgent.loop, name="ingest-urgent", daemon=True)]
        if self.fast is not None:
            writers.append(threading.Thread(target=self.fast.loop, name="ingest-fast", daemon=True))
        for writer in writers:
            writer.start()
        try:
            self.normal.loop()
        finally:
            self.stop.set()
            for writer in writers:
                writer.join()
            if self.beacon is not None and beacon is not None:
                self.beacon.wake()
                beacon.join()
            self.consumer.stop()
            quiet = self.consumer.retiring and self.received_total == 0
            level = logging.DEBUG if quiet else logging.INFO
            logger.log(level, "stopped after %d messages", self.received_total)

    def _prime(self) -> None:
        """Know the watched devices as soon as possible (best effort: with the database away
        they are loaded with the first batch that gets through; meanwhile every message takes
        the normal lane)."""
        try:
            self.normal.store.connect()
        except psycopg.OperationalError:
            logger.info("database unavailable at start; watched devices load later")

    def _close(self) -> None:
        self.normal.store.close()
        self.urgent.store.close()
        if self.fast is not None:
            self.fast.store.close()


def build_worker(
    settings: Settings,
    index: int,
    metrics: IngestMetrics,
    stop: threading.Event,
    mode: SubscriptionMode,
) -> IngestWorker:
    consumer = build_source(settings, index, mode)
    database_url = settings.database_url_for("ingest")  # its role, timeouts and keepalives
    beacon = None
    if mode != "retire":
        beacon = CoverageBeacon(
            database_url,
            consumer.client_id,
            settings.ingest_heartbeat_interval,
            settings.ingest_heartbeat_stale,
            stop,
        )

        def subscribed(up: bool, beacon: CoverageBeacon = beacon) -> None:
            metrics.subscribed.set(1 if up else 0)
            beacon.subscribed(up)

        consumer.on_subscribed = subscribed
    fast_path = None
    if settings.ingest_fast_path and index == 0 and isinstance(consumer, MqttConsumer):
        fast_path = FastPath(
            consumer.target,
            f"{consumer.client_id}-fast",
            lambda: consumer.urgent_topics,
            live=settings.ingest_fast_path_live,
        )
    options = IngestOptions.from_settings(settings)
    return IngestWorker(consumer, database_url, options, metrics, stop, beacon, fast_path)
