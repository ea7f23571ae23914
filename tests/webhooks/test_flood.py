"""What the alarm policy holds back before the webhook fan-out: notifications of shelved alarms,
and the repeat raises of a chattering device (more raises than the threshold from one device
within the window). The first raise of each distinct alarm, other devices' alarms and latching
(gas, fire) alarms always go out. A real worker process with a flood threshold of 3 raises in a
15-second window, wide enough that a loaded machine inserts the test's raises well
within it (at 2 s, slow inserts spread them past the window now and then)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.ingest_support import wait_until
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
    worker = start_worker(database_url, alarm_flood_threshold="3", alarm_flood_window="PT15S")
    yield worker
    worker.stop()
    assert worker.process.returncode == 0, worker.output()


def _types(receiver: Receiver) -> list[str]:
    return [r.json()["type"] for r in receiver.requests]


def _raised(n: int, latched: bool = False, **extra: object) -> dict[str, object]:
    return {"id": f"alarm-{n}", "latched": latched, "shelved_until": None, **extra}


def _alarm(device: str, metric: str, latched: bool = False) -> dict[str, object]:
    """An alarm document as the evaluator writes it (the fields the policy reads)."""
    return {
        "id": f"{device}-{metric}",
        "device_id": device,
        "metric": metric,
        "type": "threshold",
        "latched": latched,
        "shelved_until": None,
    }


def _data(receiver: Receiver, suffix: str) -> dict[str, object]:
    found: dict[str, object] = next(
        r.json()["data"] for r in receiver.requests if r.json()["type"].endswith(suffix)
    )
    return found


def test_a_chattering_device_has_its_repeats_held_back_and_silences_nobody_else(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    receiver: Receiver,
    worker: Worker,
) -> None:
    db = wh_client.app.state.settings.database_url
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    flapping = _alarm("flappy", "vibration_mm_s")
    sent = [insert_event(db, park_id, "alarm.raised", "minor", flapping) for _ in range(3)]
    held = [insert_event(db, park_id, "alarm.raised", "minor", flapping) for _ in range(3)]
    # Over the threshold, but the first raise of another alarm of the same device goes out,
    # as do other devices' raises and everything that is not a raise.
    other_metric = _alarm("flappy", "temperature_c")
    sent.append(insert_event(db, park_id, "alarm.raised", "minor", other_metric))
    other_device = _alarm("pump-2", "vibration_mm_s")
    sent.append(insert_event(db, park_id, "alarm.raised", "major", other_device))
    sent.append(insert_event(db, park_id, "device.offline", None, {"device_id": "meter-7"}))
    # A latching alarm (gas) of the chattering device itself is never held back.
    gas = _alarm("flappy", "gas_lel_pct", latched=True)
    sent += [insert_event(db, park_id, "alarm.raised", "critical", gas) for _ in range(2)]
    # Both: when the worker starts after the window has passed, the flood starts and ends in
    # one round, and the two are POSTed at once, in either order.
    receiver.wait_for(
        lambda rs: {"alarm.flood_started", "alarm.flood_ended"} <= {r.json()["type"] for r in rs},
        "the flood's start and end",
    )
    ids = receiver.ids()
    assert set(sent) <= set(ids) and not set(held) & set(ids)
    started, ended = _data(receiver, ".flood_started"), _data(receiver, ".flood_ended")
    assert started["device_id"] == ended["device_id"] == "flappy"
    assert ended["held_back"] == 3
    reasons = query(
        db,
        "SELECT id::text, held_back FROM event_outbox WHERE held_back IS NOT NULL AND park_id = %s",
        park_id,
    )
    assert sorted(reasons) == sorted((event_id, "flood") for event_id in held)
    floods = query(db, "SELECT device_id, held_back FROM alarm_flood WHERE park_id = %s", park_id)
    assert floods == [("flappy", 3)]  # pump-2 and meter-7 never flooded


def test_the_summary_counts_what_a_chattering_device_held_back(
    wh_client: TestClient,
    wh_admin: dict[str, str],
    park_id: str,
    receiver: Receiver,
    worker: Worker,
) -> None:
    db = wh_client.app.state.settings.database_url
    create_webhook(wh_client, wh_admin, park_id, receiver.url)
    flapping = _alarm("flappy", "smoke")
    for _ in range(5):
        insert_event(db, park_id, "alarm.raised", "minor", flapping)
    receiver.wait_for(
        lambda rs: "alarm.flood_started" in [r.json()["type"] for r in rs], "the flood's start"
    )
    # The flood starts with the third raise; the fourth and fifth may be decided a round later.
    held = "SELECT held_back FROM alarm_flood WHERE park_id = %s"
    wait_until(lambda: query(db, held, park_id) == [(2,)], 30, "both repeats held back")
    summary = wh_client.get(f"/api/v1/parks/{park_id}/alarms/summary", headers=wh_admin)
    assert summary.status_code == 200, summary.text
    (flood,) = query(db, "SELECT held_back, ended_at FROM alarm_flood WHERE park_id = %s", park_id)
    assert flood[0] == 2
    # Read after the summary: a flood open then is open or ended now, never the reverse.
    shown = summary.json()["flood"]
    if flood[1] is None:
        assert shown == {"active": True, "started_at": shown["started_at"], "held_back": 2}
    assert shown["held_back"] in (0, 2) and shown["active"] == (shown["held_back"] == 2)


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
