"""The enterprise page in headless Chromium against the real stack: an enterprise key opening
the cockpit is sent to ``/enterprise``, which shows its own name, premises and devices (and no
other enterprise's) with no console error."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.api.conftest import make_key
from tests.cockpit.conftest import ARTIFACTS
from tests.cockpit.stack import PARK, Stack


def _enterprise(stack: Stack) -> tuple[str, str, list[str]]:
    """A demo enterprise that has devices: its id, name and device names."""
    with psycopg.connect(stack.settings.resolved_database_url()) as conn:
        row = conn.execute(
            "SELECT e.id, e.name FROM enterprise e JOIN device d "
            "ON d.park_id = e.park_id AND d.enterprise_id = e.id "
            "WHERE e.park_id = %s GROUP BY e.id, e.name ORDER BY e.id LIMIT 1",
            (PARK,),
        ).fetchone()
        assert row is not None
        names = conn.execute(
            "SELECT coalesce(name, id) FROM device WHERE park_id = %s AND enterprise_id = %s",
            (PARK, row[0]),
        ).fetchall()
    return str(row[0]), str(row[1]), [str(n[0]) for n in names]


def test_an_enterprise_key_opens_its_own_page(browser: Any, stack: Stack) -> None:
    enterprise_id, name, devices = _enterprise(stack)
    key = make_key(stack.settings.resolved_database_url(), "enterprise", PARK, enterprise_id)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{stack.base}/#key={key}&park={PARK}")
    page.wait_for_url(f"{stack.base}/enterprise", timeout=30_000)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "enterprise-page.png"))
    assert page.text_content("#enterprise-name") == name
    shown = page.eval_on_selector_all(
        "#devices tr td:first-child", "tds => tds.map(t => t.textContent)"
    )
    assert sorted(shown) == sorted(devices)
    assert page.eval_on_selector_all("#premises tr", "rows => rows.length") >= 1
    assert errors == []
    context.close()
