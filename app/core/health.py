"""``/healthz`` (the process answers), ``/readyz`` (database and broker answer), ``/metrics``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.core.appstate import app_state

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _database_ok(request: Request) -> bool:
    try:
        async with app_state(request).engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; the reason goes to the log
        logger.warning("readyz: database check failed: %s", exc)
        return False
    return True


@router.get("/readyz", summary="Readiness: the database and the broker answer")
async def readyz(request: Request) -> JSONResponse:
    checks = {
        "database": "ok" if await _database_ok(request) else "down",
        "broker": "ok" if app_state(request).broker.is_connected() else "down",
    }
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(app_state(request).registry), media_type=CONTENT_TYPE_LATEST)
