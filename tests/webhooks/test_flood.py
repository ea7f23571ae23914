"""What the fan-out holds back: notifications of shelved alarms, and during an alarm flood the
raises of alarms that do not latch. Gas and fire alarms latch and always go out. A real worker
process with a flood threshold of 3 raises in a 2-second window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.webhooks.conftest import (
    Receiver,
    Worker,
    create_webhook,
    insert_event,
    query,
    start_worker,
)


@pytest.fixture(scope="module")
def worker(database_url: str) -> Iterator[Worker]:
    worker = start_worker(database_url, alarm_flood_threshold="3", alarm_flood_window="PT2S")
    yield worker
    worker.stop()
    assert worker.process.returncode == 0, worker.output()


def _types(receiver: Receiver) -> list[str]:
    return [r.json()["type"] for r in receiver.requests]


def _raised(n: int, latched: bool = False, **extra: object) -> dict[str, object]:
    return {"id": f"alarm-{n}", "latched": latched, "shelved_until": None, **extra}


def test_a_flood_holds_back_raises_of_non_latching_alarms_only(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    receiver: Receiver,
    worker: Worker,
) -> None:
    db = wh_client.app.state.settings.database_url
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    for n in range(3):  # three raises: not yet a flood
        insert_event(db, park_id, "alarm.raised", "minor", _raised(n))
    insert_event(db, park_id, "alarm.raised", "critical", _raised(3, latched=True))  # gas
    held = [insert_event(db, park_id, "alarm.raised", "minor", _raised(n)) for n in (4, 5)]
    insert_event(db, park_id, "device.offline", None, {"device_id": "d1"})  # not a raise
    receiver.wait_for(lambda rs: len(rs) >= 6, "the events that are not held back")
    receiver.wait_for(
        lambda rs: "alarm.flood_ended" in [r.json()["type"] for r in rs], "the flood's end"
    )
    types = _types(receiver)
    assert types.count("alarm.raised") == 4  # three before the flood and the gas alarm
    assert {"device.offline", "alarm.flood_started", "alarm.flood_ended"} <= set(types)
    assert len(types) == 7
    ids = {r.id for r in receiver.requests}
    assert not ids & set(held)
    reasons = query(
        db,
        "SELECT id::text, held_back FROM event_outbox WHERE held_back IS NOT NULL AND park_id = %s",
        park_id,
    )
    assert sorted(reasons) == sorted((event_id, "flood") for event_id in held)
    ended = next(r.json()["data"] for r in receiver.requests if r.json()["type"].endswith("ended"))
    assert (ended["held_back"], ended["raised"]) == (2, 3)  # raised since the 4th raise
    (flood,) = query(db, "SELECT held_back, ended_at FROM alarm_flood WHERE park_id = %s", park_id)
    assert flood[0] == 2 and flood[1] is not None


def test_a_shelved_alarm_is_silent_except_an_escalation_to_critical(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    receiver: Receiver,
    worker: Worker,
) -> None:
    db = wh_client.app.state.settings.database_url
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    shelved = _raised(1, shelved_until=until)
    quiet = [
        insert_event(db, park_id, "alarm.raised", "minor", shelved),
        insert_event(db, park_id, "alarm.escalated", "major", shelved),
        insert_event(db, park_id, "alarm.cleared", "major", shelved),
    ]
    loud = [
        insert_event(db, park_id, "alarm.escalated", "critical", shelved),
        insert_event(db, park_id, "alarm.unshelved", "major", _raised(1)),
    ]
    receiver.wait_for(lambda rs: len(rs) >= 2, "the escalation and the unshelving")
    rows = query(db, "SELECT id::text, held_back FROM event_outbox WHERE park_id = %s", park_id)
    held = dict(rows)
    assert [held[event_id] for event_id in quiet] == ["shelved"] * 3
    assert [held[event_id] for event_id in loud] == [None, None]
    assert sorted(receiver.ids()) == sorted(loud)
