"""Delivery end to end: a real ``parktwin worker`` process, a real receiver, events written into
the outbox with plain SQL. Signatures are checked with the ``standardwebhooks`` package.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

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


@pytest.fixture(scope="module", autouse=True)
def worker(database_url: str) -> Iterator[Worker]:
    worker = start_worker(database_url)
    yield worker
    worker.stop()
    assert worker.process.returncode == 0, worker.output()
    assert "worker stopped" in worker.output()


def test_an_event_arrives_signed_as_the_contract_says(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url)
    assert hook["secret"].startswith("whsec_") and set(hook) >= {"id", "url", "event_types"}
    data = {"alarm_id": 7, "device_id": "gas-1", "metric": "gas_lel_pct", "value": 31.5}
    event_id = insert_event(wh_client.app.state.settings.database_url, park_id, data=data)
    receiver.wait_for(lambda rs: len(rs) == 1, "the event never arrived")
    received = receiver.requests[0]
    payload = Webhook(hook["secret"]).verify(received.body, received.headers)
    assert payload["id"] == received.id == event_id
    assert payload["type"] == "alarm.raised" and payload["park_id"] == park_id
    assert payload["data"] == data and payload["created_at"].endswith("Z")
    assert set(payload) == {"id", "type", "created_at", "park_id", "data"}
    assert received.headers["webhook-signature"].startswith("v1,")
    assert received.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(received.body, received.headers)


def test_event_type_and_severity_filters(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    db = wh_client.app.state.settings.database_url
    alarms = create_webhook(
        wh_client,
        wh_admin,
        park_id,
        receiver.url + "?a",
        event_types=["alarm.*"],
        min_severity="major",
    )
    offline = create_webhook(
        wh_client, wh_admin, park_id, receiver.url + "?b", event_types=["device.offline"]
    )
    events = {
        "critical": insert_event(db, park_id, "alarm.raised", "critical"),
        "major": insert_event(db, park_id, "alarm.escalated", "major"),
        "minor": insert_event(db, park_id, "alarm.raised", "minor"),
        "warning": insert_event(db, park_id, "alarm.raised", "warning"),
        "cleared": insert_event(db, park_id, "alarm.cleared", None),
        "offline": insert_event(db, park_id, "device.offline", "minor"),
        "online": insert_event(db, park_id, "device.online", None),
    }
    wait_until(
        lambda: (
            query(
                db,
                "SELECT count(*) FROM event_outbox WHERE park_id = %s AND fanned_out_at IS NULL",
                park_id,
            )[0][0]
            == 0
        ),
        "fan-out",
    )
    want_alarms = {events[k] for k in ("critical", "major", "cleared")}
    want_offline = {events["offline"]}
    assert set(delivery_states(db, alarms["id"])) == want_alarms
    assert set(delivery_states(db, offline["id"])) == want_offline
    receiver.wait_for(lambda rs: len(rs) == 4, "4 deliveries")
    got = {(r.path.rsplit("?", 1)[1], r.id) for r in receiver.requests}
    assert got == {("a", e) for e in want_alarms} | {("b", e) for e in want_offline}
    for r in receiver.requests:
        Webhook((alarms if r.path.endswith("a") else offline)["secret"]).verify(r.body, r.headers)


def test_a_receiver_answering_500_then_200_gets_the_event(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url)
    receiver.responses.append(500)
    event_id = insert_event(wh_client.app.state.settings.database_url, park_id)
    receiver.wait_for(lambda rs: len(rs) == 2, "the retry never came")
    assert receiver.ids() == [event_id, event_id]
    for r in receiver.requests:
        Webhook(hook["secret"]).verify(r.body, r.headers)
    url = f"/api/v1/parks/{park_id}/webhooks/{hook['id']}/deliveries"
    wait_until(
        lambda: (
            [a["outcome"] for a in wh_client.get(url, headers=wh_admin).json()["items"]]
            == ["succeeded", "failed"]
        ),
        "both attempts logged",
    )
    items = wh_client.get(url, headers=wh_admin).json()["items"]
    assert [(a["attempt"], a["status_code"]) for a in items] == [(2, 200), (1, 500)]
    assert {a["event_id"] for a in items} == {event_id}
    assert all(a["event_type"] == "alarm.raised" for a in items)
    assert items[0]["delivery_status"] == "delivered" and items[1]["error"] is None
    assert items[0]["duration_ms"] >= 0 and items[0]["finished_at"] is not None


def test_a_receiver_that_was_down_gets_every_event_when_it_is_back(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str
) -> None:
    db = wh_client.app.state.settings.database_url
    receiver = Receiver().start()
    port = receiver.port
    receiver.stop()  # the port is closed: connections are refused
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url)
    events = {insert_event(db, park_id) for _ in range(5)}

    def failed_twice() -> bool:
        rows = query(
            db,
            "SELECT event_id, count(*) FROM webhook_attempt WHERE webhook_id = %s "
            "AND outcome = 'failed' GROUP BY event_id",
            hook["id"],
        )
        return len(rows) == 5 and all(n >= 2 for _, n in rows)

    wait_until(failed_twice, "two failed attempts per event while the receiver is down")
    errors = query(db, "SELECT error FROM webhook_attempt WHERE webhook_id = %s", hook["id"])
    assert {e for (e,) in errors if e} == {"connect_failed"}  # a class, not the exception text
    back = Receiver(port=port).start()
    try:
        back.wait_for(lambda rs: {r.id for r in rs} >= events, "every event after the outage")
        wait_until(
            lambda: set(delivery_states(db, hook["id"]).values()) == {"delivered"}, "delivered"
        )
        for r in back.requests:
            Webhook(hook["secret"]).verify(r.body, r.headers)
    finally:
        back.stop()


def test_test_ping_and_manual_redelivery_keep_the_webhook_id(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url, event_types=["alarm.raised"])
    base = f"/api/v1/parks/{park_id}/webhooks/{hook['id']}"
    response = wh_client.post(f"{base}/test", headers=wh_admin)
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]
    receiver.wait_for(lambda rs: len(rs) == 1, "the test ping")
    payload = Webhook(hook["secret"]).verify(
        receiver.requests[0].body, receiver.requests[0].headers
    )
    assert payload["type"] == "webhook.test" and payload["id"] == event_id
    db = wh_client.app.state.settings.database_url
    wait_until(lambda: delivery_states(db, hook["id"]) == {event_id: "delivered"}, "delivered")
    again = wh_client.post(f"{base}/events/{event_id}/redeliver", headers=wh_admin)
    assert again.status_code == 202, again.text
    receiver.wait_for(lambda rs: len(rs) == 2, "the redelivery")
    assert receiver.ids() == [event_id, event_id]
    missing = wh_client.post(
        f"{base}/events/00000000-0000-0000-0000-000000000000/redeliver", headers=wh_admin
    )
    assert missing.status_code == 404


def test_secret_rotation_with_and_without_a_grace_period(
    wh_client: TestClient, wh_admin: dict[str, str], park_id: str, receiver: Receiver
) -> None:
    db = wh_client.app.state.settings.database_url
    hook = create_webhook(wh_client, wh_admin, park_id, receiver.url)
    url = f"/api/v1/parks/{park_id}/webhooks/{hook['id']}/secret"
    graced = wh_client.post(url, json={"previous_valid_for_s": 3600}, headers=wh_admin).json()
    assert graced["secret"] != hook["secret"] and graced["previous_secret_expires_at"]
    insert_event(db, park_id)
    receiver.wait_for(lambda rs: len(rs) == 1, "the first event")
    first = receiver.requests[0]
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    Webhook(hook["secret"]).verify(first.body, first.headers)
    Webhook(graced["secret"]).verify(first.body, first.headers)
    now = wh_client.post(url, headers=wh_admin).json()
    assert now["previous_secret_expires_at"] is None
    insert_event(db, park_id)
    receiver.wait_for(lambda rs: len(rs) == 2, "the second event")
    second = receiver.requests[1]
    Webhook(now["secret"]).verify(second.body, second.headers)
    for old in (hook["secret"], graced["secret"]):
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(second.body, second.headers)
