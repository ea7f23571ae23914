"""``GET /api/v1/parks/{park_id}/events`` against a real uvicorn: resume without loss, the wire
format, auth and park scoping, heartbeats, the per-key cap and the access-token redaction."""

from __future__ import annotations

import io
import logging
import time
import uuid

import httpx
import pytest

from app.core.logging import build_handler
from tests.api.conftest import auth, make_key
from tests.events.conftest import Reader, emit, open_stream

RAISED = {"alarm_id": 1, "device_id": "gas-1", "metric": "gas_lel_pct", "severity": "critical"}


@pytest.fixture
def park_id(http: httpx.Client, database_url: str) -> str:
    park = f"ev-{uuid.uuid4().hex[:8]}"
    admin = auth(make_key(database_url, "admin"))
    response = http.post("/api/v1/parks", json={"id": park, "name": "事件园区"}, headers=admin)
    assert response.status_code == 201, response.text
    return park


@pytest.fixture
def viewer(database_url: str) -> dict[str, str]:
    return auth(make_key(database_url, "viewer"))


def test_a_dropped_stream_resumes_with_exactly_the_missed_events(
    http: httpx.Client, database_url: str, park_id: str, viewer: dict[str, str]
) -> None:
    with open_stream(http, park_id, viewer) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = Reader(response)
        opening = reader.next()
        assert opening.retry == 2000 and opening.data == [] and opening.id is not None
        first = emit(database_url, park_id, "alarm.raised", RAISED)
        second = emit(database_url, park_id, "alarm.acknowledged", {"alarm_id": 1})
        seen = [reader.next_event(), reader.next_event()]
    assert [m.body["id"] for m in seen] == [first, second]
    assert [m.event for m in seen] == ["alarm.raised", "alarm.acknowledged"]
    assert int(opening.id) < int(seen[0].id or 0) < int(seen[1].id or 0)
    body = seen[0].body
    assert set(body) == {"id", "type", "created_at", "park_id", "data"}
    assert (body["type"], body["park_id"], body["data"]) == ("alarm.raised", park_id, RAISED)
    assert body["created_at"].endswith("Z")

    # Dropped. Meanwhile: three events of this park, one of another park.
    other = f"other-{uuid.uuid4().hex[:6]}"
    admin = auth(make_key(database_url, "admin"))
    assert http.post("/api/v1/parks", json={"id": other, "name": "x"}, headers=admin).is_success
    missed = [
        emit(database_url, park_id, "alarm.cleared", {"alarm_id": 1}),
        emit(database_url, other, "alarm.raised", RAISED),
        emit(database_url, park_id, "device.offline", {"device_id": "gas-1"}),
        emit(database_url, park_id, "incident.opened", {"incident_id": 7}),
    ]
    with open_stream(http, park_id, {**viewer, "Last-Event-ID": seen[1].id or ""}) as response:
        reader = Reader(response)
        assert reader.next().data == []  # the opening: retry and position only
        resumed = [reader.next_event() for _ in range(3)]
        marker = emit(database_url, park_id, "device.online", {"device_id": "gas-1"})
        after = reader.next_event()
    assert [m.body["id"] for m in resumed] == [missed[0], missed[2], missed[3]]
    assert [m.event for m in resumed] == ["alarm.cleared", "device.offline", "incident.opened"]
    assert after.body["id"] == marker  # nothing else came in between


def test_query_fallbacks_for_eventsource(
    http: httpx.Client, database_url: str, park_id: str
) -> None:
    """A browser's EventSource sends no headers on its first connect: the key and the
    position may come in the query string."""
    token = make_key(database_url, "viewer", park_id)
    before = emit(database_url, park_id, "alarm.raised", RAISED)
    after = emit(database_url, park_id, "alarm.cleared", {"alarm_id": 1})
    with open_stream(http, park_id, {}, access_token=token) as response:
        assert response.status_code == 200
        first = Reader(response).next()
    with open_stream(
        http, park_id, {}, access_token=token, last_event_id=str(int(first.id or 0) - 1)
    ) as response:
        event = Reader(response).next_event()
    assert event.body["id"] == after and event.body["id"] != before


