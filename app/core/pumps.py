"""Shutting down a pump: a background task that claims work and starts sends as tasks, with
HTTP clients of its own (the webhook and the notification deliveries)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Protocol


class Closable(Protocol):
    async def aclose(self) -> None: ...


async def close_pump(
    pump: asyncio.Task[Any] | None,
    tasks: Iterable[asyncio.Task[Any]],
    client: Closable | None,
) -> None:
    """Stop claiming, let the sends in flight finish (each is bounded by its timeout), then
    close the client."""
    if pump is not None:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    pending = list(tasks)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    if client is not None:
        with contextlib.suppress(Exception):
            await client.aclose()
