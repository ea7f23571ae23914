"""The shared short-lived answer for identical reads: one computation per key and TTL, one for
concurrent askers, none kept from a failure."""

from __future__ import annotations

import asyncio

import pytest

from app.core.microcache import MicroCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A computation that counts its calls and can be held until released."""

    def __init__(self, *, held: bool = False) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        if not held:
            self.release.set()

    async def __call__(self) -> bytes:
        self.calls += 1
        call = self.calls
        await self.release.wait()
        return f"answer {call}".encode()


def test_an_answer_is_shared_until_its_ttl_runs_out() -> None:
    async def scenario() -> None:
        clock, source = Clock(), Source()
        cache = MicroCache(1.0, clock=clock)
        assert await cache.get("wall", source) == b"answer 1"
        clock.now += 0.9
        assert await cache.get("wall", source) == b"answer 1"
        assert await cache.get("other wall", source) == b"answer 2"
        clock.now += 0.2
        assert await cache.get("wall", source) == b"answer 3"
        assert (cache.hits, cache.misses) == (1, 3)

    asyncio.run(scenario())


def test_concurrent_askers_wait_for_one_computation() -> None:
    async def scenario() -> None:
        source = Source(held=True)
        cache = MicroCache(1.0)
        askers = [asyncio.create_task(cache.get("wall", source)) for _ in range(50)]
        await asyncio.sleep(0)
        source.release.set()
        assert set(await asyncio.gather(*askers)) == {b"answer 1"}
        assert source.calls == 1

    asyncio.run(scenario())


def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    async def scenario() -> None:
        cache, calls = MicroCache(1.0), []

        async def failing() -> bytes:
            calls.append(1)
            await asyncio.sleep(0.01)
            raise RuntimeError("database went away")

        askers = [asyncio.create_task(cache.get("wall", failing)) for _ in range(3)]
        results = await asyncio.gather(*askers, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results) and len(calls) == 1
        assert await cache.get("wall", Source()) == b"answer 1"

    asyncio.run(scenario())


def test_a_waiter_computes_itself_when_the_computing_request_is_cancelled() -> None:
    async def scenario() -> None:
        source = Source(held=True)
        cache = MicroCache(1.0)
        first = asyncio.create_task(cache.get("wall", source))
        await asyncio.sleep(0)
        second = asyncio.create_task(cache.get("wall", source))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        source.release.set()
        assert await second == b"answer 2"
        with pytest.raises(asyncio.CancelledError):
            await first

    asyncio.run(scenario())


def test_a_zero_ttl_turns_it_off() -> None:
    async def scenario() -> None:
        source, cache = Source(), MicroCache(0)
        await cache.get("wall", source)
        await cache.get("wall", source)
        assert source.calls == 2

    asyncio.run(scenario())


def test_invalidate_forgets_every_answer() -> None:
    async def scenario() -> None:
        source, cache = Source(), MicroCache(60.0)
        assert await cache.get("wall", source) == b"answer 1"
        assert await cache.get("map", source) == b"answer 2"
        cache.invalidate()
        assert await cache.get("wall", source) == b"answer 3"
        assert await cache.get("map", source) == b"answer 4"
        assert await cache.get("wall", source) == b"answer 3"  # kept again after that

    asyncio.run(scenario())


def test_an_answer_begun_before_an_invalidation_is_given_but_not_kept_nor_joined() -> None:
    """The map computed while an alarm commits: its askers get it, a screen asking after the
    alarm's notification does not join it, and nobody gets it later from the cache."""

    async def scenario() -> None:
        source = Source(held=True)
        cache = MicroCache(60.0)
        before = asyncio.create_task(cache.get("map", source))
        await asyncio.sleep(0)
        cache.invalidate()  # the alarm's notification
        after = asyncio.create_task(cache.get("map", source))
        await asyncio.sleep(0)
        source.release.set()
        assert await before == b"answer 1"
        assert await after == b"answer 2"  # its own computation, begun after the alarm
        assert await cache.get("map", source) == b"answer 2"
        assert source.calls == 2

    asyncio.run(scenario())


def test_flights_only_shares_a_computation_under_way_and_keeps_nothing() -> None:
    """A domain's builds under way (the carbon ledger): askers meanwhile share the one being
    made; one asking after it is made starts another, whatever the ttl."""

    async def scenario() -> None:
        source = Source(held=True)
        cache = MicroCache(60.0, flights_only=True)
        askers = [asyncio.create_task(cache.get("ledger", source)) for _ in range(3)]
        await asyncio.sleep(0)
        source.release.set()
        assert await asyncio.gather(*askers) == [b"answer 1"] * 3
        assert await cache.get("ledger", source) == b"answer 2"
        assert (source.calls, cache.hits, cache.misses) == (2, 2, 2)

    asyncio.run(scenario())
