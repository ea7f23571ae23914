"""``GET /api/v1/me``: what the calling key is, so a client (the cockpit) shows only what the
key may do. The secret is never echoed."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.core.auth import Role, ViewerKey
from app.core.http import PROBLEMS

router = APIRouter(prefix="/api/v1", tags=["keys"], responses=PROBLEMS)


class MeRead(BaseModel):
    key_id: str = Field(description="the `<id>` part of `ptk_<id>_<secret>`")
    role: Literal["viewer", "operator", "admin"]
    park_id: str | None = Field(description="the park the key is bound to; null: every park")
    can_acknowledge: bool = Field(description="may acknowledge and shelve alarms (operator+)")
    can_manage: bool = Field(description="may manage parks, assets, devices and keys (admin)")


@router.get("/me", summary="The calling key: its role and park", response_model=MeRead)
async def me(key: ViewerKey) -> MeRead:
    return MeRead(
        key_id=key.id,
        role=key.role.name,
        park_id=key.park_id,
        can_acknowledge=key.role >= Role.operator,
        can_manage=key.role >= Role.admin,
    )
