"""The worker's HTTP connections to receivers, kept alive per pinned origin.

A webhook or a robot message is POSTed to an address the guard checked (``guard.pin``), with the
URL's host name in ``Host`` and, for https, as the TLS server name the certificate must carry.
httpx pools connections by the request URL's origin, which here is the address: one client for
every receiver would let a TLS connection whose certificate was checked for one host name carry a
request for another name served at the same address. So each origin as the guard sees it (scheme,
host name, port, checked address) gets a client of its own, and only its own requests reuse its
connections.

A connection is kept for :data:`KEEPALIVE_S` after its last answer, shorter than the common idle
timeouts of receivers (5 s for Node.js and Apache httpd), so the next event to a busy receiver
skips the TCP and TLS handshakes: on a receiver across the internet, two round trips and a
certificate check, most of a POST's time. A receiver may still close a kept connection just as a
request leaves on it; :func:`send` then sends the request once more on a new connection (at least
once, as every retry: the ``webhook-id`` is the same).

Bounded, since a park admin chooses the receivers: at most :data:`ORIGINS` clients, each
keeping at most :data:`KEEP` idle connections, and a client unused for longer than
:data:`KEEPALIVE_S` is retired at the next delivery (httpx closes an expired connection only
when its own client is used again). A retired client (also the least recently used one past
:data:`ORIGINS`) is closed after ``PARKTWIN_WEBHOOK_TIMEOUT``, when any request still on it has
ended. So the worker holds at most 256 idle sockets, and after any delivery only for
receivers it used within the last few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable

import httpx

from app.webhooks.guard import Target

ORIGINS = 64  # clients kept, one per (scheme, host name, port, address)
KEEP = 4  # idle connections kept per client
KEEPALIVE_S = 4.0  # how long an idle connection is kept

Origin = tuple[str, str, int, str]

# A kept connection the receiver closed as the request left on it.
STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class Clients:
    """One ``httpx.AsyncClient`` per pinned origin: no redirects, no proxies from the
    environment, connections kept alive for :data:`KEEPALIVE_S`."""

    def __init__(
        self,
        timeout: float,
        *,
        origins: int = ORIGINS,
        keep: int = KEEP,
        keepalive_s: float = KEEPALIVE_S,
        verify: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout
        self._keepalive_s = keepalive_s
        self._clock = clock
        self._origins = origins
        self._limits = httpx.Limits(max_keepalive_connections=keep, keepalive_expiry=keepalive_s)
        # One TLS context for every client: each of its own would load the CA bundle again
        # (about 20 ms of CPU and 1 MB for each new receiver).
        self._verify = verify or httpx.create_ssl_context(trust_env=False)
        # least recently used first, with the time of its last use
        self._clients: OrderedDict[Origin, tuple[httpx.AsyncClient, float]] = OrderedDict()
        self._retired: dict[httpx.AsyncClient, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def client(self, target: Target, address: str) -> httpx.AsyncClient:
        """The client of ``target``'s origin at ``address`` (created on first use)."""
        url = target.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80), address)
        now = self._clock()
        found = self._clients.pop(key, None)
        client = found[0] if found is not None else self._new()
        self._clients[key] = (client, now)  # the most recently used, last
        while self._clients:
            oldest, (idle, used) = next(iter(self._clients.items()))
            if len(self._clients) <= self._origins and now - used <= self._keepalive_s:
                break
            del self._clients[oldest]
            self._retire(idle)
        return client

    def _new(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
            limits=self._limits,
            verify=self._verify,
        )

    def _retire(self, client: httpx.AsyncClient) -> None:
        async def close() -> None:
            await asyncio.sleep(self._timeout)  # a request still on it ends by then
            with contextlib.suppress(Exception):
                await client.aclose()
            self._retired.pop(client, None)

        self._retired[client] = asyncio.create_task(close())

    async def aclose(self) -> None:
        """Close every client and its connections (requests in flight end with an error)."""
        for task in self._retired.values():
            task.cancel()
        clients = [client for client, _used in self._clients.values()] + [*self._retired]
        self._clients.clear()
        self._retired.clear()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()


async def send(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Send ``request``, streamed; once more on a new connection if a kept one was closed
    under it (the broken connection has left the pool by then)."""
    try:
        return await client.send(request, stream=True)
    except STALE:
        return await client.send(request, stream=True)
