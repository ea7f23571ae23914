"""The operations-centre cockpit: static files (HTML, ES modules, the pinned ECharts build)
served at ``/`` by the API process. No CDN: everything the page loads comes from here."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, Response
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


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, headers=SECURITY_HEADERS)


def mount_cockpit(app: FastAPI) -> None:
    """The cockpit: ``/`` (the page), ``/enterprise`` (an enterprise key's page),
    ``/cockpit.css``, and the ``/js`` and ``/vendor`` folders. Only these paths: a catch-all
    mount at ``/`` would shadow every route added after it, and turn the API's problem+json 404
    for an unknown path into a static one."""
    for folder in ("js", "vendor"):
        app.mount(f"/{folder}", CockpitFiles(directory=STATIC / folder), name=f"cockpit-{folder}")

    @app.get("/", include_in_schema=False)
    async def cockpit_page() -> FileResponse:
        return _page("index.html")

    @app.get("/enterprise", include_in_schema=False)
    async def enterprise_page() -> FileResponse:
        return _page("enterprise.html")  # an enterprise key's own page (企业服务)

    @app.get("/cockpit.css", include_in_schema=False)
    async def cockpit_css() -> FileResponse:
        return _page("cockpit.css")
