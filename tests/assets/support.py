"""Helpers of the tenancy, equipment and import tests: land rows written straight with SQL
(so these tests do not depend on the land API), enterprises and leases through the API."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.assets.land_util import new_id

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120.70, 31.30], [120.701, 31.30], [120.701, 31.301], [120.70, 31.301],
                     [120.70, 31.30]]],
}  # fmt: skip

uid = new_id


def make_parcel(database_url: str, park_id: str, area_m2: float = 10_000.0) -> str:
    parcel_id = uid("pc")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO parcel (park_id, id, name, geometry, area_m2) VALUES (%s, %s, %s, %s, %s)",
            (park_id, parcel_id, "parcel", json.dumps(SQUARE), area_m2),
        )
    return parcel_id


def make_building(
    database_url: str,
    park_id: str,
    spaces: list[tuple[float, str]] = (),  # type: ignore[assignment]
    *,
    footprint_m2: float = 1000.0,
    floors: int = 3,
    parcel_id: str | None = None,
) -> tuple[str, list[str]]:
    """A building with spaces of (area, status); returns its id and the space ids."""
    building_id = uid("b")
    space_ids = [f"{building_id}-s{i}" for i in range(len(spaces))]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO building (park_id, id, name, footprint, floors, area_m2, parcel_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                park_id,
                building_id,
                f"楼 {building_id}",
                json.dumps(SQUARE),
                floors,
                footprint_m2,
                parcel_id,
            ),
        )
        for space_id, (area, status) in zip(space_ids, spaces, strict=True):
            conn.execute(
                "INSERT INTO space (park_id, id, building_id, name, area_m2, status) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (park_id, space_id, building_id, space_id, area, status),
            )
    return building_id, space_ids


CODES = ["91350100M000100Y43", "91110000802100433B", "91440300708461136T", "9144030071526726XG"]


def make_enterprise(
    client: TestClient, admin: dict[str, str], park_id: str, code: str = CODES[0], **extra: Any
) -> str:
    enterprise_id = uid("e")
    body = {"id": enterprise_id, "name": "企业", "credit_code": code, **extra}
    response = client.post(f"/api/v1/parks/{park_id}/enterprises", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return enterprise_id


def post_lease(client: TestClient, admin: dict[str, str], park_id: str, **body: Any) -> Any:
    body.setdefault("id", uid("L"))
    return client.post(f"/api/v1/parks/{park_id}/leases", json=body, headers=admin)
