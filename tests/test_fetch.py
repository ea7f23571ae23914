"""app/core/fetch.py: the fetch tail on a real database."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import create_engine_for
from app.core.fetch import fetch_all, fetch_one


def test_fetch_all_and_fetch_one_bind_their_values(database_url: str) -> None:
    async def run() -> None:
        engine = create_engine_for(database_url, pool_size=1)
        try:
            async with AsyncSession(engine) as session:
                rows = await fetch_all(
                    session, "SELECT g AS n FROM generate_series(1, :n) g ORDER BY g", {"n": 3}
                )
                assert [r["n"] for r in rows] == [1, 2, 3]
                one = await fetch_one(session, text("SELECT :v AS v"), {"v": "x'; --"})
                assert one is not None and one["v"] == "x'; --"  # a value, never SQL
                assert await fetch_one(session, "SELECT 1 WHERE false") is None
        finally:
            await engine.dispose()

    asyncio.run(run())
