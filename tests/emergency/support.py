"""A small fixture park laid out in metres around a source point, so every zone answer can be
checked by hand; critical alarms written as the ingestor writes them; the worker's jobs run
in-process, the way ``parktwin worker`` runs them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.assets.credit_code import check_character
from app.core.config import Settings
from app.core.geodesy import GEOD
from app.emergency.jobs import open_from_alarms, report_reminders
from app.worker.loop import Job
from tests.api.conftest import create_park, write_readings
from tests.api.worker_util import drain

LON, LAT = 120.70, 31.30
"""The source point of the fixture park's gas leak."""


def offset(
    east_m: float, north_m: float, lon: float = LON, lat: float = LAT
) -> tuple[float, float]:
    """The point ``east_m`` east and ``north_m`` north of (lon, lat), geodesically."""
    lon1, lat1, _ = GEOD.fwd(lon, lat, 0.0, north_m) if north_m else (lon, lat, 0.0)
    if east_m:
        lon1, lat1, _ = GEOD.fwd(lon1, lat1, 90.0 if east_m > 0 else 270.0, abs(east_m))
    return float(lon1), float(lat1)


def square(east_m: float, north_m: float, half_m: float = 10.0) -> dict[str, Any]:
    """A square footprint of side ``2 * half_m`` centred at the offset."""
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    ring = [list(offset(east_m + dx * half_m, north_m + dy * half_m)) for dx, dy in corners]
    return {"type": "Polygon", "coordinates": [ring]}


def credit_code(seed: str) -> str:
    body = "91350100" + seed.upper().translate(str.maketrans("IOSVZ", "12345"))[:8] + "0"
    return body + check_character(body)


@dataclass
class FixturePark:
    """Buildings A (50 m east), B (200 m north), C (500 m west), D (450 m south), each a
    20 m square; enterprises E1 leasing A (120 people), E2 on B (300 m²) and C (100 m²) with 80
    people, E3 on D (50 people), E4 leasing a space in A with no head count."""

    id: str
    database_url: str
    buildings: dict[str, str] = field(default_factory=dict)
    enterprises: dict[str, str] = field(default_factory=dict)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def device(self, device_type: str, east_m: float, north_m: float) -> str:
        device_id = f"{device_type[:3]}-{uuid.uuid4().hex[:8]}"
        lon, lat = offset(east_m, north_m)
        self.sql(
            "INSERT INTO device (park_id, id, type, name, lon, lat) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            self.id,
            device_id,
            device_type,
            device_id,
            lon,
            lat,
        )
        return device_id

    def alarm(self, device_id: str, metric: str, raised_at: datetime) -> str:
        """A critical alarm as the ingestor raises it."""
        alarm_id = str(uuid.uuid4())
        self.sql(
            "INSERT INTO alarm (id, park_id, device_id, metric, type, severity, raised_at, "
            "latched) VALUES (%s, %s, %s, %s, 'threshold', 'critical', %s, true)",
            alarm_id,
            self.id,
            device_id,
            metric,
            raised_at,
        )
        return alarm_id

    def reading(self, device_id: str, metric: str, value: float, at: datetime) -> None:
        rows = self.sql(
            "INSERT INTO series (park_id, device_id, metric) VALUES (%s, %s, %s) "
            "ON CONFLICT (park_id, device_id, metric) DO UPDATE SET metric = excluded.metric "
            "RETURNING id",
            self.id,
            device_id,
            metric,
        )
        write_readings(self.database_url, int(rows[0][0]), [(at, value)], mark=False)

    def wind_station(self, from_deg: float) -> str:
        """A weather device of a park-defined type reporting the wind direction now."""
        type_ = f"weather_{uuid.uuid4().hex[:8]}"
        self.sql(
            "INSERT INTO device_type (type, domain, park_id) VALUES (%s, 'environment', %s)",
            type_,
            self.id,
        )
        self.sql(
            "INSERT INTO device_type_metric (device_type, name, unit, kind) "
            "VALUES (%s, 'wind_direction_deg', '°', 'gauge')",
            type_,
        )
        device_id = self.device(type_, -800.0, -800.0)
        self.reading(device_id, "wind_direction_deg", from_deg, datetime.now(UTC))
        return device_id


def _building(park: FixturePark, name: str, east_m: float, north_m: float) -> str:
    building_id = f"{name}-{uuid.uuid4().hex[:6]}"
    park.sql(
        "INSERT INTO building (park_id, id, name, footprint, floors, area_m2) "
        "VALUES (%s, %s, %s, %s, 3, 400)",
        park.id,
        building_id,
        name,
        json.dumps(square(east_m, north_m)),
    )
    return building_id


def _enterprise(park: FixturePark, name: str, employees: int | None) -> str:
    enterprise_id = f"{name}-{uuid.uuid4().hex[:6]}"
    attributes = {} if employees is None else {"employees": employees}
    park.sql(
        "INSERT INTO enterprise (park_id, id, name, credit_code, attributes) "
        "VALUES (%s, %s, %s, %s, %s)",
        park.id,
        enterprise_id,
        name,
        credit_code(uuid.uuid4().hex),
        json.dumps(attributes),
    )
    return enterprise_id


def _lease(
    park: FixturePark, enterprise: str, building: str, area: float, space: bool = False
) -> None:
    """A lease of the building, or (``space``) of a new space in it."""
    today = datetime.now(UTC).date()
    target = "building_id"
    if space:
        target, space_id = "space_id", f"{building}-s{uuid.uuid4().hex[:4]}"
        park.sql(
            "INSERT INTO space (park_id, id, building_id, floor, name, area_m2) "
            "VALUES (%s, %s, %s, 1, '101', %s)",
            park.id,
            space_id,
            building,
            area,
        )
        building = space_id
    park.sql(
        f"INSERT INTO lease (park_id, id, enterprise_id, {target}, area_m2, start_date, "
        "end_date) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        park.id,
        f"L-{uuid.uuid4().hex[:8]}",
        enterprise,
        building,
        area,
        today - timedelta(days=30),
        today + timedelta(days=365),
    )


def fixture_park(client: TestClient, admin: dict[str, str], database_url: str) -> FixturePark:
    park = FixturePark(create_park(client, admin).id, database_url)
    for name, east, north in (("A", 50, 0), ("B", 0, 200), ("C", -500, 0), ("D", 0, -450)):
        park.buildings[name] = _building(park, name, east, north)
    for name, employees in (("E1", 120), ("E2", 80), ("E3", 50), ("E4", None)):
        park.enterprises[name] = _enterprise(park, name, employees)
    _lease(park, park.enterprises["E1"], park.buildings["A"], 400)
    _lease(park, park.enterprises["E2"], park.buildings["B"], 300)
    _lease(park, park.enterprises["E2"], park.buildings["C"], 100)
    _lease(park, park.enterprises["E3"], park.buildings["D"], 400)
    _lease(park, park.enterprises["E4"], park.buildings["A"], 100, space=True)
    return park


def run_incident_job(settings: Settings) -> int:
    """Link every waiting critical alarm to an incident; return how many."""
    return drain(settings, Job("incidents", open_from_alarms))


def run_report_job(settings: Settings) -> int:
    return drain(settings, Job("incident_reports", report_reminders))


def incidents(
    client: TestClient, headers: dict[str, str], park_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/parks/{park_id}/incidents", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def outbox_types(database_url: str, park_id: str) -> list[tuple[str, dict[str, Any]]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT type, data FROM event_outbox WHERE park_id = %s AND type LIKE 'incident.%%' "
            "ORDER BY created_at, id",
            (park_id,),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]
