"""Request ids and JSON logs: X-Request-ID taken when sane, generated otherwise, echoed, and on
every log record of the request (PARKTWIN_LOG_FORMAT=json) and in problem+json bodies."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.core.logging import build_handler
from app.main import create_app
from tests.conftest import wait_ready

GENERATED = re.compile(r"[0-9a-f]{32}")
test_logger = logging.getLogger("parktwin.test.request_id")


def _logs_something() -> dict[str, str]:
    test_logger.info("handling %s", "it", extra={"device_id": "meter-1"})
    return {"ok": "yes"}


def _fails() -> None:
    raise RuntimeError("boom")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    app.add_api_route("/_test/log", _logs_something)
    app.add_api_route("/_test/fail", _fails)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything logged through the root logger as the JSON lines the API would write."""
    stream = io.StringIO()
    handler = build_handler("json", stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_id_is_generated_per_request_and_echoed(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second)
    assert first != second


def test_a_sane_incoming_id_is_echoed(client: TestClient) -> None:
    sent = "trace-42_A.b" + "x" * 52  # 64 characters, the longest accepted
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent
    assert response.headers.get_list("x-request-id") == [sent]


@pytest.mark.parametrize(
    "hostile",
    ["x" * 65, "abc\ndef", '"quoted"', "a b", "semi;colon", "", "日本"],
    ids=["too-long", "newline", "quotes", "space", "semicolon", "empty", "non-ascii"],
)
def test_a_hostile_incoming_id_is_replaced(client: TestClient, hostile: str) -> None:
    raw = hostile.encode()
    response = client.get("/healthz", headers=[(b"X-Request-ID", raw)])
    echoed = response.headers["x-request-id"]
    assert GENERATED.fullmatch(echoed), echoed
    assert echoed.encode() != raw


def test_the_json_log_line_of_a_request_carries_its_id(
    client: TestClient, json_logs: io.StringIO
) -> None:
    response = client.get("/_test/log", headers={"X-Request-ID": "req-0001"})
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-0001"
    entry = next(e for e in lines(json_logs) if e["logger"] == test_logger.name)
    assert entry["request_id"] == "req-0001"
    assert entry["message"] == "handling it" and entry["level"] == "INFO"
    assert entry["device_id"] == "meter-1"  # extra context
    assert isinstance(entry["process"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])

    client.get("/_test/log")  # the next request has its own id
    ids = [e["request_id"] for e in lines(json_logs) if e["logger"] == test_logger.name]
    assert ids[0] == "req-0001" and GENERATED.fullmatch(ids[1])


def test_problem_bodies_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/api/v1/nope", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404
    assert response.json()["request_id"] == "lost-1"
    assert response.headers.get_list("x-request-id") == ["lost-1"]


def test_an_unhandled_error_is_logged_and_answered_with_the_id(
    client: TestClient, json_logs: io.StringIO
) -> None:
    response = client.get("/_test/fail", headers={"X-Request-ID": "crash-7"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == "crash-7"
    assert response.headers["x-request-id"] == "crash-7"
    logged = [e for e in lines(json_logs) if e["message"] == "unhandled error"]
    assert logged and logged[0]["request_id"] == "crash-7"
    assert "RuntimeError: boom" in logged[0]["exc_info"]


def test_records_outside_a_request_have_no_id() -> None:
    stream = io.StringIO()
    handler = build_handler("json", stream)
    record = logging.LogRecord("parktwin.x", logging.WARNING, __file__, 1, "n=%d", (3,), None)
    handler.handle(record)
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "n=3" and entry["level"] == "WARNING"
    assert "request_id" not in entry

    text = io.StringIO()
    build_handler("text", text).handle(record)
    assert text.getvalue().rstrip().endswith("parktwin.x: n=3")


def test_the_text_format_appends_the_request_id() -> None:
    stream = io.StringIO()
    record = logging.LogRecord("parktwin.x", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "abc"
    build_handler("text", stream).handle(record)
    assert stream.getvalue().rstrip().endswith("parktwin.x: hello [request_id=abc]")


def test_values_json_cannot_hold_are_written_as_text() -> None:
    stream = io.StringIO()
    record = logging.LogRecord("parktwin.x", logging.INFO, __file__, 1, "big", None, None)
    record.huge = 2**70  # orjson refuses integers beyond 64 bits
    record.thing = object()
    record.color_message = "\x1b[36mbig\x1b[0m"  # uvicorn's coloured copy: left out
    build_handler("json", stream).handle(record)
    entry = json.loads(stream.getvalue())
    assert entry["huge"] == 2**70 and entry["thing"].startswith("<object")
    assert "color_message" not in entry


def test_the_log_format_setting_accepts_only_text_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKTWIN_LOG_FORMAT", "json")
    assert Settings().log_format == "json"
    monkeypatch.setenv("PARKTWIN_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError):
        Settings()
