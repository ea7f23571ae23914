"""Fixtures of the cockpit's browser tests: the real stack on a database of its own (the demo
park seeded, ``parktwin api``/``ingest``/``worker`` as processes) and Debian's headless
Chromium driven by Playwright (no browser download: ``executable_path=/usr/bin/chromium``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.core.migrate import upgrade_to_head
from tests.cockpit.stack import Stack, running_stack
from tests.conftest import ServiceEnv
from tests.ingest_support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "cockpit"
"""Screenshots the tests take (kept by CI as artifacts; gitignored)."""


@pytest.fixture(scope="module")
def stack(services: ServiceEnv) -> Iterator[Stack]:
    database_url = services.create_database("parktwin_cockpit")
    try:
        upgrade_to_head(database_url)
        # heartbeats every 2 s (15 by default), so that a stream gone silent is found in 6 s
        beats = {"PARKTWIN_API_EVENTS_HEARTBEAT": "PT2S"}
        with running_stack(services.settings(database_url), devices=120, env=beats) as running:
            yield running
    finally:
        services.drop_database(database_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make test-tools)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Screen:
    """One signed-in cockpit tab, every console error and page error it logged, and the URL
    of every request it sent."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def evaluate(self, script: str, arg: object = None) -> Any:
        return self.page.evaluate(script, arg)


def open_screen(browser: Any, stack: Stack, role: str) -> Screen:
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    page = context.new_page()
    screen = Screen(page)
    page.on("console", lambda m: screen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: screen.errors.append(str(e)))
    page.on("request", lambda r: screen.requests.append(r.url))
    page.goto(stack.link(role))
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    return screen
