"""The outbox: ``enqueue`` from an AsyncSession, the NOTIFY trigger, the severity check."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.alarms import policy
from app.core.config import Settings
from app.core.db import create_engine_for
from app.webhooks import queue
from app.webhooks.outbox import enqueue
from tests.webhooks.conftest import query


def test_enqueue_writes_the_event_and_its_commit_notifies(database_url: str, park_id: str) -> None:
    async def write() -> uuid.UUID:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                return await enqueue(
                    session,
                    park_id=park_id,
                    type="device.offline",
                    severity=None,
                    data={"device_id": "d1", "last_seen_at": "2026-11-28T08:00:00Z"},
                )
        finally:
            await engine.dispose()

    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN parktwin_outbox")
        event_id = asyncio.run(write())
        notified = [n.channel for n in listener.notifies(timeout=30, stop_after=1)]
    assert notified == ["parktwin_outbox"]
    rows = query(
        database_url,
        "SELECT park_id, type, severity, data, fanned_out_at FROM event_outbox WHERE id = %s",
        event_id,
    )
    assert rows == [
        (
            park_id,
            "device.offline",
            None,
            {"device_id": "d1", "last_seen_at": "2026-11-28T08:00:00Z"},
            None,
        )
    ]


def test_an_unknown_severity_is_refused(database_url: str, park_id: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO event_outbox (park_id, type, severity, data) "
            "VALUES (%s, 'alarm.raised', 'info', '{}'::jsonb)",
            (park_id,),
        )


def test_only_statements_that_insert_events_notify(database_url: str, park_id: str) -> None:
    """A fan-out with nothing to do inserts no event (the alarm policy's flood announcement
    inserts nothing):
    it must not notify, or the worker wakes itself for ever. A marker NOTIFY sent after it
    bounds what is collected: notifications arrive in commit order."""

    async def empty_fan_out() -> tuple[int, int]:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                await session.execute(text("UPDATE event_outbox SET fanned_out_at = now()"))
            async with async_sessionmaker(engine)() as session, session.begin():
                taken = await queue.take(session, 100)
                await policy.hold_back(session, taken, Settings())
                return await queue.fan_out(session, taken)
        finally:
            await engine.dispose()

    def collect_until_marker(listener: psycopg.Connection) -> list[str]:
        payloads: list[str] = []
        for notify in listener.notifies(timeout=30):
            payloads.append(notify.payload)
            if notify.payload == "marker":
                break
        return payloads

    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN parktwin_outbox")
        assert asyncio.run(empty_fan_out()) == (0, 0)
        with psycopg.connect(database_url, autocommit=True) as other:
            other.execute("SELECT pg_notify('parktwin_outbox', 'marker')")
            assert collect_until_marker(listener) == ["marker"]
            other.execute(
                "INSERT INTO event_outbox (park_id, type, data) "
                "VALUES (%s, 'device.offline', '{}'::jsonb)",
                (park_id,),
            )
            other.execute("SELECT pg_notify('parktwin_outbox', 'marker')")
            assert collect_until_marker(listener) == ["", "marker"]
