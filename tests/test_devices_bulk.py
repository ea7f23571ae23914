"""``app.devices.service.create_many``: the bulk seed's device path on the real database."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import ApiKey, Role
from app.core.db import create_engine_for
from app.core.errors import Unprocessable
from app.devices import service
from app.devices.schemas import DeviceCreate
from app.parks.deps import ParkContext


def _park(database_url: str) -> str:
    park_id = f"bulk-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO park (id, name) VALUES (%s, 'bulk')", (park_id,))
    return park_id


def _create(database_url: str, park_id: str, rows: list[dict[str, object]]) -> list[object]:
    ctx = ParkContext(key=ApiKey("test", Role.admin, None), park_id=park_id, timezone="UTC")
    items = [DeviceCreate.model_validate(r) for r in rows]

    async def run() -> list[object]:
        engine = create_engine_for(database_url, 1)
        try:
            async with AsyncSession(engine) as session, session.begin():
                made = await service.create_many(session, ctx=ctx, items=items, accounts=True)
                return list(made)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _one(database_url: str, sql: str, *params: object) -> object:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def meter(device_id: str, parent: str | None = None, kind: str = "electricity_meter") -> dict:
    return {"id": device_id, "type": kind, "name": device_id, "parent_meter_id": parent}


def test_devices_series_parents_and_one_version_bump(database_url: str) -> None:
    park = _park(database_url)
    made = _create(database_url, park, [meter("m0"), meter("m1", "m0"), meter("m2", "m1")])
    assert [device_id for device_id, _pw in made] == ["m0", "m1", "m2"]  # type: ignore[misc]
    assert all(pw for _id, pw in made)  # type: ignore[misc]
    assert _one(database_url, "SELECT parent_meter_id FROM device WHERE park_id = %s "
                "AND id = 'm2'", park) == "m1"  # fmt: skip
    assert _one(database_url, "SELECT count(*) FROM series WHERE park_id = %s", park) == 6
    assert _one(database_url, "SELECT version FROM asset_version WHERE park_id = %s", park) == 1


def test_a_bad_parent_or_a_loop_refuses_the_whole_batch(database_url: str) -> None:
    park = _park(database_url)
    _create(database_url, park, [meter("main")])
    with pytest.raises(Unprocessable, match="w1"):  # water and electricity share no counter
        _create(database_url, park, [meter("w1", "main", "water_meter"), meter("e1", "main")])
    with pytest.raises(Unprocessable, match="x"):
        _create(database_url, park, [meter("x", "y"), meter("y", "x")])
    with pytest.raises(Unprocessable, match="type"):
        _create(database_url, park, [meter("t", None, "flux_capacitor")])
    assert _one(database_url, "SELECT count(*) FROM device WHERE park_id = %s", park) == 1