def test_keys_and_parks_are_checked(
    http: httpx.Client, database_url: str, park_id: str, viewer: dict[str, str]
) -> None:
    path = f"/api/v1/parks/{park_id}/events"
    assert http.get(path).status_code == 401
    refused = http.get(path, params={"access_token": "ptk_0000000000000000_nope"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    admin = auth(make_key(database_url, "admin"))
    other = f"other-{uuid.uuid4().hex[:6]}"
    assert http.post("/api/v1/parks", json={"id": other, "name": "x"}, headers=admin).is_success
    bound_elsewhere = make_key(database_url, "admin", other)
    assert http.get(path, headers=auth(bound_elsewhere)).status_code == 404
    assert http.get(path, params={"access_token": bound_elsewhere}).status_code == 404
    assert http.get("/api/v1/parks/no-such-park/events", headers=viewer).status_code == 404
    bad = http.get(path, headers={**viewer, "Last-Event-ID": "12abc"})
    assert bad.status_code == 422
    # ?access_token= is for the event stream only
    token = viewer["Authorization"].removeprefix("Bearer ")
    assert http.get(f"/api/v1/parks/{park_id}", params={"access_token": token}).status_code == 401


def test_heartbeat_comments(http: httpx.Client, park_id: str, viewer: dict[str, str]) -> None:
    """PARKTWIN_API_EVENTS_HEARTBEAT is 1 s in these tests (15 s by default)."""
    with open_stream(http, park_id, viewer) as response:
        reader = Reader(response)
        reader.next()
        ping = reader.next()
    assert ping.comments == ["ping"] and ping.data == [] and ping.id is None


def test_heartbeat_events_on_request_keep_the_resume_position(
    http: httpx.Client, database_url: str, park_id: str, viewer: dict[str, str]
) -> None:
    """``?heartbeat=true``: the ping as an event a browser sees, with no id (the browser's
    Last-Event-ID stays the last real event's)."""
    with open_stream(http, park_id, viewer, heartbeat="true") as response:
        reader = Reader(response)
        opening = reader.next()
        beat = reader.next()
        raised = emit(database_url, park_id, "alarm.raised", RAISED)
        event = reader.next_event()
        while event.event == "heartbeat":
            event = reader.next_event()
    assert (beat.event, beat.id, beat.comments) == ("heartbeat", None, [])
    assert beat.body == {"every_s": 1}
    assert event.body["id"] == raised and int(event.id or 0) > int(opening.id or 0)


def test_streams_per_key_are_capped_and_given_back_on_disconnect(
    http: httpx.Client, park_id: str, viewer: dict[str, str]
) -> None:
    """PARKTWIN_API_EVENTS_MAX_STREAMS_PER_KEY is 2 in these tests."""
    with open_stream(http, park_id, viewer) as one, open_stream(http, park_id, viewer) as two:
        readers = [Reader(one), Reader(two)]  # kept: a dropped reader closes its stream
        assert [reader.next().retry for reader in readers] == [2000, 2000]
        third = http.get(f"/api/v1/parks/{park_id}/events", headers=viewer)
        assert third.status_code == 429
        assert third.json()["type"].endswith("/too-many-streams")
        assert third.headers["retry-after"] == "10"
        gauge = [
            line
            for line in http.get("/metrics").text.splitlines()
            if line.startswith("parktwin_api_event_streams ")
        ]
        assert float(gauge[0].split()[1]) >= 2  # these two, and any another test left closing
    # both dropped: the server notices the disconnect and gives the places back
    deadline = time.monotonic() + 30
    while True:
        with open_stream(http, park_id, viewer) as again:
            if again.status_code == 200:
                break
        assert time.monotonic() < deadline, "the dropped streams were never released"
        time.sleep(0.2)


def test_the_access_token_never_reaches_the_log(
    http: httpx.Client, database_url: str, park_id: str
) -> None:
    token = make_key(database_url, "viewer", park_id)
    out = io.StringIO()
    handler = build_handler("text", out)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        with open_stream(http, park_id, {}, access_token=token) as response:
            Reader(response).next()
        http.get(f"/api/v1/parks/{park_id}/events", params={"access_token": token + "x"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    logged = out.getvalue()
    assert "/events?access_token=[hidden]" in logged
    secret = token.split("_", 2)[2]  # all of it: a base64url secret may hold "_" itself
    assert token not in logged and secret not in logged


def _stream_timings(http: httpx.Client) -> float:
    """How many event streams the latency histogram has timed."""
    route = 'route="/api/v1/parks/{park_id}/events"'
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("parktwin_http_request_duration_seconds_count") and route in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_stream_is_timed_when_it_opens_not_when_it_ends(
    http: httpx.Client, park_id: str, viewer: dict[str, str]
) -> None:
    """An open stream lasts hours: timed to its end it would swamp the API's latency."""
    before = _stream_timings(http)
    with open_stream(http, park_id, viewer) as response:
        Reader(response).next()
        assert _stream_timings(http) == before + 1  # still open, already timed
    assert _stream_timings(http) == before + 1  # and not timed again when it ends
