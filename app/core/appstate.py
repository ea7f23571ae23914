"""The API process's state, typed: what ``create_app`` and its lifespan put on ``app.state``
and what routes and dependencies read back, through :func:`app_state` instead of attribute
names in strings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fastapi import Request

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from app.core.auth import TtlCache
    from app.core.config import Settings
    from app.core.microcache import MicroCache

C = TypeVar("C")

MapLayer = Callable[["AsyncSession", str], Awaitable[list[dict[str, Any]]]]
"""Features another module adds to a park's map (session, park id): wired in ``create_app``, so
the map (assets) does not import the module that owns them (e.g. emergency's hazard sources)."""


class BrokerLink(Protocol):
    """The API's connection to the broker (``app.broker.dynsec.DynsecClient``), as core sees it."""

    def is_connected(self) -> bool: ...


class EventsLink(Protocol):
    """The process's event-stream hub (``app.events.hub.EventHub``), as core sees it."""

    def open(self) -> None: ...

    def listen(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class AppState:
    """Made by ``create_app``; ``engine``, ``sessionmaker`` and ``broker`` are set when the
    lifespan starts (reading them before is an AttributeError, as before)."""

    settings: Settings
    registry: CollectorRegistry
    latest_cache: MicroCache[bytes]
    api_keys: TtlCache
    """Authenticated keys by token hash, for ``PARKTWIN_API_KEY_CACHE_TTL``."""
    park_timezones: TtlCache
    map_layers: list[MapLayer] = field(default_factory=list)
    twin_cache: MicroCache[bytes] = field(default_factory=lambda: MicroCache(0))
    """Twin roll-up and map answers, for ``PARKTWIN_TWIN_CACHE_TTL`` (0: off)."""
    spatial_brute_force: bool = False
    """True only while bench/spatial.py measures its baseline (linear scan, no STRtree)."""
    engine: AsyncEngine = field(init=False)
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    read_engine: AsyncEngine = field(init=False)
    read_sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    """The read-only pool (``ReadSessionDep``): the replica, else the primary in READ ONLY."""
    broker: BrokerLink = field(init=False)
    events: EventsLink = field(init=False)
    _caches: dict[type[Any], Any] = field(default_factory=dict, repr=False)

    def cache(self, kind: type[C]) -> C:
        """The process's one ``kind()`` (a domain's cache, e.g. the spatial indexes), made on
        first use."""
        if kind not in self._caches:
            self._caches[kind] = kind()
        value: C = self._caches[kind]
        return value


def app_state(request: Request) -> AppState:
    state = request.app.state
    if not isinstance(state, AppState):
        raise TypeError("app.state is not parktwin's AppState: build the app with create_app()")
    return state
