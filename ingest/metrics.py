"""Prometheus metrics of the ingestor. With several workers they live in prometheus_client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) and the supervisor serves the sum."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from ingest.internals import Internals

PROMETHEUS = Internals("ingest/metrics.py", "prometheus-client", ">=0.20")


def check_prometheus(histogram: type = Histogram) -> None:
    """Raise ImportError unless ``histogram.observe`` still works as ``observe_many`` copies:
    through ``_upper_bounds``, ``_buckets`` and ``_sum``, whose values have ``inc``."""
    PROMETHEUS.method(histogram, "observe", "self", "amount")
    PROMETHEUS.uses(histogram, "observe", "_upper_bounds", "_buckets", "_sum", "inc")


check_prometheus()

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class IngestMetrics:
    received: Counter
    urgent: Counter
    stored_messages: Counter
    stored_readings: Counter
    duplicate_readings: Counter
    rejected: Counter
    rejections_suppressed: Counter
    batch_size: Histogram
    flush_seconds: Histogram
    lag_seconds: Histogram
    queue_depth: Gauge
    queue_bytes: Gauge
    subscribed: Gauge
    write_retries: Counter
    fast_path: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> IngestMetrics:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"parktwin_ingest_{name}", doc, labels, registry=registry)

        return cls(
            received=counter(
                "messages_received_total", "MQTT messages taken off the broker (its sessions)"
            ),
            urgent=counter(
                "urgent_messages_total",
                "messages written through the urgent lane (devices an alarm rule watches)",
            ),
            stored_messages=counter("messages_stored_total", "telemetry messages committed"),
            stored_readings=counter("readings_stored_total", "readings inserted"),
            duplicate_readings=counter(
                "readings_duplicate_total", "readings already stored (same device, metric, ts)"
            ),
            rejected=counter(
                "messages_rejected_total",
                "messages rejected, by reason (stored in the rejection log or suppressed)",
                ("reason",),
            ),
            rejections_suppressed=counter(
                "rejections_suppressed_total",
                "rejections over the per-device rate, counted but not stored, by reason",
                ("reason",),
            ),
            batch_size=Histogram(
                "parktwin_ingest_batch_messages",
                "messages per committed batch",
                buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
                registry=registry,
            ),
            flush_seconds=Histogram(
                "parktwin_ingest_flush_seconds",
                "time to write and commit one batch",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                registry=registry,
            ),
            lag_seconds=Histogram(
                "parktwin_ingest_lag_seconds",
                "commit time minus the reading's own ts (publish-to-commit for live devices)",
                buckets=LAG_BUCKETS,
                registry=registry,
            ),
            queue_depth=Gauge(
                "parktwin_ingest_queue_depth",
                "messages waiting between paho and the writer",
                registry=registry,
                multiprocess_mode="livesum",
            ),
            queue_bytes=Gauge(
                "parktwin_ingest_queue_bytes",
                "payload bytes waiting between paho and the writer (PARKTWIN_INGEST_QUEUE_BYTES)",
                registry=registry,
                multiprocess_mode="livesum",
            ),
            subscribed=Gauge(
                "parktwin_ingest_subscribed",
                "workers whose subscription the broker has confirmed (0 while one is cut off)",
                registry=registry,
                multiprocess_mode="livesum",
            ),
            write_retries=counter("write_retries_total", "batch writes retried after a DB error"),
            fast_path=counter(
                "fast_path_messages_total",
                "copies of watched readings the fast path took while behind (those that "
                "could raise an alarm are evaluated; ingest/fastpath.py; not in "
                "messages_received_total)",
            ),
        )


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for every value, with one update per bucket touched instead of
    two per value: in multiprocess mode each update is a locked write to a memory-mapped file,
    and the ingestor observes the lag of every message it stores. Uses the histogram's
    internals (``_upper_bounds``, ``_buckets``, ``_sum``; prometheus_client has no public way to
    observe many values), checked at import by ``check_prometheus`` and compared with
    ``observe`` by tests/test_ingest_metrics.py."""
    if not values:
        return
    bounds = histogram._upper_bounds
    for index, count in Tally(bisect_left(bounds, v) for v in values).items():
        histogram._buckets[index].inc(count)
    histogram._sum.inc(sum(values))
