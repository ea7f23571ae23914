"""The operations-centre cockpit: static files (HTML, ES modules, the pinned ECharts build)
served at ``/`` by the API process. No CDN: everything the page loads comes from here."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC = Path(__file__).resolve().parent / "static"

# The page holds an API key (sessionStorage): only its own scripts may run, it talks only to
# this origin, and no other site may frame it. ECharts sets inline styles on its tooltips.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


class CockpitFiles(StaticFiles):
    """StaticFiles with the page's security headers on every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_cockpit(app: FastAPI) -> None:
    """Mount the cockpit at ``/`` last, so every route added before it (``/api``, ``/docs``,
    ``/redoc``, ``/metrics``, ``/healthz``) is matched first; ``/`` serves ``index.html``."""
    app.mount("/", CockpitFiles(directory=STATIC, html=True), name="cockpit")
