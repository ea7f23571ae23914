"""``parktwin demo`` end to end: it seeds, serves live data, prints the key, and Ctrl-C (SIGINT
to its process group, as a terminal sends it) stops every process it started."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from app.embedded.process import free_port
from tests.conftest import ServiceEnv
from tests.ingest_support import ROOT, wait_until


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_serves_live_data_and_stops_on_ctrl_c(services: ServiceEnv, database_url: str) -> None:
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="parktwin-demo-"))
    log = state / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKTWIN_")} | {
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_MQTT_URL": services.mqtt_url,
        "PARKTWIN_STATE_DIR": str(state),
        "PARKTWIN_INGEST_METRICS_PORT": "0",
        "PARKTWIN_INGEST_CLIENT_ID": f"demo-test-{port}",
        "PARKTWIN_INGEST_SHARE_GROUP": f"demo-test-{port}",
    }
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "demo", "--port", str(port), "--devices", "40"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def key() -> str | None:
            found = re.search(r"admin API key: (ptk_\S+)", log.read_text(errors="replace"))
            return found[1] if found else None

        wait_until(lambda: key() is not None or demo.poll() is not None, 180, "the demo's key")
        assert demo.poll() is None, log.read_text(errors="replace")
        headers = {"Authorization": f"Bearer {key()}"}
        url = f"http://127.0.0.1:{port}/api/v1/parks/demo/latest"

        def live() -> bool:
            try:
                answer = httpx.get(url, headers=headers, timeout=5)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and any(i["values"] for i in answer.json()["items"])

        wait_until(live, 120, "live data from the demo")
        text = log.read_text(errors="replace")
        assert "webhook receiver: http://127.0.0.1:" in text and f":{port}/docs" in text
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C
        demo.wait(90)
    wait_until(lambda: not group_alive(demo.pid), 60, "every demo process to exit")
    assert demo.returncode == 0, log.read_text(errors="replace")
    shutil.rmtree(state, ignore_errors=True)
