"""Polling-friendly JSON answers: ``ETag``, ``If-None-Match`` → 304, ``Cache-Control``.

Dashboards poll the same reads all day; an unchanged answer costs them a 304 with no body.
The ETag is a hash of the body, so it changes exactly when the answer does.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request, Response
from pydantic import BaseModel

from app.core.appstate import app_state
from app.core.config import Settings

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY


def dump_json(content: Any) -> bytes:
    if isinstance(content, BaseModel):
        content = content.model_dump(mode="python", by_alias=True)
    return orjson.dumps(content, option=JSON_OPTIONS)


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = (t.strip().removeprefix("W/") for t in if_none_match.split(","))
    return etag in tags


def cached_response(
    request: Request,
    body: bytes,
    *,
    media_type: str = "application/json",
    max_age: int = 5,
    status_code: int = 200,
) -> Response:
    """``body`` with its ETag, or a 304 when the client already has it."""
    etag = etag_for(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={max_age}",
        "Vary": "Authorization, Accept",
    }
    if request.method == "GET" and _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)


def cached_json(request: Request, content: Any, *, max_age: int = 5) -> Response:
    return cached_response(request, dump_json(content), max_age=max_age)


def _problem(status: int, slug: str, title: str, detail: str) -> dict[str, Any]:
    example = {
        "type": f"https://parktwin.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    schema = {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
        },
        "additionalProperties": True,
    }
    return {
        "description": title,
        "content": {"application/problem+json": {"schema": schema, "example": example}},
    }


PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem(401, "unauthorized", "Unauthorized", "unknown or revoked API key"),
    403: _problem(403, "forbidden", "Forbidden", "this needs the admin role; the key has viewer"),
    404: _problem(404, "not-found", "Not found", "park 'suzhou-sip' not found"),
    422: _problem(422, "validation", "Invalid request", "query.limit: less than or equal to 1000"),
}
"""The problem+json answers every ``/api/v1`` route may give, for the OpenAPI schema."""


def get_settings(request: Request) -> Settings:
    """The app's settings (built once in ``create_app``), as a dependency."""
    settings = app_state(request).settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
