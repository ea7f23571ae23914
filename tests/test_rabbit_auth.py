"""The cluster broker's client-id rule (app/broker/rabbit_auth.py), as RabbitMQ's HTTP auth
backend asks it: form-encoded POSTs, ``allow`` or ``deny``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from app.broker.dynsec import device_username
from app.broker.rabbit_auth import (
    DEFAULT_PORT,
    MAX_BODY,
    admits,
    advanced_config,
    create_auth_app,
)
from app.embedded.rabbitmq import PLUGINS

ROOT = Path(__file__).resolve().parents[1]
ids = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_auth_app())


@pytest.mark.parametrize(
    ("username", "client_id", "admitted"),
    [
        ("p1:m-1", "p1:m-1", True),  # a device with its own username as client id
        ("p1:m-1", "p1:m-2", False),  # another device's connection
        ("p1:m-1", "p2:m-1", False),  # the same device id in another park
        ("p1:m-1", "parktwin-ingest-0", False),  # a service's
        ("p1:m-1", "m-1", False),
        ("p1:m-1", "", False),  # an empty id (the broker would make one up)
        ("p1:m-1", None, False),  # AMQP or the management API: devices speak MQTT only
        ("parktwin-ingest", None, True),  # the ingest worker over AMQP
        ("parktwin-api", None, True),  # the API over the management API
        ("bench-publisher", "parktwin-3f2a", True),
        ("bench-publisher", "p1:m-1", False),  # no service takes over a device
        ("a:b:c", "a:b:c", False),  # not a device (two ":"), and ":" ids are devices'
    ],
)
def test_the_rule_by_hand(username: str, client_id: str | None, admitted: bool) -> None:
    assert admits(username, client_id) is admitted


@given(ids, ids, ids, ids)
def test_a_device_is_admitted_only_with_its_own_username(
    park: str, device: str, other_park: str, other_device: str
) -> None:
    me, other = device_username(park, device), device_username(other_park, other_device)
    assert admits(me, me)
    assert admits(me, other) is (me == other)
    assert not admits("parktwin-ingest", me)


def test_the_user_check_over_http(client: TestClient) -> None:
    form = {"username": "p1:m-1", "password": "secret", "vhost": "/", "client_id": "p1:m-1"}
    assert client.post("/auth/user", data=form).text == "allow"
    assert client.post("/auth/user", data={**form, "client_id": "p1:m-2"}).text == "deny"
    assert client.post("/auth/user", data={"username": "p1:m-1", "password": "x"}).text == "deny"
    for check in ("vhost", "resource", "topic"):
        assert client.post(f"/auth/{check}", data={"username": "p1:m-1"}).text == "allow"


def test_refusals_are_logged_without_the_password(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    form = {"username": "p1:m-1", "password": "hunter2", "client_id": "p1:m-2"}
    with caplog.at_level("WARNING", logger="app.broker.rabbit_auth"):
        assert client.post("/auth/user", data=form).text == "deny"
    assert "p1:m-2" in caplog.text and "hunter2" not in caplog.text


def test_hostile_bodies_get_a_clear_error(client: TestClient) -> None:
    big = client.post("/auth/user", content=b"username=" + b"a" * (MAX_BODY + 1))
    assert big.status_code == 413
    chunked = client.post("/auth/user", content=iter([b"username=", b"a" * (MAX_BODY + 1)]))
    assert chunked.status_code == 413
    fields = client.post("/auth/topic", content="&".join(f"f{i}=1" for i in range(100)).encode())
    assert fields.status_code == 400
    binary = client.post("/auth/user", content=b"username=\xff\xfe")
    assert binary.status_code == 400
    assert client.post("/auth/user", data={"client_id": "x"}).status_code == 400
    assert client.get("/auth/user").status_code == 405


def test_the_deploy_config_is_the_generated_one() -> None:
    """deploy/rabbitmq/advanced.config is what ``advanced_config`` writes for an auth service
    beside the node (one owner of the node's auth settings)."""
    deployed = (ROOT / "deploy/rabbitmq/advanced.config").read_text()
    assert deployed == advanced_config(f"http://127.0.0.1:{DEFAULT_PORT}")
    composed = (ROOT / "deploy/rabbitmq/advanced.compose.config").read_text()
    assert composed == advanced_config(f"http://broker-auth:{DEFAULT_PORT}")
    plugins = (ROOT / "deploy/rabbitmq/enabled_plugins").read_text().strip()
    assert plugins == PLUGINS
