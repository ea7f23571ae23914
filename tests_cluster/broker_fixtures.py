"""Fixtures of the broker-cluster tests (imported by their modules, not a conftest, so other
multi-node suites in tests_cluster/ keep their own): a 3-node RabbitMQ cluster on this machine,
real PostgreSQL + TimescaleDB (the tests' embedded services), ``parktwin ingest`` processes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.embedded.rabbitmq import RabbitCluster
from tests.conftest import ServiceEnv, database_url, services
from tests.ingest_support import ROOT
from tests_cluster.broker_support import Cluster, free_base_port

__all__ = ["cluster", "database_url", "mqtt_url", "services"]


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="cluster-broker-tests-"))
    nodes = RabbitCluster(root, 3, base_port=free_base_port(), prefix="ptcb")
    started = None
    try:
        started = Cluster.start(nodes)
        yield started
    finally:
        if started is not None:
            started.admin.close()
        nodes.down()
        keep = ROOT / ".pytest_cache" / "cluster-broker-logs"  # for a failure's post-mortem
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(root, keep, ignore=shutil.ignore_patterns("mnesia", "*.cookie"))
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mqtt_url(services: ServiceEnv) -> str:
    return services.mqtt_url
