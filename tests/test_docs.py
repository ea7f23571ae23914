"""The documentation keeps its promises.

- docs/quickstart.md: its ```bash blocks run, in order, in a fresh clone of the repository (the
  committed tree: what a park's IT team gets; the working tree where there is no git), against
  the session's services and a fresh database; the long-running ones (api, ingest, worker, sim)
  in the background; the first curl answers the demo park and the second, soon, live readings.
  docs/quickstart.zh-CN.md holds the same blocks.
- Every relative link of README.md and docs/ points at a file that exists.
- docs/operations.md lists every setting of app/core/config.py, as scripts/settings_table.py
  prints it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.config import Settings
from app.core.mqtt import MqttTarget, new_client
from app.embedded.process import free_port
from tests.conftest import ServiceEnv

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.M | re.S)
LONG_RUNNING = re.compile(r"^parktwin (api|ingest|worker|sim)\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def bash_blocks(page: Path) -> list[str]:
    return [m.group(1).strip() for m in BASH_BLOCK.finditer(page.read_text(encoding="utf-8"))]


def test_quickstart_has_the_commands_it_promises() -> None:
    commands = bash_blocks(DOCS / "quickstart.md")
    for expected in ("parktwin services up", "parktwin migrate", "parktwin seed demo"):
        assert any(c.startswith(expected) for c in commands), expected
    assert any("parktwin apikey create --role admin" in c for c in commands)
    started = [LONG_RUNNING.match(c).group(1) for c in commands if LONG_RUNNING.match(c)]  # type: ignore[union-attr]
    assert started == ["api", "ingest", "worker", "sim"]
    assert sum(c.startswith("curl ") for c in commands) == 2


def test_chinese_quickstart_has_the_same_commands() -> None:
    assert bash_blocks(DOCS / "quickstart.zh-CN.md") == bash_blocks(DOCS / "quickstart.md")


class Shell:
    """Runs the quickstart's blocks one after another, carrying exported variables along."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.background: list[subprocess.Popen[bytes]] = []

    def run(self, block: str) -> str:
        dump = self.cwd / "env.dump"
        script = f"set -euo pipefail\n{block}\nenv -0 > {shlex.quote(str(dump))}\n"
        done = subprocess.run(
            ["bash", "-c", script], env=self.env, cwd=self.cwd, capture_output=True, timeout=120
        )
        assert done.returncode == 0, (block, done.stdout[-2000:], done.stderr[-4000:])
        pairs = (item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)
        self.env = dict(pairs)
        return done.stdout.decode()

    def start(self, block: str) -> None:
        log = open(self.cwd / f"{block.split()[1]}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            ["bash", "-c", f"exec {block}"],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.background.append(process)

    def stop(self) -> None:
        for process in reversed(self.background):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.background:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def fresh_clone(into: Path) -> Path:
    """A clone of the repository's committed tree (the working tree itself without git)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return ROOT
    clone = into / "parktwin"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    return clone


@pytest.fixture
def quickstart_shell(services: ServiceEnv, tmp_path: Path) -> Iterator[Shell]:
    database_url = services.create_database("parktwin_quickstart")
    tag = uuid.uuid4().hex[:8]
    clone = fresh_clone(tmp_path)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(clone),
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_MQTT_URL": services.mqtt_url,
        "PARKTWIN_STATE_DIR": str(tmp_path / "state"),
        "PARKTWIN_EMBEDDED_PG_PORT": str(free_port()),
        "PARKTWIN_EMBEDDED_MQTT_PORT": str(free_port()),
        "PARKTWIN_INGEST_METRICS_PORT": "0",
        "PARKTWIN_INGEST_CLIENT_ID": f"quickstart-{tag}",
        "PARKTWIN_INGEST_SHARE_GROUP": f"quickstart{tag}",
    }
    shell = Shell(env, clone if clone != ROOT else tmp_path)
    try:
        yield shell
    finally:
        shell.stop()
        drop_mqtt_session(services.mqtt_url, f"quickstart-{tag}-0")
        services.drop_database(database_url)


def drop_mqtt_session(mqtt_url: str, client_id: str) -> None:
    """Connect once with a clean start, so the broker stops queueing for the stopped ingestor."""
    target = MqttTarget.from_url(mqtt_url)
    client = new_client(target, client_id)
    client.connect(target.host, target.port, clean_start=True)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()


def api_ready(port: int, api: subprocess.Popen[bytes]) -> bool:
    """Wait for /readyz; False when the process exited first (its port taken meanwhile)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            return False
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the API never answered /readyz")


def start_api(shell: Shell, block: str) -> int:
    """Start `parktwin api` on a port free just now; other test sessions on the machine may
    take a port between its choice and uvicorn's bind, so a lost race is retried."""
    for _ in range(3):
        port = free_port()
        shell.env["PARKTWIN_API_PORT"] = str(port)
        shell.start(block)
        if api_ready(port, shell.background[-1]):
            return port
        log = (shell.cwd / "api.log").read_text()
        assert "address already in use" in log, log[-4000:]
        shell.background.pop()
    raise AssertionError("no free port for the API")


def test_quickstart_runs(quickstart_shell: Shell) -> None:
    shell, port = quickstart_shell, 8000
    answers = []
    docs = shell.cwd / "docs" if (shell.cwd / "docs").is_dir() else DOCS
    for block in bash_blocks(docs / "quickstart.md"):
        block = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        if block.startswith("parktwin api"):
            port = start_api(shell, block)
        elif LONG_RUNNING.match(block):
            shell.start(block)
        elif block.startswith("curl "):
            answers.append((block, shell.run(block)))
        else:
            shell.run(block)
    assert shell.env["PARKTWIN_KEY"].startswith("ptk_")

    (_, park), (latest_block, _) = answers
    assert json.loads(park)["id"] == "demo"
    assert json.loads(park)["timezone"] == "Asia/Shanghai"
    # The simulator has just connected: its readings arrive within seconds.
    deadline = time.monotonic() + 60
    while True:
        items = json.loads(shell.run(latest_block))["items"]
        assert items and all(item["device_id"] for item in items)
        if any(item["values"] for item in items):
            break
        assert time.monotonic() < deadline, "no readings from the simulator"
        time.sleep(1)
    meter = next(item for item in items if item["values"])
    assert set(meter["values"]) <= {"energy_kwh", "power_kw"}
    assert all(p.poll() is None for p in shell.background), "a quickstart process exited early"
    # "Without the header the API answers 401 with an application/problem+json body."
    anonymous = httpx.get(f"http://127.0.0.1:{port}/api/v1/parks/demo", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")


def markdown_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def without_code(page: Path) -> str:
    return re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub makes: lower case, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+ (.+)$", without_code(page), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_points_at_a_file() -> None:
    broken = []
    for page in markdown_pages():
        for target in LINK.findall(without_code(page)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            if not path.exists() or (anchor and anchor not in anchors(path)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
    assert len(markdown_pages()) > 10


def test_no_issue_markers_in_readme_or_docs() -> None:
    for page in markdown_pages():
        if page.name == "benchmarks.md":  # written by the benchmarks, not by hand
            continue
        assert not re.search(r"\(issues? \d", page.read_text(encoding="utf-8")), page


def test_readme_is_a_starting_point() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 150
    assert "make demo" in text and "make test" in text


def load_settings_table() -> object:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import settings_table
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return settings_table


def test_operations_lists_every_setting() -> None:
    page = (DOCS / "operations.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`PARKTWIN_{name.upper()}`" in page, name
    script = load_settings_table()
    table = script.settings_table()  # type: ignore[attr-defined]
    assert f"{script.START}\n{table}\n{script.END}" in page, (  # type: ignore[attr-defined]
        "docs/operations.md is out of date: run python scripts/settings_table.py --write"
    )
