"""``parktwin seed demo``: the generated park, up to 100,000 devices, loaded in bulk.

Assets go through the asset bulk import (``app.assets.imports.service.import_features``, the
code behind ``POST /api/v1/parks/{park_id}/import/{kind}``). Devices, which may be a hundred
thousand, are validated with the same schema and inserted in chunks of ``DEVICE_CHUNK`` by
``app.devices.service.create_many`` (one statement per chunk, not one savepoint per row).

Their broker accounts are made all at once at the end: with the embedded broker by writing
the dynamic-security file while it is stopped (``EmbeddedMosquitto.edit_accounts``: the
plugin of Mosquitto 2.0 rewrites its whole file after every command, so a command's cost grows
with the accounts already there, about 0.2 s each at 2,000 and 1 s at 10,000 on the shared
machine; docs/benchmarks.md), otherwise through the control topic in messages of many
commands. Each password, shown only then, is stored for the simulator
(sensors_sim/credentials.py); a device that exists but whose password is not stored gets a new
one in the same bulk step. Running it again changes nothing.

``parktwin seed`` and ``parktwin demo`` print progress lines on stderr (``devices 4000/100000
(8 s)``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TextIO

from anyio import to_thread
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.assets.imports import parse
from app.assets.imports.service import import_features
from app.broker.dynsec import DynsecClient, new_password
from app.broker.dynsec_file import DynsecFile
from app.core.auth import ApiKey, Role
from app.core.config import Settings
from app.core.db import create_engine_for
from app.core.progress import Progress
from app.devices import service as devices
from app.devices.schemas import DeviceCreate
from app.embedded.services import EmbeddedServices
from app.parks import repository as parks
from app.parks.deps import ParkContext
from sensors_sim import credentials
from sensors_sim.features import KINDS, features
from sensors_sim.layout import Park, generate

logger = logging.getLogger(__name__)

CHUNK = 250  # rows per transaction at most
DEVICE_CHUNK = 5000  # devices per transaction in the bulk path
# Above this many (command x account in the file) the broker is restarted around a file edit
# instead: at 2,000 accounts that is from 50 new ones (100 commands, ~20 s live; a restart ~2 s)
LIVE_BUDGET = 200_000
TIMEZONE = "Asia/Shanghai"


@dataclass
class SeedResult:
    park_id: str
    created_park: bool
    devices: int
    new_passwords: int
    rotated: int
    credentials_file: str


def admin_context(park_id: str) -> ParkContext:
    return ParkContext(key=ApiKey("seed", Role.admin, None), park_id=park_id, timezone=TIMEZONE)


async def _ensure_park(engine: AsyncEngine, park: Park) -> bool:
    async with AsyncSession(engine) as session, session.begin():
        if await parks.get(session, park.id) is not None:
            return False
        boundary = {"type": "Polygon", "coordinates": [park.boundary]}
        await parks.insert(
            session, {"id": park.id, "name": park.name, "timezone": TIMEZONE, "boundary": boundary}
        )
        return True


async def _existing_devices(engine: AsyncEngine, park_id: str) -> set[str]:
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            text("SELECT id FROM device WHERE park_id = :park"), {"park": park_id}
        )
        return {row[0] for row in rows}


def chunk_size(total: int) -> int:
    """Rows per transaction: at most CHUNK, and at least twenty transactions for progress."""
    return max(1, min(CHUNK, -(-total // 20)))


def _progress(label: str, total: int, out: TextIO | None) -> Progress | None:
    return Progress(label, total, out) if out is not None and total else None


async def _import_assets(engine: AsyncEngine, park: Park, out: TextIO | None) -> None:
    ctx = admin_context(park.id)
    for kind in KINDS:
        if kind == "devices":
            continue
        items = features(park, kind)
        progress, step = _progress(kind, len(items), out), chunk_size(len(items))
        for i in range(0, len(items), step):
            chunk = items[i : i + step]
            async with AsyncSession(engine) as session, session.begin():
                await import_features(session, ctx=ctx, kind=kind, features=chunk, broker=None)
            if progress:
                progress.advance(len(chunk))
        logger.info("imported %d %s", len(items), kind)


def _device_rows(items: list[dict[str, object]]) -> list[DeviceCreate]:
    return [DeviceCreate.model_validate(parse.record(item, "location")) for item in items]


async def _import_devices(
    engine: AsyncEngine, park: Park, accounts: bool, existing: set[str], out: TextIO | None
) -> dict[str, str]:
    """The devices not there yet, in chunks; their new passwords (no broker accounts yet)."""
    ctx = admin_context(park.id)
    items = [f for f in features(park, "devices") if f["properties"]["id"] not in existing]
    progress, new = _progress("devices", len(items), out), dict[str, str]()
    step = max(1, min(DEVICE_CHUNK, -(-len(items) // 20)))  # twenty steps at least
    for i in range(0, len(items), step):
        chunk = await to_thread.run_sync(_device_rows, items[i : i + step])
        async with AsyncSession(engine) as session, session.begin():
            made = await devices.create_many(session, ctx=ctx, items=chunk, accounts=accounts)
        new.update((device_id, pw) for device_id, pw in made if pw)
        if progress:
            progress.advance(len(chunk))
    logger.info("imported %d devices", len(items))
    return new


def use_file(new: int, existing: int) -> bool:
    """Whether restarting the broker around a file edit beats the control topic: each of the
    ``2 * new`` commands rewrites a file of ``existing + new`` accounts."""
    return 2 * new * (existing + new) > LIVE_BUDGET


def make_accounts(settings: Settings, park_id: str, accounts: dict[str, str]) -> str:
    """Every account at once: the embedded broker's file edited while it is stopped (when
    that is cheaper, see ``use_file``), or the control topic (many commands per message).
    Returns which way ("file", "control" or "none")."""
    if not accounts:
        return "none"
    pairs = list(accounts.items())
    services = EmbeddedServices.from_settings(settings)
    file = services.mosquitto.paths.mqtt_dynsec
    local = not services.external_mqtt and file.exists()
    if local and use_file(len(pairs), DynsecFile(file).device_count()):
        services.mosquitto.edit_accounts(lambda f: f.ensure_devices(park_id, pairs))
        return "file"
    broker = DynsecClient(settings.mqtt_target("api"), timeout=120)
    broker.connect()
    try:
        broker.ensure_devices(park_id, pairs)
    finally:
        broker.close()
    return "control"


async def seed_park(
    settings: Settings,
    park_id: str = "demo",
    layout_seed: int = 1,
    device_count: int = 2000,
    progress: TextIO | None = None,
) -> SeedResult:
    """Seed the park; with ``progress`` (a stream), lines like ``devices 400/2000 (8 s)``."""
    park = generate(park_id, layout_seed, device_count)
    engine = create_engine_for(settings.resolved_database_url(), pool_size=2)
    with_accounts = settings.mqtt_credentials == "dynsec"
    try:
        created = await _ensure_park(engine, park)
        existing = await _existing_devices(engine, park.id)
        stored = credentials.load(settings.state_dir, park.id)
        creds = stored or credentials.ParkCredentials(park.id, layout_seed, device_count)
        creds.layout_seed, creds.devices = layout_seed, device_count
        await _import_assets(engine, park, progress)
        new = await _import_devices(engine, park, with_accounts, existing, progress)
    finally:
        await engine.dispose()
    rotated: dict[str, str] = {}
    if with_accounts:  # a device whose password is not stored gets a new one
        rotated = {
            d.id: new_password()
            for d in park.devices
            if d.id not in creds.passwords and d.id not in new
        }
        await to_thread.run_sync(make_accounts, settings, park.id, {**new, **rotated})
    creds.passwords.update(new)
    creds.passwords.update(rotated)
    path = credentials.save(settings.state_dir, creds)
    return SeedResult(
        park.id,
        created,
        len(park.devices),
        len(new),
        len(rotated),
        str(path),
    )
