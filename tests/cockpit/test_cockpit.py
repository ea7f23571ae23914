"""The cockpit in headless Chromium against the real stack and the seeded demo park: it loads
signed in with no console error, draws every building, shows a gas leak's critical alarm that
an operator acknowledges from the page, gives a viewer no buttons (and the API refuses the
viewer anyway), draws an incident's impact zones, and its event stream resumes after the API
went away without missing an event. Screenshots go to artifacts/cockpit/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from app.broker.dynsec import DynsecClient
from app.core.mqtt import MqttTarget
from tests.api.conftest import series_id, write_readings
from tests.cockpit.conftest import open_screen
from tests.cockpit.silent import SilentProxy
from tests.cockpit.stack import PARK, Stack
from tests.conftest import ServiceEnv
from tests.events.conftest import emit
from tests.ingest_support import Publisher, wait_until

LEAK_LEL = 63.0  # %LEL: above the 50 %LEL of the critical level (GB/T 50493-2019)


@pytest.fixture(scope="module")
def dynsec(services: ServiceEnv) -> Iterator[DynsecClient]:
    client = DynsecClient(MqttTarget.from_url(services.mqtt_url))
    client.connect()
    yield client
    client.close()


@pytest.fixture(scope="module")
def detectors(stack: Stack) -> list[str]:
    """The demo park's gas detectors that sit on the map (a point location)."""
    with stack.api() as api:
        features = api.get(f"/api/v1/parks/{PARK}/map").json()["features"]
    found = [
        f["properties"]["id"]
        for f in features
        if f["properties"]["kind"] == "device" and f["properties"].get("type") == "gas_detector"
    ]
    assert len(found) >= 3, found
    return sorted(found)


def active_alarm(stack: Stack, device_id: str) -> dict[str, Any] | None:
    with stack.api() as api:
        items = api.get(
            f"/api/v1/parks/{PARK}/alarms", params={"device_id": device_id, "severity": "critical"}
        ).json()["items"]
    return items[0] if items else None


def leak(stack: Stack, services: ServiceEnv, dynsec: DynsecClient, device_id: str) -> None:
    """The detector reads LEAK_LEL over MQTT with its own account, once a second until the
    ingestor has raised the critical alarm (its subscription may still be settling)."""
    device = Publisher(MqttTarget.from_url(services.mqtt_url), dynsec, PARK, device_id)
    try:

        def raised() -> bool:
            device.send({"ts": int(time.time() * 1000), "values": {"gas_lel_pct": LEAK_LEL}})
            return active_alarm(stack, device_id) is not None

        wait_until(raised, 60, f"a critical alarm on {device_id}")
    finally:
        device.close()


def alarm_row(alarm_id: str) -> str:
    return f'#alarm-list li[data-alarm="{alarm_id}"]'


def test_the_page_loads_signed_in_with_no_console_error(browser: Any, stack: Stack) -> None:
    screen = open_screen(browser, stack, "operator")
    assert "#key=" not in screen.page.url  # the fragment moved to sessionStorage at once
    assert screen.evaluate("sessionStorage.getItem('parktwin.key')") == stack.keys["operator"]
    assert screen.page.text_content("#role") == "值班员"
    assert screen.page.text_content("#panel-alarms h2") == "告警"  # Chinese by default
    assert screen.evaluate("performance.getEntriesByName('cockpit-ready').length") == 1
    screen.shot("first-screen")
    assert screen.errors == []
    screen.page.click("#lang")
    assert screen.page.text_content("#panel-alarms h2") == "Alarms"


def meters_reading(stack: Stack) -> None:
    """Two root meters of the demo park read 120.5 and 80.25 kW and a third 55 kW but is
    offline (the seed writes no readings): the load now is 200.75 kW, one meter left out."""
    database_url = stack.settings.resolved_database_url()
    with psycopg.connect(database_url) as conn:
        roots = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM device WHERE park_id = %s AND type = 'electricity_meter' "
                "AND parent_meter_id IS NULL ORDER BY id LIMIT 3",
                (PARK,),
            )
        ]
        conn.execute(
            "UPDATE device SET status = 'offline' WHERE park_id = %s AND id = %s", (PARK, roots[2])
        )
    now = datetime.now(UTC)
    for device, kw in zip(roots, (120.5, 80.25, 55.0), strict=True):
        write_readings(database_url, series_id(database_url, PARK, device, "power_kw"), [(now, kw)])
    # energy/now is shared for PARKTWIN_LATEST_CACHE_TTL (1 s) per API process: a screen opened
    # within it after an earlier one would read the answer from before these readings.
    with stack.api("viewer") as api:

        def summed() -> bool:
            load = api.get(f"/api/v1/parks/{PARK}/energy/now").json()["load"]
            return bool(load["devices"] == 2)

        wait_until(summed, 30, "the API to sum the new readings")


