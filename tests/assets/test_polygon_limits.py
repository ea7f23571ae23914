"""Polygons are capped in rings and positions wherever GeoJSON comes in (review L15)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core import geodesy as geo
from app.core.limits import MAX_RINGS, MAX_VERTICES
from app.parks.schemas import Polygon
from tests.assets.land_util import SOUTH, WEST, new_id, park_with_boundary, square


def circle(positions: int, lon: float = WEST + 0.01, lat: float = SOUTH + 0.01) -> dict[str, Any]:
    """A valid polygon of ``positions`` positions (the first repeated last)."""
    ring = [
        [lon + 0.005 * math.cos(2 * math.pi * i / (positions - 1)),
         lat + 0.005 * math.sin(2 * math.pi * i / (positions - 1))]
        for i in range(positions - 1)
    ]  # fmt: skip
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def with_holes(holes: int) -> dict[str, Any]:
    shell = square(WEST, SOUTH, 0.02)["coordinates"][0]
    hole = square(WEST + 0.001, SOUTH + 0.001, 0.0001)["coordinates"][0]
    return {"type": "Polygon", "coordinates": [shell, *[hole] * holes]}


def test_the_schema_takes_up_to_the_limits() -> None:
    assert len(Polygon.model_validate(circle(MAX_VERTICES)).coordinates[0]) == MAX_VERTICES
    with pytest.raises(ValidationError, match=f"at most {MAX_VERTICES} positions"):
        Polygon.model_validate(circle(MAX_VERTICES + 1))
    with pytest.raises(ValidationError, match=f"at most {MAX_RINGS} rings"):
        Polygon.model_validate(with_holes(MAX_RINGS))


def test_geo_refuses_oversized_polygons() -> None:
    assert geo.polygon(circle(1000)).is_valid
    with pytest.raises(geo.GeometryError, match="positions in all"):
        geo.polygon(circle(MAX_VERTICES + 1))
    with pytest.raises(geo.GeometryError, match="rings"):
        geo.polygon(with_holes(MAX_RINGS))


def test_boundaries_parcels_buildings_and_imports_are_capped(
    client: TestClient, admin: dict[str, str]
) -> None:
    big = circle(MAX_VERTICES + 1)
    park = {"id": new_id("p"), "name": "x", "boundary": big}
    response = client.post("/api/v1/parks", json=park, headers=admin)
    assert response.status_code == 422
    assert f"at most {MAX_VERTICES} positions" in response.json()["detail"]
    holes = client.post(
        "/api/v1/parks", json={**park, "boundary": with_holes(MAX_RINGS)}, headers=admin
    )
    assert holes.status_code == 422 and f"at most {MAX_RINGS} rings" in holes.json()["detail"]
    park_id = park_with_boundary(client, admin)
    base = f"/api/v1/parks/{park_id}"
    parcel = client.post(
        f"{base}/parcels", json={"id": "pc", "name": "p", "geometry": big}, headers=admin
    )
    assert parcel.status_code == 422 and "positions" in parcel.json()["detail"]
    footprint = {"id": "b", "name": "b", "footprint": big}
    assert client.post(f"{base}/buildings", json=footprint, headers=admin).status_code == 422
    patch = client.patch(f"/api/v1/parks/{park_id}", json={"boundary": big}, headers=admin)
    assert patch.status_code == 422 and "positions" in patch.json()["detail"]
    feature = {"type": "Feature", "properties": {"id": "pc", "name": "p"}, "geometry": big}
    collection = {"type": "FeatureCollection", "features": [feature]}
    imported = client.post(f"{base}/import/parcels", json=collection, headers=admin)
    assert imported.status_code == 422
    assert "positions" in imported.json()["errors"][0]["reason"]
    fits = {"id": "pc", "name": "p", "geometry": circle(2000)}
    assert client.post(f"{base}/parcels", json=fits, headers=admin).status_code == 201
