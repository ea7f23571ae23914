"""``park_id`` path parameters as validators: the key must see the park and it must exist.

The park check comes before the role check, so a key bound to another park learns nothing
(404), whatever it asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import ApiKey, Role, current_key, request_cache
from app.core.db import SessionDep
from app.core.errors import NotFound
from app.core.types import IDENT_PATTERN
from app.parks import repository

ParkIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the park's id")]


@dataclass(frozen=True)
class ParkContext:
    key: ApiKey
    park_id: str
    timezone: str


async def _timezone(request: Request, session: AsyncSession, park_id: str) -> str:
    """The park's timezone (cached a few seconds: it never changes), or 404."""
    cache = request_cache(request, "park_timezones")
    timezone = cache.get(park_id)
    if timezone is None:
        park = await repository.get(session, park_id)
        if park is None:
            raise NotFound(f"park {park_id!r} not found")
        timezone = park["timezone"]
        cache.put(park_id, timezone)
    return str(timezone)


def park_access(
    role: Role, key_from: Callable[..., Awaitable[ApiKey]] = current_key
) -> Callable[..., Awaitable[ParkContext]]:
    """The dependency checking a park and ``role`` for the key ``key_from`` finds (by default
    the ``Authorization`` header's)."""

    async def dependency(
        request: Request,
        park_id: ParkIdPath,
        session: SessionDep,
        key: ApiKey = Depends(key_from),  # noqa: B008 (an annotation cannot name a local)
    ) -> ParkContext:
        key.check_park(park_id)
        timezone = await _timezone(request, session, park_id)
        key.check_role(role)
        return ParkContext(key=key, park_id=park_id, timezone=timezone)

    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency


ParkViewer = Annotated[ParkContext, Depends(park_access(Role.viewer))]
ParkOperator = Annotated[ParkContext, Depends(park_access(Role.operator))]
ParkAdmin = Annotated[ParkContext, Depends(park_access(Role.admin))]