def test_the_energy_panel_reads_the_park_load_in_one_request(browser: Any, stack: Stack) -> None:
    meters_reading(stack)
    screen = open_screen(browser, stack, "viewer")
    api = [url.split("?")[0] for url in screen.requests if "/api/v1/" in url]
    assert not [url for url in api if "/series/" in url]  # no read per root meter
    assert api.count(f"{stack.base}/api/v1/parks/{PARK}/energy/load") == 1
    # the load now summed by the API, not every meter's newest value summed in the page
    assert f"{stack.base}/api/v1/parks/{PARK}/energy/now" in api
    assert f"{stack.base}/api/v1/parks/{PARK}/latest" not in api
    loads = [url for url in screen.requests if "/energy/load?" in url]
    assert loads and all("top=8" in url for url in loads)  # its 8 top consumers, not all
    now = screen.evaluate("window.cockpit.panels[2].state.now")
    assert (now["load"]["kw"], now["load"]["devices"], now["load"]["offline"]) == (200.75, 2, 1)
    shown = screen.page.locator("#energy-figures > *").first.text_content()
    assert shown == "当前负荷201 kW1 台离线，未计入"  # label, the sum, the meter left out
    series = screen.evaluate(
        "window.cockpit.panels[2].chart.getOption().series.map(s => [s.name, s.data.length])"
    )
    assert series == [["今日", 24], ["昨日", 24], ["今日光伏", 24]]
    assert screen.page.locator("#energy-figures > *").count() == 4
    assert screen.errors == []


def test_the_carbon_panel_reads_the_year_from_one_ledger(browser: Any, stack: Stack) -> None:
    """The year to date and the months come from one read (``interval=month&total=true``),
    not two reads of the same ledger; the figures are the API's ``interval=all`` answer. A root
    meter counts 1,000 then 1,500 kWh: 500 kWh this year, whatever else the park holds."""
    database_url = stack.settings.resolved_database_url()
    with psycopg.connect(database_url) as conn:
        (meter,) = conn.execute(
            "SELECT id FROM device WHERE park_id = %s AND type = 'electricity_meter' "
            "AND parent_meter_id IS NULL ORDER BY id LIMIT 1",
            (PARK,),
        ).fetchone() or (None,)
    now = datetime.now(UTC).replace(microsecond=0)
    kwh = series_id(database_url, PARK, meter, "energy_kwh")
    write_readings(database_url, kwh, [(now - timedelta(seconds=60), 1000.0),
                                       (now - timedelta(seconds=30), 1500.0)])  # fmt: skip
    screen = open_screen(browser, stack, "viewer")
    ledgers = [url for url in screen.requests if "/carbon/emissions?" in url]
    assert len(ledgers) == 1, ledgers
    assert "interval=month" in ledgers[0] and "total=true" in ledgers[0]
    shown = screen.evaluate("window.cockpit.panels[3].state.ytd")
    with stack.api("viewer") as api:
        tz = api.get(f"/api/v1/parks/{PARK}").json()["timezone"]
        today = datetime.now(ZoneInfo(tz)).date()
        answer = api.get(
            f"/api/v1/parks/{PARK}/carbon/emissions",
            params={"from": f"{today.year}-01-01", "to": str(today), "group_by": "park",
                    "interval": "all"},
        ).json()  # fmt: skip
    assert shown == answer["rows"][0]
    grid = next(c for c in shown["carriers"] if c["carrier"] == "electricity_grid")
    assert grid["quantity"] >= 500.0
    figure = f"{shown['total_location_t']:.1f}".rstrip("0").rstrip(".")
    assert screen.page.locator("#carbon-figures > * b").nth(1).text_content() == f"{figure} tCO₂"
    screen.shot("carbon-year-to-date")
    assert screen.errors == []


