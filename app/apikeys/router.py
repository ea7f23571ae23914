"""``GET /api/v1/me``: what the calling key is, so a client (the cockpit) shows only what the
key may do. The secret is never echoed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.core.auth import ApiKey, Role, require_role
from app.core.http import PROBLEMS

router = APIRouter(prefix="/api/v1", tags=["keys"], responses=PROBLEMS)


class MeRead(BaseModel):
    key_id: str = Field(description="the `<id>` part of `ptk_<id>_<secret>`")
    role: Literal["enterprise", "viewer", "operator", "admin"]
    park_id: str | None = Field(description="the park the key is bound to; null: every park")
    enterprise_id: str | None = Field(
        default=None, description="role enterprise: the enterprise whose own data the key sees"
    )
    can_acknowledge: bool = Field(description="may acknowledge and shelve alarms (operator+)")
    can_manage: bool = Field(description="may manage parks, assets, devices and keys (admin)")


AnyKey = Annotated[ApiKey, Depends(require_role(Role.enterprise))]


@router.get("/me", summary="The calling key: its role and park", response_model=MeRead)
async def me(key: AnyKey) -> MeRead:
    return MeRead(
        key_id=key.id,
        role=key.role.name,
        park_id=key.park_id,
        enterprise_id=key.enterprise_id,
        can_acknowledge=key.role >= Role.operator,
        can_manage=key.role >= Role.admin,
    )
