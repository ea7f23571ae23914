"""One park's slow or failing receivers cannot hold up another park's deliveries, a failing
endpoint's circuit opens and half-opens, and a critical alarm goes before a backlog of routine
events. Real ``parktwin worker`` processes and real receivers; waits are on conditions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_park
from tests.webhooks.conftest import (
    Receiver,
    Worker,
    create_webhook,
    delivery_states,
    insert_event,
    query,
    start_worker,
    wait_until,
)


def _stop(worker: Worker) -> None:
    worker.stop()
    assert worker.process.returncode == 0, worker.output()


@pytest.fixture
def tarpit() -> Iterator[Receiver]:
    """A receiver that holds every request (past the worker's timeout) until released."""
    receiver = Receiver(tarpit=True).start()
    yield receiver
    receiver.release.set()
    receiver.stop()


def test_a_park_of_tarpits_does_not_delay_another_parks_deliveries(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    database_url: str,
    tarpit: Receiver,
    receiver: Receiver,
) -> None:
    park_a, park_b = create_park(wh_client, wh_admin).id, create_park(wh_client, wh_admin).id
    hooks_a = [create_webhook(wh_client, wh_admin, park_a, f"{tarpit.url}/{n}") for n in range(10)]
    create_webhook(wh_client, wh_admin, park_b, receiver.url)
    # 12 slots per worker, 1 per webhook: a global FIFO would give all 12 to park A's backlog.
    worker = start_worker(
        database_url, webhook_batch="12", webhook_concurrency="1", webhook_timeout="PT40S"
    )
    try:
        for n in range(3):
            insert_event(database_url, park_a, "alarm.raised", "minor", {"n": n})
        tarpit.wait_for(lambda rs: len(rs) == 10, "one hanging request per tarpit webhook")
        event_b = insert_event(database_url, park_b, "alarm.raised", "critical", {"gas": True})
        receiver.wait_for(lambda rs: event_b in [r.id for r in rs], "park B's event")
        assert not tarpit.release.is_set()  # park A's requests are all still hanging
        in_flight = query(
            database_url,
            "SELECT count(*) FROM webhook_attempt WHERE outcome = 'in_flight' "
            "AND webhook_id = ANY (%s::uuid[])",
            [h["id"] for h in hooks_a],
        )
        assert in_flight == [(10,)]
        assert len(tarpit.requests) == 10  # the per-webhook cap: no second request per webhook
    finally:
        tarpit.release.set()
        _stop(worker)


def _attempts(database_url: str, webhook_id: str) -> list[tuple[Any, ...]]:
    return query(
        database_url,
        "SELECT outcome, status_code, started_at, finished_at FROM webhook_attempt "
        "WHERE webhook_id = %s ORDER BY started_at, id",
        webhook_id,
    )


def test_the_circuit_opens_after_n_failures_and_half_opens_with_one_probe(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    database_url: str,
    receiver: Receiver,
) -> None:
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url)
    receiver.responses.extend([500, 500, 500, 500])  # three to open, then a failed probe
    worker = start_worker(
        database_url,
        webhook_breaker_threshold="3",
        webhook_breaker_cooldown="PT2S",
        webhook_concurrency="1",
    )
    try:
        events = {insert_event(database_url, park_id, "device.offline", None) for _ in range(4)}

        def circuit() -> tuple[str, int]:
            url = f"/api/v1/parks/{park_id}/webhooks/{hook['id']}"
            got = wh_client.get(url, headers=wh_admin).json()
            return got["circuit"], got["consecutive_failures"]

        wait_until(lambda: circuit()[0] == "open", "an open circuit")
        assert circuit()[1] >= 3
        wait_until(
            lambda: set(delivery_states(database_url, hook["id"]).values()) == {"delivered"},
            "every event delivered once the circuit closed",
        )
        assert circuit() == ("closed", 0)
        assert {r.id for r in receiver.requests} == events
    finally:
        _stop(worker)
    attempts = _attempts(database_url, hook["id"])
    outcomes = [(outcome, status) for outcome, status, _s, _f in attempts]
    assert outcomes[:5] == [("failed", 500)] * 4 + [("succeeded", 200)]
    cooldown = 2.0
    third, probe, second_probe = attempts[2], attempts[3], attempts[4]
    # Open: nothing is attempted for the cool-down after the third failure, nor after the
    # failed probe; half-open: the probe is alone, the next attempt starts after its answer.
    assert (probe[2] - third[3]).total_seconds() >= cooldown
    assert (second_probe[2] - probe[3]).total_seconds() >= cooldown
    assert all(later[2] >= second_probe[3] for later in attempts[5:])


def test_a_critical_alarm_goes_before_a_backlog_of_routine_events(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    database_url: str,
    receiver: Receiver,
) -> None:
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    worker = start_worker(database_url, webhook_concurrency="1", webhook_timeout="PT40S")
    try:
        first = insert_event(database_url, park_id, "device.offline", None)
        receiver.hold.add(first)
        receiver.wait_for(lambda rs: first in [r.id for r in rs], "the first event, held")
        backlog = [
            insert_event(database_url, park_id, "alarm.raised", "minor", {"device_id": f"d{n}"})
            for n in range(20)
        ]
        gas = {"device_id": "gas-1", "latched": True}
        critical = insert_event(database_url, park_id, "alarm.raised", "critical", gas)
        wait_until(
            lambda: (
                query(
                    database_url,
                    "SELECT count(*) FROM event_outbox "
                    "WHERE park_id = %s AND fanned_out_at IS NULL",
                    park_id,
                )
                == [(0,)]
            ),
            "the backlog and the critical alarm queued",
        )
        receiver.release.set()
        receiver.wait_for(lambda rs: len(rs) >= 22, "every event")
        assert receiver.ids()[:2] == [first, critical]
        assert receiver.ids()[2:] == backlog  # the routine ones in their order
    finally:
        _stop(worker)