def test_the_map_shows_every_building_of_the_demo_park(browser: Any, stack: Stack) -> None:
    with stack.api("viewer") as api:
        buildings = api.get(f"/api/v1/parks/{PARK}/buildings", params={"limit": 1000}).json()
    expected = {f"building:{b['id']}" for b in buildings["items"]}
    assert expected
    screen = open_screen(browser, stack, "viewer")
    drawn = screen.evaluate(
        "window.cockpit.ctx.map.chart.getOption().geo[0].regions"
        ".map(r => r.name).filter(n => n.startsWith('building:'))"
    )
    assert set(drawn) == expected
    screen.shot("map")
    assert screen.errors == []


def test_a_gas_leak_shows_a_critical_alarm_that_an_operator_acknowledges(
    browser: Any, stack: Stack, services: ServiceEnv, dynsec: DynsecClient, detectors: list[str]
) -> None:
    screen = open_screen(browser, stack, "operator")
    leak(stack, services, dynsec, detectors[0])
    alarm = active_alarm(stack, detectors[0])
    assert alarm is not None and alarm["color"] == "red"
    row = alarm_row(alarm["id"])
    screen.page.wait_for_selector(f'{row}[data-severity="critical"]', timeout=30_000)
    marked = (
        "id => window.cockpit.ctx.map.chart.getOption().series"
        ".find(s => s.id === 'alarmed').data.some(d => d.id === id)"
    )
    screen.page.wait_for_function(marked, arg=detectors[0], timeout=30_000)
    maps = [url for url in screen.requests if f"/parks/{PARK}/map" in url]
    assert maps and all(url.endswith("/map?devices=alarmed") for url in maps)
    screen.shot("critical-alarm")
    screen.page.click(f"{row} button.ack")
    with stack.api("viewer") as api:

        def acknowledged() -> bool:
            body = api.get(f"/api/v1/parks/{PARK}/alarms/{alarm['id']}").json()
            return bool(body["acknowledged"])

        wait_until(acknowledged, 30, "the alarm to be acknowledged")
    screen.page.wait_for_selector(f"{row}.acked", timeout=30_000)
    assert screen.page.query_selector(f"{row} button.ack") is None
    assert screen.errors == []


def test_a_viewer_has_no_acknowledge_button_and_the_api_refuses_it(
    browser: Any, stack: Stack, services: ServiceEnv, dynsec: DynsecClient, detectors: list[str]
) -> None:
    leak(stack, services, dynsec, detectors[1])
    alarm = active_alarm(stack, detectors[1])
    assert alarm is not None and not alarm["acknowledged"]
    screen = open_screen(browser, stack, "viewer")
    screen.page.wait_for_selector(alarm_row(alarm["id"]), timeout=30_000)
    assert screen.page.query_selector_all("#alarm-list button") == []
    screen.shot("viewer")
    with stack.api("viewer") as api:
        refused = api.post(f"/api/v1/parks/{PARK}/alarms/{alarm['id']}/ack", json={})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    operator = open_screen(browser, stack, "operator")  # the same alarm, an operator's buttons
    operator.page.wait_for_selector(f"{alarm_row(alarm['id'])} button.ack", timeout=30_000)
    assert screen.errors == [] and operator.errors == []


def test_an_incident_has_its_impact_zones_drawn_on_the_map(
    browser: Any, stack: Stack, services: ServiceEnv, dynsec: DynsecClient, detectors: list[str]
) -> None:
    if active_alarm(stack, detectors[0]) is None:
        leak(stack, services, dynsec, detectors[0])
    with stack.api("viewer") as api:

        def opened() -> list[dict[str, Any]]:
            found = api.get(f"/api/v1/parks/{PARK}/incidents", params={"status": "open"})
            return list(found.json()["items"])

        wait_until(lambda: bool(opened()), 60, "the worker to open an incident")
        incidents = opened()
        base = f"/api/v1/parks/{PARK}/incidents"
        impacts = {i["id"]: api.get(f"{base}/{i['id']}/impact").json() for i in incidents}
        zones = {incident_id: len(body["zones"]) for incident_id, body in impacts.items()}
    assert all(zones.values())
    screen = open_screen(browser, stack, "viewer")
    for incident_id, count in zones.items():
        screen.page.wait_for_selector(
            f'#incident-list li[data-incident="{incident_id}"][data-zones="{count}"]',
            timeout=30_000,
        )
    drawn = screen.evaluate(
        "window.cockpit.ctx.map.chart.getOption().series.find(s => s.id === 'zones').data.length"
    )
    assert drawn == sum(zones.values())
    assert screen.page.text_content("#incident-list .countdown") not in (None, "--:--:--")
    screen.shot("incident-zones")
    assert screen.errors == []


