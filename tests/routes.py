"""The app's routes as (method, path, dependant), however FastAPI nests them."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from app.main import create_app


def app_routes() -> list[tuple[str, str, Any]]:
    found = []
    for route in create_app().routes:
        contexts = (
            route.effective_route_contexts()
            if hasattr(route, "effective_route_contexts")
            else [route]
            if isinstance(route, APIRoute)
            else []
        )
        for ctx in contexts:
            found.extend((method, ctx.path, ctx.dependant) for method in sorted(ctx.methods))
    return found
