"""Which routes read from the replica (``ReadSessionDep``, PARKTWIN_DATABASE_READ_URL), and the
URL forms that find a Patroni cluster's primary. The rule (docs/scale-out.md): measurements and
what is computed from them read from the replica; the records people edit, anything that writes
and anything read right after the caller's own write stay on the primary. The list below is the
rule's outcome, so that moving a route is a decision made here, not by accident. That the routes
really reach a standby is tests_cluster/test_read_routing.py; that none of them writes, every
test of them (the read pool is READ ONLY on the primary too)."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from app.core.config import Settings
from app.core.db import engine_url, get_read_session
from tests.routes import app_routes

PARK = "/api/v1/parks/{park_id}"
ENTERPRISE = PARK + "/enterprises/{enterprise_id}"

REPLICA_ROUTES = {
    ("GET", f"{PARK}/devices/{{device_id}}/latest"),
    ("GET", f"{PARK}/latest"),
    ("POST", f"{PARK}/latest/query"),  # a read with its device list in a body
    ("GET", f"{PARK}/energy/load"),
    ("GET", f"{PARK}/energy/now"),
    ("GET", f"{PARK}/devices/{{device_id}}/series/{{metric}}"),
    ("GET", "/api/v1/ingest/rejections"),
    ("GET", f"{PARK}/twin"),
    ("GET", f"{PARK}/map"),
    ("GET", f"{PARK}/buildings/{{building_id}}/twin"),
    ("GET", f"{PARK}/spatial/containing"),
    ("GET", f"{PARK}/spatial/nearby"),
    ("GET", f"{PARK}/carbon/energy"),
    ("GET", f"{PARK}/carbon/emissions"),
    ("GET", f"{PARK}/carbon/green-power/matching"),
    ("GET", f"{PARK}/carbon/report"),
    ("GET", f"{PARK}/economy/scale/{{enterprise_id}}"),
    ("GET", f"{PARK}/economy/overview"),
    ("GET", f"{PARK}/economy/power-index"),
    ("GET", f"{PARK}/economy/anomalies"),
    ("GET", f"{PARK}/economy/per-mu"),
    ("GET", f"{PARK}/export/readings"),
    ("GET", f"{PARK}/export/rollups"),
    ("GET", f"{ENTERPRISE}/devices/{{device_id}}/latest"),
    ("GET", f"{ENTERPRISE}/latest"),
    ("GET", f"{ENTERPRISE}/devices/{{device_id}}/series/{{metric}}"),
    ("GET", f"{ENTERPRISE}/energy"),
    ("GET", f"{ENTERPRISE}/carbon"),
    ("GET", f"{ENTERPRISE}/per-mu"),
}


def _reads_replica(dependant: Dependant) -> bool:
    return any(d.call is get_read_session or _reads_replica(d) for d in dependant.dependencies)


def test_the_replica_routes_are_the_documented_ones() -> None:
    found = {
        (method, path) for method, path, dependant in app_routes() if _reads_replica(dependant)
    }
    assert found == REPLICA_ROUTES


def test_a_multi_host_url_becomes_one_host_parameter_per_node() -> None:
    url = engine_url(
        "postgresql://app:p%40ss@10.0.0.1:5432,10.0.0.2:5433/parktwin"
        "?target_session_attrs=read-write&keepalives=1"
    )
    args = PGDialect_psycopg().create_connect_args(url)[1]
    assert args["host"] == "10.0.0.1,10.0.0.2" and args["port"] == "5432,5433"
    assert args["password"] == "p@ss" and args["target_session_attrs"] == "read-write"
    assert args["dbname"] == "parktwin" and args["keepalives"] == "1"


def test_a_single_host_url_is_unchanged() -> None:
    url = engine_url("postgresql://app:pw@db:5432/parktwin")
    assert (url.host, url.port, url.database) == ("db", 5432, "parktwin")


def test_the_read_url_gets_the_api_limits_and_defaults_to_the_primary() -> None:
    primary = "postgresql://app:pw@db1:5432/parktwin"
    assert Settings(database_url=primary).api_read_url() == Settings(
        database_url=primary
    ).database_url_for("api")
    replica = "postgresql://app:pw@db2:5432/parktwin"
    read = Settings(database_url=primary, database_read_url=replica).api_read_url()
    assert read.startswith(replica) and "statement_timeout" in read
