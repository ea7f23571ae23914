"""The operations-centre cockpit: static files (HTML, ES modules, the pinned ECharts build)
served at ``/`` by the API process. No CDN: everything the page loads comes from here."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def mount_cockpit(app: FastAPI) -> None:
    """Mount the cockpit at ``/`` last, so every route added before it (``/api``, ``/docs``,
    ``/redoc``, ``/metrics``, ``/healthz``) is matched first; ``/`` serves ``index.html``."""
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="cockpit")
