"""Helpers of the land and twin tests: square polygons and a park with a boundary."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

# The test park: 0.02° x 0.02° near Suzhou (about 1.9 km x 2.2 km).
WEST, SOUTH = 120.70, 31.30


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    """A GeoJSON Polygon: the square with its south-west corner at (lon, lat)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def park_with_boundary(client: TestClient, admin: dict[str, str]) -> str:
    park_id = new_id("p")
    body = {"id": park_id, "name": "land park", "boundary": square(WEST, SOUTH, 0.02)}
    response = client.post("/api/v1/parks", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return park_id


def post(client: TestClient, admin: dict[str, str], url: str, body: dict[str, Any]) -> Any:
    response = client.post(url, json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def parcel(
    client: TestClient, admin: dict[str, str], park_id: str, geometry: dict[str, Any]
) -> Any:
    body = {"id": new_id("parcel"), "name": "a parcel", "geometry": geometry}
    return post(client, admin, f"/api/v1/parks/{park_id}/parcels", body)


def building(
    client: TestClient,
    admin: dict[str, str],
    park_id: str,
    footprint: dict[str, Any],
    **extra: Any,
) -> Any:
    body = {"id": new_id("b"), "name": "a building", "footprint": footprint, **extra}
    return post(client, admin, f"/api/v1/parks/{park_id}/buildings", body)
