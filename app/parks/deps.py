"""``park_id`` path parameters as validators: the key must see the park and it must exist.

The park check comes before the role check, so a key bound to another park learns nothing
(404), whatever it asked for.

The enterprise routes (``/parks/{park_id}/enterprises/{enterprise_id}/...`` that an enterprise
serves itself from) take ``enterprise_access``: park staff with the route's staff role, and an
``enterprise`` key for its own enterprise only; another enterprise, or one the park does not
have, is 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.appstate import app_state
from app.core.auth import ApiKey, Role, current_key
from app.core.db import SessionDep, on_primary_or_replica
from app.core.errors import NotFound
from app.core.types import IDENT_PATTERN
from app.parks import repository

ParkIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the park's id")]
EnterpriseIdPath = Annotated[str, Path(pattern=IDENT_PATTERN, description="the enterprise's id")]


@dataclass(frozen=True)
class ParkContext:
    key: ApiKey
    park_id: str
    timezone: str


@dataclass(frozen=True)
class EnterpriseContext(ParkContext):
    enterprise_id: str

    @property
    def by_enterprise(self) -> bool:
        """The caller is the enterprise itself (not park staff)."""
        return self.key.role is Role.enterprise


async def _timezone(request: Request, session: AsyncSession, park_id: str) -> str:
    """The park's timezone (cached a few seconds: it never changes), or 404."""
    cache = app_state(request).park_timezones
    timezone = cache.get(park_id)
    if timezone is None:
        park = await on_primary_or_replica(
            request, session, lambda s, _writable: repository.get(s, park_id)
        )
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


def enterprise_access(staff_role: Role) -> Callable[..., Awaitable[EnterpriseContext]]:
    """The dependency of an enterprise route: the park as ``park_access``, then the enterprise
    key's own enterprise (any other: 404) or park staff with ``staff_role``. It carries
    ``required_role`` (for staff) and ``enterprise_scoped``, read by the access matrix test."""

    async def dependency(
        request: Request,
        park_id: ParkIdPath,
        enterprise_id: EnterpriseIdPath,
        session: SessionDep,
        key: ApiKey = Depends(current_key),  # noqa: B008 (an annotation cannot name a local)
    ) -> EnterpriseContext:
        key.check_park(park_id)
        timezone = await _timezone(request, session, park_id)
        key.check_enterprise(enterprise_id, staff_role)
        if not await repository.enterprise_exists(session, park_id, enterprise_id):
            raise NotFound(f"enterprise {enterprise_id!r} not found")
        return EnterpriseContext(
            key=key, park_id=park_id, timezone=timezone, enterprise_id=enterprise_id
        )

    dependency.required_role = staff_role  # type: ignore[attr-defined]
    dependency.enterprise_scoped = True  # type: ignore[attr-defined]
    return dependency


EnterpriseViewer = Annotated[EnterpriseContext, Depends(enterprise_access(Role.viewer))]
EnterpriseOperator = Annotated[EnterpriseContext, Depends(enterprise_access(Role.operator))]
