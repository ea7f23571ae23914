"""Prometheus metrics of ``parktwin worker``, served on
``PARKTWIN_WORKER_METRICS_HOST:PARKTWIN_WORKER_METRICS_PORT`` (127.0.0.1:9465; 0 disables) with
prometheus_client's ``start_http_server``, as the ingestor serves its own.

Per job (label ``job``, one of the names in ``app/worker/jobs.py``): runs, failures, duration,
the time of the last success, and for jobs that can tell it cheaply their backlog. Plus
``parktwin_worker_up``: 1 once the jobs have started and the loop runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector

from app.core.config import Settings

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class WorkerMetrics:
    registry: CollectorRegistry
    runs: Counter
    failures: Counter
    duration: Histogram
    last_success: Gauge
    backlog: Gauge
    up: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> WorkerMetrics:
        """The worker's metrics on ``registry`` (a new one by default: one per loop)."""
        registry = registry if registry is not None else CollectorRegistry()

        def name(suffix: str) -> str:
            return f"parktwin_worker_{suffix}"

        return cls(
            registry=registry,
            runs=Counter(name("job_runs"), "job runs", ["job"], registry=registry),
            failures=Counter(
                name("job_failures"),
                "job runs that raised (rolled back)",
                ["job"],
                registry=registry,
            ),
            duration=Histogram(
                name("job_duration_seconds"),
                "time of one job run, its transaction included",
                ["job"],
                registry=registry,
                buckets=DURATION_BUCKETS,
            ),
            last_success=Gauge(
                name("job_last_success_timestamp_seconds"),
                "Unix time of the job's last run that committed",
                ["job"],
                registry=registry,
            ),
            backlog=Gauge(
                name("job_backlog"),
                "work waiting for the job (webhooks: deliveries due now; rollup: hours due now)",
                ["job"],
                registry=registry,
            ),
            up=Gauge(name("up"), "1 while the worker's loop runs", registry=registry),
        )

    def declare(self, jobs: Sequence[str]) -> None:
        """Create every job's series at zero, so a rate over them exists from the start."""
        for job in jobs:
            self.runs.labels(job)
            self.failures.labels(job)
            self.duration.labels(job)


def serve(settings: Settings, metrics: WorkerMetrics) -> None:
    """Serve ``metrics`` (and the process's CPU and memory) over HTTP, unless the port is 0.

    A port already taken is logged as an error and the worker runs on without the endpoint:
    the worker delivers the safety webhooks, and a scrape that fails is an alert of its own.
    """
    ProcessCollector(registry=metrics.registry)
    if not settings.worker_metrics_port:
        return
    host, port = settings.worker_metrics_host, settings.worker_metrics_port
    try:
        start_http_server(port, host, registry=metrics.registry)
    except OSError as exc:
        logger.error("metrics endpoint %s:%d not served: %s", host, port, exc)
        return
    logger.info("metrics on http://%s:%d/metrics", host, port)
