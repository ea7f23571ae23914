"""``parktwin demo``: services, migrations, the demo park, the ingestor, the worker, the
simulator at a gentle rate, a local webhook receiver and the API, in the foreground.

Ctrl-C (SIGINT) or SIGTERM stops the API; then the children get SIGTERM and are waited for,
the receiver shuts down, and the embedded services stop if this command started them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine_for
from app.webhooks import repository as webhooks
from app.webhooks import service as webhook_service
from app.webhooks.schemas import WebhookCreate
from sensors_sim.receiver import Receiver
from sensors_sim.seed import admin_context, seed_park

PARK = "demo"
SIM_RATE = 100.0  # messages per second: every device about every 20 s
EVENT_TYPES = ["alarm.*", "device.offline", "incident.*"]


def _webhook_file(state_dir: Path) -> Path:
    return state_dir / "sim" / f"{PARK}.webhook.json"


async def ensure_webhook(settings: Settings, url: str) -> str:
    """Subscribe ``url`` to the demo park's alarm events; return the signing secret. The
    subscription of the previous demo run (another port) is deleted."""
    path = _webhook_file(settings.state_dir)
    engine = create_engine_for(settings.resolved_database_url(), pool_size=1)
    ctx = admin_context(PARK)
    try:
        async with AsyncSession(engine) as session, session.begin():
            if path.exists():
                previous = orjson.loads(path.read_bytes())
                await webhooks.delete(session, PARK, uuid.UUID(previous["id"]))
            created = await webhook_service.create(
                session,
                ctx=ctx,
                data=WebhookCreate.model_validate({"url": url, "event_types": EVENT_TYPES}),
                settings=settings,
            )
    finally:
        await engine.dispose()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps({"id": str(created.id), "url": url, "secret": created.secret}))
    return created.secret


def _children(
    env: dict[str, str], rate: float, scenario: str | None
) -> list[subprocess.Popen[bytes]]:
    sim = ["sim", "--park", PARK, "--rate", str(rate)]
    if scenario:
        sim += ["--scenario", scenario]
    commands = [["ingest"], ["worker"], sim]
    return [subprocess.Popen([sys.executable, "-m", "app.cli", *c], env=env) for c in commands]


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_demo(
    settings: Settings,
    host: str,
    port: int,
    serve: Callable[[Settings, str, int], None],
    rate: float = SIM_RATE,
    scenario: str | None = None,
    devices: int = 2000,
) -> int:
    from app.apikeys.cli import replace_demo_key
    from app.core.migrate import upgrade_to_head
    from app.embedded.services import EmbeddedServices

    started = time.monotonic()
    services = EmbeddedServices.from_settings(settings)
    was_running = services.postgres.running(), services.mosquitto.running()
    urls = services.up()
    for name, url in urls.items():
        print(f"{name}={url}")
    upgrade_to_head(urls["PARKTWIN_DATABASE_URL"])
    demo_settings = settings.model_copy(
        update={
            "database_url": urls["PARKTWIN_DATABASE_URL"],
            "mqtt_url": urls["PARKTWIN_MQTT_URL"],
            "api_mqtt_url": urls.get("PARKTWIN_API_MQTT_URL"),  # the API's own broker account
        }
    )
    print("seeding the demo park (the first time takes a minute or two)...", flush=True)
    seeding = seed_park(demo_settings, PARK, device_count=devices, progress=sys.stderr)
    result = asyncio.run(seeding)
    print(f"park {PARK!r}: {result.devices} devices, credentials in {result.credentials_file}")
    token = asyncio.run(replace_demo_key(demo_settings))  # the previous run's key is revoked
    receiver = Receiver().start()
    # The demo's receiver is local: its address and port are allowed, nothing else private.
    receiver_port = receiver.server.server_address[1]
    local = {
        "PARKTWIN_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        "PARKTWIN_WEBHOOK_ALLOWED_PORTS": f"{demo_settings.webhook_allowed_ports},{receiver_port}",
    }
    demo_settings = demo_settings.model_copy(
        update={
            "webhook_allowed_networks": [ipaddress.ip_network("127.0.0.1/32")],
            "webhook_allowed_ports": local["PARKTWIN_WEBHOOK_ALLOWED_PORTS"],
        }
    )
    children: list[subprocess.Popen[bytes]] = []
    try:
        receiver.secret = asyncio.run(ensure_webhook(demo_settings, receiver.url))
        env = {**os.environ, **urls, **local}
        env["PARKTWIN_STATE_DIR"] = str(settings.state_dir)
        children = _children(env, rate, scenario)
        print(f"admin API key: {token}")
        print(f"webhook receiver: {receiver.url} (events are logged here)")
        print(f"simulator: park {PARK!r}, {rate:g} msg/s, scenario {scenario or 'none'}")
        # The key rides in the fragment: never sent to the server, moved by the page into
        # sessionStorage and cleared from the address bar.
        print(f"cockpit (signed in): http://{host}:{port}/#key={token}&park={PARK}")
        print(
            f"API: http://{host}:{port}/docs, e.g. curl -H 'Authorization: Bearer {token}' "
            f"http://{host}:{port}/api/v1/parks/{PARK}/latest"
        )
        print(f"ready in {time.monotonic() - started:.0f} s (Ctrl-C stops the demo)", flush=True)
        serve(demo_settings, host, port)
    finally:
        _stop(children)
        receiver.stop()
        if not any(was_running):
            services.down()
    return 0
