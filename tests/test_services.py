"""`parktwin services`: up is idempotent, down leaves no process, data survives a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from app.core.config import Settings
from app.embedded.process import free_port, pid_alive, port_open, read_pid
from app.embedded.services import EmbeddedServices

pytestmark = pytest.mark.embedded


def _cli(embedded: EmbeddedServices, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    s = embedded.settings
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")} | {
        "PARKTWIN_STATE_DIR": str(s.state_dir),
        "PARKTWIN_EMBEDDED_PG_PORT": str(s.embedded_pg_port),
        "PARKTWIN_EMBEDDED_MQTT_PORT": str(s.embedded_mqtt_port),
        "PARKTWIN_EMBEDDED_MQTT_SERVICE_PORT": str(s.embedded_mqtt_service_port),
        "PARKTWIN_EMBEDDED_MQTTS_PORT": str(s.embedded_mqtts_port),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _postmaster_pid(embedded: EmbeddedServices) -> int | None:
    return read_pid(embedded.postgres.paths.pg_data / "postmaster.pid")


def test_up_is_idempotent_and_prints_the_urls(embedded: EmbeddedServices) -> None:
    pg_pid, mqtt_pid = _postmaster_pid(embedded), embedded.mosquitto.pid()
    result = _cli(embedded, "services", "up")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["PARKTWIN_DATABASE_URL"] == embedded.postgres.url()
    assert lines["PARKTWIN_MQTT_URL"] == embedded.mosquitto.device_url()
    assert lines["PARKTWIN_INGEST_MQTT_URL"] == embedded.mosquitto.url("ingest")
    assert lines["PARKTWIN_API_MQTT_URL"] == embedded.mosquitto.url("api")
    assert lines["PARKTWIN_MQTTS_URL"] == f"mqtts://127.0.0.1:{embedded.mosquitto.tls_port}"
    assert lines["PARKTWIN_MQTT_CA_FILE"] == str(embedded.mosquitto.ca_file())
    assert list(lines)[:2] == ["PARKTWIN_DATABASE_URL", "PARKTWIN_MQTT_URL"]
    assert (_postmaster_pid(embedded), embedded.mosquitto.pid()) == (pg_pid, mqtt_pid)


def test_processes_given_the_printed_url_use_the_services_listener(
    embedded: EmbeddedServices,
) -> None:
    """The contract's flow: ``parktwin ingest`` (or api, seed) started with nothing but the
    printed PARKTWIN_MQTT_URL (the device listener, where every client id becomes the
    username) reaches the broker on its services listener, as the same account."""
    printed = embedded.urls()["PARKTWIN_MQTT_URL"]
    device_port, service_port = embedded.mosquitto.port, embedded.mosquitto.service_port
    assert f"127.0.0.1:{device_port}" in printed
    settings = embedded.settings.model_copy(update={"mqtt_url": printed})
    for role in ("admin", "ingest", "api"):
        target = settings.mqtt_target(role)  # type: ignore[arg-type]
        assert (target.port, target.username) == (service_port, "parktwin"), role
    assert settings.device_mqtt_url() == printed  # the simulator's devices stay on it
    elsewhere = settings.model_copy(update={"mqtt_url": "mqtt://u:p@broker.example:1883"})
    assert elsewhere.resolved_mqtt_url("ingest") == "mqtt://u:p@broker.example:1883"


def test_up_leaves_an_external_service_alone(embedded: EmbeddedServices) -> None:
    elsewhere = "postgresql://someone:secret@127.0.0.1:1/elsewhere"
    result = _cli(embedded, "services", "up", PARKTWIN_DATABASE_URL=elsewhere)
    assert result.returncode == 0, result.stderr
    assert f"PARKTWIN_DATABASE_URL={elsewhere}" in result.stdout.splitlines()
    status = _cli(embedded, "services", "status", PARKTWIN_DATABASE_URL=elsewhere)
    assert "postgresql: external" in status.stdout


def test_down_stops_everything_and_up_keeps_the_data(embedded: EmbeddedServices) -> None:
    url = embedded.postgres.url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS keepme (v int)")
        conn.execute("INSERT INTO keepme VALUES (42)")
    pids = [_postmaster_pid(embedded), embedded.mosquitto.pid()]
    assert all(pids)

    assert _cli(embedded, "services", "down").returncode == 0
    assert not any(pid_alive(p) for p in pids if p)
    status = _cli(embedded, "services", "status").stdout
    assert "postgresql: stopped" in status and "mosquitto: stopped" in status
    leftovers = subprocess.run(
        ["pgrep", "-f", str(embedded.settings.state_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leftovers.stdout.strip() == "", f"processes left behind: {leftovers.stdout}"

    assert _cli(embedded, "services", "up").returncode == 0
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT v FROM keepme").fetchall() == [(42,)]
        conn.execute("DROP TABLE keepme")


def test_state_lives_under_the_state_dir(embedded: EmbeddedServices) -> None:
    root = Path(embedded.settings.state_dir)
    assert (root / "pg" / "data" / "PG_VERSION").exists()
    conf = (root / "mqtt" / "mosquitto.conf").read_text()
    assert "persistence true" in conf
    assert "allow_anonymous false" in conf
    assert "max_queued_messages 1000000" in conf
    assert f"max_queued_bytes {512 * 1024 * 1024}" in conf
    assert "max_packet_size 266240" in conf
    # device listeners (plain, TLS) use the username as client id; the services one does not
    listeners = conf.split("listener ")[1:]
    by_port = {block.split()[0]: block for block in listeners}
    s = embedded.settings
    assert set(by_port) == {
        str(p) for p in (s.embedded_mqtt_port, s.embedded_mqtt_service_port, s.embedded_mqtts_port)
    }
    for port in (s.embedded_mqtt_port, s.embedded_mqtts_port):
        assert by_port[str(port)].split()[1] == "127.0.0.1"
        assert "use_username_as_clientid true" in by_port[str(port)]
    assert by_port[str(s.embedded_mqtt_service_port)].split()[1] == "127.0.0.1"
    assert "use_username_as_clientid" not in by_port[str(s.embedded_mqtt_service_port)]
    assert "mosquitto_dynamic_security.so" in conf


def test_up_moves_a_postgresql_started_on_another_port_to_the_configured_one(
    embedded: EmbeddedServices,
) -> None:
    """An upgrade from the old default port (55432), or a changed PARKTWIN_EMBEDDED_PG_PORT:
    `up` restarts the running server where the URL it prints points, keeping the data."""
    with psycopg.connect(embedded.postgres.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS moved (v int)")
        conn.execute("INSERT INTO moved VALUES (7)")
    old_port, new_port = embedded.settings.embedded_pg_port, free_port()
    try:
        result = _cli(embedded, "services", "up", PARKTWIN_EMBEDDED_PG_PORT=str(new_port))
        assert result.returncode == 0, result.stderr
        url = dict(line.split("=", 1) for line in result.stdout.splitlines())
        assert f":{new_port}/" in url["PARKTWIN_DATABASE_URL"]
        assert embedded.postgres.serving_port() == new_port
        assert not port_open(old_port)
        with psycopg.connect(url["PARKTWIN_DATABASE_URL"]) as conn:
            assert conn.execute("SELECT v FROM moved").fetchall() == [(7,)]
    finally:
        assert _cli(embedded, "services", "up").returncode == 0
    assert embedded.postgres.serving_port() == old_port
    with psycopg.connect(embedded.postgres.url(), autocommit=True) as conn:
        conn.execute("DROP TABLE moved")


def test_the_default_postgresql_port_lies_below_the_ephemeral_range() -> None:
    """Linux hands out 32768-60999 as source ports of outgoing connections: a default in that
    range (55432 before) could be held by one (after the 100,000-device bench, `services up`
    failed with "Address already in use" for about a minute)."""
    assert Settings(database_url=None, mqtt_url=None).embedded_pg_port < 32768
