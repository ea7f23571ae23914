"""``parktwin ingest [--workers N]``: N worker processes on one shared subscription.

With one worker everything runs in this process. With more, this process supervises: it starts
the workers (spawned, each with a stable MQTT client id ``{PARKTWIN_INGEST_CLIENT_ID}-{i}``),
restarts one that dies, serves their summed Prometheus metrics, and on SIGTERM/SIGINT stops
them all. Workers die with the supervisor (PR_SET_PDEATHSIG), so a killed supervisor leaves no
orphan consuming messages.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from app.core.config import Settings
from app.core.logging import configure_logging
from ingest.metrics import IngestMetrics
from ingest.pipeline import build_worker
from ingest.retire import retire_stale_sessions

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


class WorkersCollector(multiprocess.MultiProcessCollector):
    """The workers' summed metrics. A worker that is just starting has created its metrics
    file but not yet sized it, and prometheus_client's collector then fails the whole scrape
    (``struct.error``): such a file is left out of that one scrape instead."""

    def __init__(self, registry: CollectorRegistry, path: str) -> None:
        super().__init__(registry, path)  # type: ignore[no-untyped-call]
        self.directory = path

    def collect(self) -> Any:
        files = [str(f) for f in Path(self.directory).glob("*.db") if _sized(f)]
        return self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]


def _sized(path: Path) -> bool:
    try:
        return path.stat().st_size >= 8  # the used-bytes header and a first entry's length
    except FileNotFoundError:  # a dead worker's live gauge, removed meanwhile
        return False


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _serve_metrics(settings: Settings, registry: CollectorRegistry | None = None) -> None:
    if settings.ingest_metrics_port:
        start_http_server(
            settings.ingest_metrics_port,
            settings.ingest_metrics_host,
            registry=registry if registry is not None else REGISTRY,
        )
        logger.info(
            "metrics on http://%s:%d/metrics",
            settings.ingest_metrics_host,
            settings.ingest_metrics_port,
        )


def run_single(settings: Settings, index: int = 0, shared: bool = False) -> None:
    stop = threading.Event()
    _stop_on_signals(stop)
    metrics = IngestMetrics.create()
    if not shared:
        _serve_metrics(settings)
        if settings.ingest_source == "mqtt":  # a queue has no sessions to retire
            retire_stale_sessions(settings, 1, metrics)
    build_worker(settings, index, metrics, stop, "shared" if shared else "plain").run()


def _child(settings: Settings, index: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    configure_logging(settings.log_level, settings.log_format)
    run_single(settings, index, shared=True)


def _retire_child(settings: Settings, first_unused: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    configure_logging(settings.log_level, settings.log_format)
    retire_stale_sessions(settings, first_unused, IngestMetrics.create())


METRICS_PREFIX = "parktwin-ingest-metrics-"


def sweep_metrics_dirs(folder: Path) -> list[Path]:
    """Remove the metrics directories that supervisors killed with SIGKILL (or by the OOM
    killer) left in ``folder``: each is named after its supervisor's pid, and is removed when
    no process has that pid any more and it belongs to this user. Returns what was removed."""
    removed = []
    for path in folder.glob(f"{METRICS_PREFIX}*-*"):
        pid = path.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or not path.is_dir() or path.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # its supervisor (or a process that took its pid) is alive: keep it
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, another user's
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def run_ingest(settings: Settings, workers: int) -> None:
    if workers <= 1:
        run_single(settings)
        return
    for left in sweep_metrics_dirs(Path(tempfile.gettempdir())):
        logger.info("removed %s, left by a supervisor that was killed", left)
    metrics_dir = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
    try:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        registry = CollectorRegistry()
        WorkersCollector(registry, metrics_dir)
        _serve_metrics(settings, registry)
        stop = threading.Event()
        _stop_on_signals(stop)
        context = multiprocessing.get_context("spawn")

        def start(index: int) -> BaseProcess:
            process = context.Process(target=_child, args=(settings, index), name=f"ingest-{index}")
            process.start()
            return process

        processes = {i: start(i) for i in range(workers)}
        retirer = context.Process(
            target=_retire_child, args=(settings, workers), name="ingest-retire"
        )
        if settings.ingest_source == "mqtt":  # a queue has no sessions to retire
            retirer.start()
        while not stop.wait(0.5):
            for index, process in processes.items():
                if not process.is_alive():
                    logger.error("worker %d exited with %s; restarting", index, process.exitcode)
                    if process.pid is not None:
                        multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
                    processes[index] = start(index)
        everyone = [*processes.values(), *([retirer] if retirer.pid is not None else [])]
        for process in everyone:
            process.terminate()
        for process in everyone:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    finally:  # the workers' metric files: a stopped supervisor leaves nothing in the temp dir
        shutil.rmtree(metrics_dir, ignore_errors=True)
