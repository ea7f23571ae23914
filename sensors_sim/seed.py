"""``parktwin seed demo``: the generated park loaded through the same paths users have.

Assets and devices go through the asset bulk import (``app.assets.imports.service.
import_features``, the code behind ``POST /api/v1/parks/{park_id}/import/{kind}``). Each new
device gets its broker account, and its password, shown only then, is stored for the
simulator (sensors_sim/credentials.py); a device that exists but whose password is not stored
gets new credentials. Running it again changes nothing.

It takes a while (about 40 s for 2,000 devices), so ``parktwin seed`` and ``parktwin demo``
print progress lines on stderr (``devices 400/2000 (8 s)``). Measured with 600 devices on the
shared 2-core machine: the devices took 13 s without broker accounts and 24 s with them, and
each tenth took longer than the one before, because Mosquitto's dynamic-security plugin
rewrites its whole configuration file after every command (two per device); the assets took
about 16 s more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TextIO

from anyio import to_thread
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.assets.imports.service import import_features
from app.broker.dynsec import DynsecClient
from app.core.auth import ApiKey, Role
from app.core.config import Settings
from app.core.db import create_engine_for
from app.core.progress import Progress
from app.devices import service as devices
from app.parks import repository as parks
from app.parks.deps import ParkContext
from sensors_sim import credentials
from sensors_sim.features import KINDS, features
from sensors_sim.layout import Park, generate

logger = logging.getLogger(__name__)

CHUNK = 250  # rows per transaction at most
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


async def _import(
    engine: AsyncEngine,
    park: Park,
    broker: DynsecClient | None,
    existing: set[str],
    out: TextIO | None,
) -> dict[str, str]:
    ctx = admin_context(park.id)
    new: dict[str, str] = {}
    for kind in KINDS:
        items = features(park, kind)
        if kind == "devices":
            items = [f for f in items if f["properties"]["id"] not in existing]
        progress, step = _progress(kind, len(items), out), chunk_size(len(items))
        for i in range(0, len(items), step):
            chunk = items[i : i + step]
            async with AsyncSession(engine) as session, session.begin():
                result = await import_features(
                    session, ctx=ctx, kind=kind, features=chunk, broker=broker
                )
            for credential in result.credentials or ():
                if credential.mqtt_password:
                    new[credential.device_id] = credential.mqtt_password
            if progress:
                progress.advance(len(chunk))
        logger.info("imported %d %s", len(items), kind)
    return new


async def _rotate(
    engine: AsyncEngine,
    park_id: str,
    broker: DynsecClient | None,
    device_ids: list[str],
    out: TextIO | None,
) -> dict[str, str]:
    ctx = admin_context(park_id)
    new: dict[str, str] = {}
    if broker is None:
        return new
    progress = _progress("new credentials", len(device_ids), out)
    for device_id in device_ids:
        async with AsyncSession(engine) as session, session.begin():
            answer = await devices.rotate_credentials(
                session, ctx=ctx, device_id=device_id, broker=broker
            )
        if answer.mqtt_password:
            new[device_id] = answer.mqtt_password
        if progress:
            progress.advance(1)
    return new


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
    broker = None
    if settings.mqtt_credentials == "dynsec":
        broker = DynsecClient(settings.mqtt_target("api"), timeout=30)
        await to_thread.run_sync(broker.connect)
    try:
        created = await _ensure_park(engine, park)
        existing = await _existing_devices(engine, park.id)
        stored = credentials.load(settings.state_dir, park.id)
        creds = stored or credentials.ParkCredentials(park.id, layout_seed, device_count)
        creds.layout_seed, creds.devices = layout_seed, device_count
        new = await _import(engine, park, broker, existing, progress)
        creds.passwords.update(new)
        missing = [d.id for d in park.devices if d.id not in creds.passwords]
        rotated = await _rotate(engine, park.id, broker, missing, progress)
        creds.passwords.update(rotated)
        path = credentials.save(settings.state_dir, creds)
    finally:
        if broker is not None:
            await to_thread.run_sync(broker.close)
        await engine.dispose()
    return SeedResult(
        park.id,
        created,
        len(park.devices),
        len(new),
        len(rotated),
        str(path),
    )
