"""Schemathesis over the OpenAPI schema: no generated request makes the API answer 5xx.

Cases come from each operation's schema (positive and negative data); half of them are
pointed at a real park and device holding telemetry, so the deep paths (series buckets,
rollups, bulk latest) see random query strings too. Requests go through the session's
TestClient with an admin key. Bounded: a few dozen examples per operation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import create_device, create_park, series_id, write_readings

# The schema straight from the app object: no lifespan, so no database is needed to collect.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
# The event stream never ends by itself (tests/events covers it, its input checks included).
STREAMS = {"GET /api/v1/parks/{park_id}/events"}
OPERATIONS = {
    op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations()) if op.label not in STREAMS
}
EXAMPLES = 40
DESTRUCTIVE = ("DELETE", "PATCH", "POST")


@pytest.fixture(scope="module")
def target(client: TestClient, admin: dict[str, str], database_url: str) -> dict[str, str]:
    park = create_park(client, admin)
    device = create_device(client, admin, park.id)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    for metric in ("energy_kwh", "power_kw"):
        sid = series_id(database_url, park.id, str(device["id"]), metric)
        write_readings(
            database_url,
            sid,
            [(start + timedelta(minutes=7 * i), float(i % 97)) for i in range(400)],
        )
    return {"park_id": park.id, "device_id": str(device["id"])}


def _request(
    case: Any, aim: bool, target: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    if aim and case.path_parameters:
        keep = ("park_id",) if case.method.upper() in DESTRUCTIVE else ("park_id", "device_id")
        for name in keep:
            if name in case.path_parameters:
                case.path_parameters[name] = target[name]
        if "metric" in case.path_parameters:
            case.path_parameters["metric"] = "energy_kwh"
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url="http://testserver")
    kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
    kwargs.pop("cookies", None)
    if "data" in kwargs:
        kwargs["content"] = kwargs.pop("data")
    return kwargs


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_server_errors(
    client: TestClient, admin: dict[str, str], target: dict[str, str], label: str
) -> None:
    operation = OPERATIONS[label]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), aim=st.booleans())
    def check(case: Any, aim: bool) -> None:
        kwargs = _request(case, aim, target, admin)
        response = client.request(**kwargs)
        assert response.status_code < 500, (kwargs, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", response.text

    check()
