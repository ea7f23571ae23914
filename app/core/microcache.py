"""A short-lived shared answer for identical reads: many dashboards polling the same wall.

Fifty operations-centre screens asking for the same 1,000 tiles every second need one query a
second, not fifty. :class:`MicroCache` keeps an answer for ``ttl`` (default one second, well
inside the ``Cache-Control: max-age`` the API already sends) and makes concurrent askers of an
answer being computed wait for that one computation (single flight) instead of starting their
own. Keys must hold everything the answer depends on (the park, the query); access checks run
before the cache is consulted. One cache per process, made in ``create_app``.

:meth:`MicroCache.invalidate` forgets every answer at once (the twin and map cache is
invalidated by each outbox notification: an alarm's colour must not wait out the ``ttl``). An
answer whose computation began before the invalidation is handed to those who asked for it but
not kept, and nobody asking after the invalidation joins it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    expires: float
    body: T


class MicroCache(Generic[T]):
    """Answers (``T``: the response bytes, or a domain's object) shared for ``ttl_s``;
    ``flights_only``: none kept, only a computation under way shared by those who ask for it
    meanwhile (an answer at most as old as the asker's wait), whatever ``ttl_s``."""

    def __init__(
        self,
        ttl_s: float,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
        *,
        flights_only: bool = False,
    ) -> None:
        self.ttl_s = 0.0 if flights_only else ttl_s
        self.flights_only = flights_only
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Future[T]] = {}
        self._generation = 0
        self.hits = self.misses = 0

    def invalidate(self) -> None:
        """Forget every answer; computations under way are not kept (see the module)."""
        self._generation += 1
        self._entries.clear()
        self._flights.clear()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The cached answer for ``key``, the one being computed, or a new one."""
        if self.ttl_s <= 0 and not self.flights_only:
            return await compute()
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self.clock():
            self.hits += 1
            return entry.body
        flight = self._flights.get(key)
        if flight is None:
            self.misses += 1
            return await self._compute(key, compute)
        self.hits += 1
        try:
            return await asyncio.shield(flight)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not flight.cancelled() or (task is not None and task.cancelling()):
                raise
        return await self.get(key, compute)  # the request computing it went away: our turn

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        flight: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        generation = self._generation
        try:
            body = await compute()
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.set_result(body)
        if self.ttl_s > 0 and generation == self._generation:  # else: nothing is kept, or
            self._store(key, body)  # it was begun before an invalidation
        return body

    def _store(self, key: Hashable, body: T) -> None:
        self._entries[key] = _Entry(self.clock() + self.ttl_s, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
