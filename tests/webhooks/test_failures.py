"""Failures: ``parktwin worker`` killed with SIGKILL mid-delivery, and dead letters.

Each test runs its own worker process (no other worker shares the database meanwhile).
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from tests.webhooks.conftest import (
    Receiver,
    create_webhook,
    delivery_states,
    insert_event,
    query,
    start_worker,
    wait_until,
)


def test_sigkill_mid_delivery_loses_nothing_and_keeps_the_webhook_id(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    db = wh_client.app.state.settings.database_url
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url)
    slow = insert_event(db, park_id, data={"n": 0})
    receiver.hold.add(slow)  # the receiver sits on this one until released
    others = {insert_event(db, park_id, data={"n": i}) for i in (1, 2)}
    # A lease of 8 s: after the kill, the next worker sends the held event again then.
    first = start_worker(db, webhook_timeout="PT3S", webhook_lease="PT8S")
    try:
        receiver.wait_for(lambda rs: slow in {r.id for r in rs}, "the slow delivery started")
    finally:
        first.kill()
    receiver.release.set()  # its answer now goes to a dead socket
    in_flight = query(
        db,
        "SELECT outcome FROM webhook_attempt WHERE webhook_id = %s AND event_id = %s",
        hook["id"],
        slow,
    )
    assert in_flight == [("in_flight",)]
    second = start_worker(db, webhook_timeout="PT3S", webhook_lease="PT8S")
    try:
        receiver.wait_for(lambda rs: [r.id for r in rs].count(slow) == 2, "the redelivery")
        wait_until(
            lambda: delivery_states(db, hook["id"]).get(slow) == "delivered", "slow delivered"
        )
    finally:
        second.stop()
    assert second.process.returncode == 0, second.output()
    assert {r.id for r in receiver.requests} == others | {slow}
    for r in receiver.requests:
        Webhook(hook["secret"]).verify(r.body, r.headers)
    attempts = query(
        db,
        "SELECT attempt, outcome, status_code FROM webhook_attempt "
        "WHERE webhook_id = %s AND event_id = %s ORDER BY attempt",
        hook["id"],
        slow,
    )
    assert attempts == [(1, "abandoned", None), (2, "succeeded", 200)]


def test_dead_letters_and_redelivering_them(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    db = wh_client.app.state.settings.database_url
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url)
    base = f"/api/v1/parks/{park_id}/webhooks/{hook['id']}"
    receiver.responses.extend([503] * 6)  # two events x three attempts each
    events = {insert_event(db, park_id) for _ in range(2)}
    worker = start_worker(db, webhook_retry_schedule="[0.1, 0.1]")
    try:
        wait_until(lambda: delivery_states(db, hook["id"]) == dict.fromkeys(events, "dead"), "dead")
        dead = wh_client.get(
            f"{base}/deliveries", params={"delivery_status": "dead"}, headers=wh_admin
        ).json()["items"]
        assert len(dead) == 6 and {a["status_code"] for a in dead} == {503}
        assert {a["attempt"] for a in dead} == {1, 2, 3}
        assert all(a["next_attempt_at"] is None for a in dead)
        requeued = wh_client.post(f"{base}/redeliver", headers=wh_admin)
        assert requeued.json() == {"requeued": 2}
        wait_until(
            lambda: delivery_states(db, hook["id"]) == dict.fromkeys(events, "delivered"),
            "delivered after the redelivery",
        )
    finally:
        worker.stop()
    assert worker.process.returncode == 0, worker.output()
    assert [r.id for r in receiver.requests].count(next(iter(events))) == 4
    log = wh_client.get(f"{base}/deliveries", params={"limit": 2}, headers=wh_admin).json()
    assert [a["outcome"] for a in log["items"]] == ["succeeded", "succeeded"]
    assert log["next_cursor"] is not None


def test_a_notify_wakes_an_idle_worker(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    """With a 10-minute idle interval, only the NOTIFY from the outbox trigger can wake the
    worker in time for the event to arrive."""
    db = wh_client.app.state.settings.database_url
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    worker = start_worker(db, worker_interval="PT600S")
    try:
        warm_up = insert_event(db, park_id)
        receiver.wait_for(lambda rs: warm_up in {r.id for r in rs}, "the first event")
        wait_until(
            lambda: (
                query(db, "SELECT status FROM webhook_delivery WHERE event_id = %s", warm_up)
                == [("delivered",)]
            ),
            "the first delivery recorded",
        )
        woken = insert_event(db, park_id, "device.offline", "minor")
        receiver.wait_for(lambda rs: woken in {r.id for r in rs}, "the event after the NOTIFY")
    finally:
        worker.stop()
    assert worker.process.returncode == 0, worker.output()
