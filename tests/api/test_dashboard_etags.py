"""Every read the cockpit polls answers with an ETag and a 304 for ``If-None-Match``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_park

# What the operations-centre cockpit polls (its SSE stream aside), with the queries it sends.
POLLED = [
    "/alarms",
    "/alarms?status=all&severity=critical",
    "/alarms/summary",
    "/map",
    "/map?crs=gcj02",
    "/twin",
    "/latest",
    "/devices",
    "/incidents",
    "/carbon/energy?from=2026-01-01T00:00:00%2B08:00&to=2026-12-01T00:00:00%2B08:00",
    "/carbon/emissions?from=2026-01-01T00:00:00%2B08:00&to=2026-12-01T00:00:00%2B08:00",
    "/carbon/budgets",
    "/economy/overview?month=2026-11",
    "/economy/per-mu?year=2025",
    "/economy/power-index?from=2026-11-01&to=2026-11-30",
    "/energy/load",
    "/energy/load?from=2026-11-19T16:00:00Z&to=2026-11-21T16:00:00Z&bucket=1h",
]


@pytest.fixture(scope="module")
def park_id(client: TestClient, admin: dict[str, str]) -> str:
    return create_park(client, admin).id


@pytest.mark.parametrize("path", POLLED)
def test_polled_reads_answer_304_when_unchanged(
    client: TestClient, viewer: dict[str, str], park_id: str, path: str
) -> None:
    url = f"/api/v1/parks/{park_id}{path}"
    first = client.get(url, headers=viewer)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("private")
    again = client.get(url, headers={**viewer, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b"" and again.headers["etag"] == etag
    other = client.get(url, headers={**viewer, "If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content
