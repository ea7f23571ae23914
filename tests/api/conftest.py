"""Fixtures of the read API tests: one app per session, keys of every role, a park with devices.

Keys are written straight into ``api_key`` (the same hashing as ``parktwin apikey create``);
telemetry is written with SQL, as the ingestor would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.core.auth import generate_key
from app.core.config import Settings
from app.main import create_app
from tests.conftest import wait_ready


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


def make_key(
    database_url: str, role: str, park_id: str | None = None, enterprise_id: str | None = None
) -> str:
    key = generate_key()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO api_key (id, secret_hash, role, park_id, enterprise_id) "
            "VALUES (%s, %s, %s, %s, %s)",
            (key.id, key.secret_hash, role, park_id, enterprise_id),
        )
    return key.token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def admin(database_url: str) -> dict[str, str]:
    return auth(make_key(database_url, "admin"))


@pytest.fixture(scope="session")
def viewer(database_url: str) -> dict[str, str]:
    return auth(make_key(database_url, "viewer"))


@dataclass
class Park:
    id: str
    timezone: str


def create_park(client: TestClient, admin: dict[str, str], tz: str = "Asia/Shanghai") -> Park:
    park_id = f"p-{uuid.uuid4().hex[:8]}"
    response = client.post(
        "/api/v1/parks", json={"id": park_id, "name": "test park", "timezone": tz}, headers=admin
    )
    assert response.status_code == 201, response.text
    return Park(park_id, tz)


def create_device(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    device_type: str = "electricity_meter",
    **extra: object,
) -> dict[str, object]:
    device_id = f"d-{uuid.uuid4().hex[:8]}"
    body = {"id": device_id, "type": device_type, "name": "a device", **extra}
    response = client.post(f"/api/v1/parks/{park_id}/devices", json=body, headers=admin)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def series_id(database_url: str, park_id: str, device_id: str, metric: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT id FROM series WHERE park_id = %s AND device_id = %s AND metric = %s",
            (park_id, device_id, metric),
        ).fetchone()
    assert row is not None
    return int(row[0])


SERIES_TABLES = ("telemetry", "rollup_hour", "rollup_day", "rollup_month", "telemetry_dirty",
                 "latest_value")  # fmt: skip
"""Every table holding rows of a series' readings (what ``write_readings`` and the worker
write)."""


def clear_series(database_url: str, sids: list[int]) -> None:
    """Delete the readings of ``sids`` and everything made from them."""
    with psycopg.connect(database_url) as conn:
        for table in SERIES_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", (sids,))


def write_readings(
    database_url: str, sid: int, readings: list[tuple[datetime, float]], mark: bool = True
) -> None:
    """Insert readings as the ingestor does: rows, latest value, and the dirty hours."""
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO telemetry (time, series_id, value) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [(t, sid, v) for t, v in readings],
        )
        if not readings:
            return
        newest = max(readings)
        cur.execute(
            "INSERT INTO latest_value (series_id, time, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (series_id) DO UPDATE SET time = excluded.time, value = excluded.value "
            "WHERE latest_value.time < excluded.time",
            (sid, newest[0], newest[1]),
        )
        if mark:
            cur.execute(
                "INSERT INTO telemetry_dirty (series_id, bucket) "
                "SELECT DISTINCT %s::int, time_bucket('1 hour', t) "
                "FROM unnest(%s::timestamptz[]) t "
                "ON CONFLICT (series_id, bucket) DO UPDATE SET bucket = excluded.bucket",
                (sid, [t for t, _ in readings]),
            )