def outbox_ids(stack: Stack, after: float) -> list[str]:
    """The ids of the park's events stored after the epoch second ``after``."""
    with psycopg.connect(stack.settings.resolved_database_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id FROM event_outbox WHERE park_id = %s AND created_at > to_timestamp(%s) "
            "ORDER BY created_at",
            (PARK, after),
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_the_event_stream_resumes_after_a_dropped_connection_without_loss(
    browser: Any, stack: Stack, services: ServiceEnv, dynsec: DynsecClient, detectors: list[str]
) -> None:
    screen = open_screen(browser, stack, "operator")
    screen.page.wait_for_function("window.cockpit.live.source?.readyState === 1", timeout=30_000)
    dropped = time.time()
    stack.stop_api()  # the stream drops; the ingestor goes on storing events meanwhile
    try:
        device = Publisher(MqttTarget.from_url(services.mqtt_url), dynsec, PARK, detectors[2])
        try:

            def stored() -> bool:
                device.send({"ts": int(time.time() * 1000), "values": {"gas_lel_pct": LEAK_LEL}})
                return bool(outbox_ids(stack, dropped))

            wait_until(stored, 60, "events stored while the API is down")
        finally:
            device.close()
        missed = outbox_ids(stack, dropped)
    finally:
        stack.start_api()
    screen.page.wait_for_function(
        "ids => ids.every(id => window.cockpit.live.ids.includes(id))", arg=missed, timeout=60_000
    )
    screen.shot("stream-resumed")
    assert set(missed) <= set(screen.evaluate("window.cockpit.live.ids"))
    failed = [e for e in screen.errors if "ERR_CONNECTION_REFUSED" not in e]
    assert failed == []
    with httpx.Client() as client:  # the page came back on the API it lost
        assert client.get(f"{stack.base}/healthz").status_code == 200


def test_a_stream_that_dies_silently_is_opened_again_without_loss(
    browser: Any, stack: Stack, detectors: list[str]
) -> None:
    """The stream's connection stays open but carries nothing (the API's host gone, a NAT's
    state dropped: no reset). The page notices the missing heartbeats, opens a new stream
    after the last event it saw, and gets the events of the silence."""
    proxy, screen = SilentProxy(stack.port).start(), None
    try:
        screen = open_screen(browser, replace(stack, base=proxy.base), "operator")
        live = "window.cockpit.live"
        # open, and a heartbeat heard (it carries the stream's position); a function, not an
        # expression: Playwright polls an expression with eval, which the page's CSP refuses
        screen.page.wait_for_function(
            f"() => {live}.source?.readyState === 1 && {live}.lastId !== null", timeout=30_000
        )
        assert proxy.silence_streams() == 1
        database_url = stack.settings.resolved_database_url()
        missed = [
            emit(database_url, PARK, "device.online", {"device_id": device, "status": "online"})
            for device in detectors[:2]
        ]
        screen.page.wait_for_function(
            f"ids => ids.every(id => {live}.ids.includes(id))", arg=missed, timeout=60_000
        )
        assert screen.evaluate(f"{live}.reopened") == 1
        assert screen.evaluate(f"{live}.source.readyState") == 1
        screen.shot("stream-reopened-after-silence")
        assert screen.errors == []
    finally:
        if screen is not None:  # its page would go on reconnecting to the proxy's port
            screen.page.context.close()
        proxy.stop()


def test_an_unknown_key_gets_the_sign_in_form_and_a_good_key_signs_in(
    browser: Any, stack: Stack
) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.goto(f"{stack.base}/#key=ptk_0000000000000000_unknown&park={PARK}")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.text_content("#signin-error") == "密钥无效或已吊销，请重新登录"
    assert page.evaluate("sessionStorage.getItem('parktwin.key')") is None
    page.fill("#signin-key", stack.keys["viewer"])
    page.fill("#signin-park", PARK)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.text_content("#role") == "只读"
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('parktwin.key')") is None
    context.close()
