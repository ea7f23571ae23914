"""``/docs`` (Swagger UI) and ``/redoc`` with their scripts served by the API itself.

FastAPI's own pages load Swagger UI and Redoc from a CDN (and Redoc's fonts from Google), so
on a park's offline network they are blank. The files come from the PyPI package
``fastapi-offline`` (``swagger-ui-dist`` 5 and Redoc 2, the files FastAPI's CDN links name),
installed by pip with everything else: no npm step, no vendored bundle in this repository, and
the versions move with a pinned Python dependency. Only its static folder is used; the pages are
FastAPI's own HTML with local URLs. Swagger UI's online validator badge is turned off (it calls
validator.swagger.io). Redoc's side menu shows a "API docs by Redocly" link whose small logo it
requests from cdn.redoc.ly and hides when that fails; nothing else leaves the network.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS = Path(str(files("fastapi_offline") / "static"))
SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": False}


def install_docs(app: FastAPI) -> None:
    """Mount the assets and add the two pages (the app is made with ``docs_url=None`` and
    ``redoc_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API (Swagger UI)",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API (Redoc)",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
