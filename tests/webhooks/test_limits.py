"""Limits on what one park's admin can make the worker do: allowed ports at subscription time,
test pings per park per minute, webhooks per park; and a deactivated webhook's pending
deliveries are cancelled, so their events can be purged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine_for
from app.main import create_app
from app.webhooks import queue
from tests.api.conftest import create_park
from tests.webhooks.conftest import create_webhook, query

HOOK = "http://127.0.0.1:9/hook"  # the discard port: nothing is delivered in this module


@pytest.fixture(scope="module")
def tight(wh_settings: Settings) -> Iterator[TestClient]:
    limits = {
        "webhook_test_limit": 2,
        "webhook_max_per_park": 2,
        "webhook_allowed_ports": "80,443,8080,8443,9",
    }
    with TestClient(create_app(wh_settings.model_copy(update=limits))) as client:
        yield client


def test_a_port_outside_the_allowed_ports_is_refused_at_subscription(
    tight: TestClient, wh_admin: dict[str, str]
) -> None:
    park = create_park(tight, wh_admin).id
    body = {"url": "https://8.8.8.8:6379/hook", "event_types": ["*"]}
    response = tight.post(f"/api/v1/parks/{park}/webhooks", json=body, headers=wh_admin)
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "refused_port"
    assert "port 6379 is not allowed" in response.json()["detail"]


def test_test_pings_are_rate_limited_per_park(tight: TestClient, wh_admin: dict[str, str]) -> None:
    park = create_park(tight, wh_admin).id
    first = create_webhook(tight, wh_admin, park, HOOK)
    second = create_webhook(tight, wh_admin, park, HOOK)
    ping = f"/api/v1/parks/{park}/webhooks/{{}}/test"
    answers = [tight.post(ping.format(h["id"]), headers=wh_admin) for h in (first, second, first)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].headers["content-type"] == "application/problem+json"
    assert answers[2].json()["retry_after_s"] == 60
    other = create_park(tight, wh_admin).id  # another park has its own budget
    third = create_webhook(tight, wh_admin, other, HOOK)
    assert (
        tight.post(ping.format(third["id"]).replace(park, other), headers=wh_admin).status_code
        == 202
    )


def test_a_park_has_a_limited_number_of_webhooks(
    tight: TestClient, wh_admin: dict[str, str]
) -> None:
    park = create_park(tight, wh_admin).id
    create_webhook(tight, wh_admin, park, HOOK)
    create_webhook(tight, wh_admin, park, HOOK)
    body = {"url": HOOK, "event_types": ["*"]}
    refused = tight.post(f"/api/v1/parks/{park}/webhooks", json=body, headers=wh_admin)
    assert refused.status_code == 422
    assert "PARKTWIN_WEBHOOK_MAX_PER_PARK" in refused.json()["detail"]


def _purge(database_url: str) -> None:
    async def run() -> None:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                await queue.purge(session, timedelta(days=3650))  # cancels, deletes nothing here
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_deactivating_a_webhook_cancels_its_pending_deliveries(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, database_url: str
) -> None:
    patched = create_webhook(wh_client, wh_admin, park_id, HOOK)
    legacy = create_webhook(wh_client, wh_admin, park_id, HOOK)
    base = f"/api/v1/parks/{park_id}/webhooks"
    for hook in (patched, legacy):
        assert wh_client.post(f"{base}/{hook['id']}/test", headers=wh_admin).status_code == 202
    off = wh_client.patch(f"{base}/{patched['id']}", json={"active": False}, headers=wh_admin)
    assert off.status_code == 200
    # A webhook deactivated before this rule (or behind the API's back): the purge job cancels.
    query(database_url, "UPDATE webhook SET active = false WHERE id = %s RETURNING 1", legacy["id"])
    _purge(database_url)
    sql = "SELECT status FROM webhook_delivery WHERE webhook_id = %s"
    assert query(database_url, sql, patched["id"]) == [("cancelled",)]
    assert query(database_url, sql, legacy["id"]) == [("cancelled",)]
