"""CORS: browser pages of the origins in ``PARKTWIN_API_CORS_ORIGINS`` may call the API.

Off by default (no CORS header at all: a browser lets no other origin read an answer). On,
Starlette's ``CORSMiddleware`` answers preflights itself, before any key is checked, and marks
every answer for a listed origin; an unlisted origin gets no ``Access-Control-Allow-Origin``, so
its page cannot read the answer (the request itself is not refused: CORS protects readers, the
API key protects the API). No credentials mode: keys travel in ``Authorization``, never cookies.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.core.config import Settings, parse_origins

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "Last-Event-ID",
    "X-Request-ID",
]
EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "X-Request-ID", "Idempotent-Replayed"]
PREFLIGHT_MAX_AGE_S = 600


def install_cors(app: FastAPI, settings: Settings) -> None:
    origins = parse_origins(settings.api_cors_origins)
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=METHODS,
        allow_headers=REQUEST_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE_S,
    )
