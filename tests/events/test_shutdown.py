"""``parktwin api`` ends its open event streams on SIGTERM and exits, instead of waiting for
the browsers to hang up (uvicorn's graceful shutdown waits for every open response)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import httpx

from app.embedded.process import free_port
from tests.api.conftest import auth, make_key
from tests.conftest import ServiceEnv
from tests.events.conftest import Reader, open_stream


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "parktwin api exited"
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "parktwin api did not start"
        time.sleep(0.2)


def test_sigterm_ends_open_streams_and_the_process(services: ServiceEnv, database_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_MQTT_URL": services.mqtt_url,
        "PARKTWIN_LOG_LEVEL": "INFO",
    }
    if services.embedded is not None:
        env["PARKTWIN_STATE_DIR"] = str(services.embedded.settings.state_dir)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "api", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, process)
            admin = auth(make_key(database_url, "admin"))
            park = f"sd-{uuid.uuid4().hex[:8]}"
            with httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=60)) as http:
                created = http.post("/api/v1/parks", json={"id": park, "name": "x"}, headers=admin)
                assert created.status_code == 201
                with open_stream(http, park, admin) as response:
                    reader = Reader(response)
                    assert reader.next().retry == 2000
                    process.send_signal(signal.SIGTERM)
                    rest = reader.rest()  # returns only once the server ends the stream
            assert all(line in ("", ": ping") for line in rest)
            # uvicorn re-raises the signal once its graceful shutdown is done
            assert process.wait(timeout=60) in (0, -signal.SIGTERM)
            log.seek(0)
            assert b"Application shutdown complete" in log.read()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
