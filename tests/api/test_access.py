"""The role-and-park access matrix, generated from the app's route list.

Every ``/api/v1`` route must declare the role it needs (a dependency built by
``require_role``, ``park_access`` or ``enterprise_access``); each route is then called with no
key, a bad key, a revoked key, every role, keys bound to this park or to another one, and
enterprise keys (the enterprise in the path, and a neighbour in the same park), and the answer
is checked against the declaration: 401, 403, 404 for another park or another enterprise, or
admitted. An enterprise key is admitted only by the enterprise-scoped routes, for its own
enterprise, and by ``/api/v1/me``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from app.assets.credit_code import check_character
from app.core.auth import Role
from tests.api.conftest import Park, auth, create_device, create_park, make_key
from tests.routes import app_routes


def declared(dependant: Any) -> tuple[Role | None, bool]:
    """The role declared by a route's dependencies, if any, and whether the route is
    enterprise-scoped (an enterprise key sees its own enterprise there)."""
    stack: list[Any] = [dependant]
    while stack:
        current = stack.pop()
        role = getattr(current.call, "required_role", None)
        if role is not None:
            return Role(role), bool(getattr(current.call, "enterprise_scoped", False))
        stack.extend(current.dependencies)
    return None, False


def required_role(dependant: Any) -> Role | None:
    return declared(dependant)[0]


def api_routes() -> list[tuple[str, str, Role | None]]:
    """(method, path, declared role) of every /api/v1 route."""
    return [
        (method, path, required_role(dependant))
        for method, path, dependant in app_routes()
        if path.startswith("/api/v1")
    ]


ROUTES = api_routes()
ENTERPRISE_SCOPED = {
    (method, path)
    for method, path, dependant in app_routes()
    if path.startswith("/api/v1") and declared(dependant)[1]
}
ANY_KEY = {("GET", "/api/v1/me")}  # what the calling key is: every role, enterprise included
MUTATIONS_BY_VIEWERS = {("POST", "/api/v1/parks/{park_id}/latest/query")}  # a read in a body
MUTATIONS_BY_OPERATORS = {
    ("POST", "/api/v1/parks/{park_id}/alarms/{alarm_id}/ack"),
    ("POST", "/api/v1/parks/{park_id}/alarms/{alarm_id}/comments"),
    ("POST", "/api/v1/parks/{park_id}/alarms/{alarm_id}/shelve"),
    ("POST", "/api/v1/parks/{park_id}/alarms/{alarm_id}/unshelve"),
    ("PUT", "/api/v1/parks/{park_id}/detectors/{device_id}/state"),
    ("PUT", "/api/v1/parks/{park_id}/detectors/{device_id}/calibration"),
    ("POST", "/api/v1/parks/{park_id}/incidents"),
    ("PATCH", "/api/v1/parks/{park_id}/incidents/{incident_id}"),
    ("POST", "/api/v1/parks/{park_id}/incidents/{incident_id}/status"),
    ("POST", "/api/v1/parks/{park_id}/incidents/{incident_id}/report"),
    ("POST", "/api/v1/parks/{park_id}/incidents/{incident_id}/casualties"),
    ("POST", "/api/v1/parks/{park_id}/incidents/{incident_id}/comments"),
    ("POST", "/api/v1/parks/{park_id}/incidents/{incident_id}/tasks"),
    ("PATCH", "/api/v1/parks/{park_id}/incidents/{incident_id}/tasks/{task_id}"),
}


def test_every_api_route_declares_a_role() -> None:
    assert ROUTES, "no routes found"
    for method, path, role in ROUTES:
        assert role is not None, f"{method} {path} declares no role"
        if (method, path) in ANY_KEY:
            assert role is Role.enterprise, f"{method} {path}: {role.name}, expected enterprise"
            continue
        if (method, path) in ENTERPRISE_SCOPED:
            assert "{enterprise_id}" in path, f"{method} {path}: scoped, without an enterprise"
            assert role >= Role.viewer, f"{method} {path}: staff need at least viewer"
            continue
        expected = (
            Role.admin
            if "/webhooks" in path or "/notify" in path  # secrets, URLs, phones: admin only
            else Role.viewer
            if method == "GET" or (method, path) in MUTATIONS_BY_VIEWERS
            else Role.operator
            if (method, path) in MUTATIONS_BY_OPERATORS
            else Role.admin
        )
        assert role == expected, f"{method} {path}: {role.name}, expected {expected.name}"


@dataclass
class World:
    park: Park
    other: Park
    neighbour: str  # an enterprise of the park, whose key must see no other enterprise
    device_id: str
    keys: dict[str, dict[str, str]]
    alarm_id: str
    webhook_id: str
    event_id: str
    database_url: str


def make_rule(database_url: str, park_id: str) -> str:
    """A park alarm rule of its own scope (a device id nobody has), to be deleted."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO alarm_rule (park_id, device_type, device_id, metric, type, levels) "
            "VALUES (%s, 'gas_detector', %s, 'gas_lel_pct', 'threshold', "
            '\'[{"severity": "major", "threshold": 10}]\') RETURNING id',
            (park_id, f"x-{uuid.uuid4().hex[:8]}"),
        ).fetchone()
    assert row is not None
    return str(row[0])


def make_webhook(database_url: str, park_id: str) -> tuple[str, str]:
    """An inactive webhook (never sent to) with one dead delivery, straight into the tables."""
    webhook_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO webhook (id, park_id, url, event_types, secret, active) "
            "VALUES (%s, %s, 'http://127.0.0.1:9/', '{*}', "
            "'whsec_c2VjcmV0c2VjcmV0c2VjcmV0', false)",
            (webhook_id, park_id),
        )
        conn.execute(
            "INSERT INTO event_outbox (id, park_id, type, data) "
            "VALUES (%s, %s, 'webhook.test', '{}')",
            (event_id, park_id),
        )
        conn.execute(
            "INSERT INTO webhook_delivery (webhook_id, event_id, status) VALUES (%s, %s, 'dead')",
            (webhook_id, event_id),
        )
    return webhook_id, event_id


@pytest.fixture(scope="module")
def world(client: TestClient, admin: dict[str, str], database_url: str) -> World:
    park, other = create_park(client, admin), create_park(client, admin)
    neighbour = make_tenancy(database_url, park.id)["enterprise_id"]
    device = create_device(client, admin, park.id)
    revoked = make_key(database_url, "admin")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE api_key SET revoked_at = now() WHERE id = %s", (revoked.split("_")[1],)
        )
    keys = {
        "none": {},
        "malformed": {"Authorization": "Bearer nonsense"},
        "wrong-secret": {"Authorization": f"Bearer {make_key(database_url, 'admin')[:-4]}abcd"},
        "revoked": auth(revoked),
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        **{role: auth(make_key(database_url, role)) for role in ("viewer", "operator", "admin")},
        "viewer@park": auth(make_key(database_url, "viewer", park.id)),
        "admin@park": auth(make_key(database_url, "admin", park.id)),
        "admin@other": auth(make_key(database_url, "admin", other.id)),
        "enterprise-neighbour@park": auth(make_key(database_url, "enterprise", park.id, neighbour)),
    }
    alarm_id = str(uuid.uuid4())
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO alarm (id, park_id, device_id, metric, type, severity, raised_at) "
            "VALUES (%s, %s, %s, '', 'device_offline', 'minor', now())",
            (alarm_id, park.id, device["id"]),
        )
    webhook_id, event_id = make_webhook(database_url, park.id)
    return World(
        park,
        other,
        neighbour,
        str(device["id"]),
        keys,
        alarm_id,
        webhook_id,
        event_id,
        database_url,
    )


LAND_PARAMS = {"{parcel_id}", "{building_id}", "{space_id}", "{number}"}


def make_land(database_url: str, park_id: str) -> dict[str, str]:
    """A fresh parcel with a building, its floor 1 and a space, straight into the tables."""
    suffix = uuid.uuid4().hex[:8]
    ids = {"parcel_id": f"pa-{suffix}", "building_id": f"b-{suffix}", "space_id": f"s-{suffix}"}
    x = 100 + int(suffix, 16) % 10_000 / 1000  # a 0.0005° square of its own
    ring = [[x, 30], [x + 0.0005, 30], [x + 0.0005, 30.0005], [x, 30.0005], [x, 30]]
    square = orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO parcel (park_id, id, name, geometry, area_m2) "
            "VALUES (%s, %s, 'p', %s, 2500)",
            (park_id, ids["parcel_id"], square),
        )
        conn.execute(
            "INSERT INTO building (park_id, id, name, parcel_id, footprint, floors, area_m2) "
            "VALUES (%s, %s, 'b', %s, %s, 2, 2500)",
            (park_id, ids["building_id"], ids["parcel_id"], square),
        )
        conn.execute(
            "INSERT INTO floor (park_id, building_id, number) VALUES (%s, %s, 1)",
            (park_id, ids["building_id"]),
        )
        conn.execute(
            "INSERT INTO space (park_id, id, building_id, floor, name, area_m2) "
            "VALUES (%s, %s, %s, 1, 's', 100)",
            (park_id, ids["space_id"], ids["building_id"]),
        )
    return {**ids, "number": "1"}


TENANCY_PARAMS = {"{enterprise_id}", "{lease_id}", "{equipment_id}", "{payment_id}"}


def make_tenancy(database_url: str, park_id: str) -> dict[str, str]:
    """A fresh enterprise leasing a fresh parcel, and equipment, straight into the tables."""
    land, suffix = make_land(database_url, park_id), uuid.uuid4().hex[:8]
    ids = {
        "enterprise_id": f"e-{suffix}",
        "lease_id": f"l-{suffix}",
        "equipment_id": suffix,
        "payment_id": f"p-{suffix}",
    }
    code = "91350100" + suffix.upper().translate(str.maketrans("IOSVZ", "12345")) + "0"
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO enterprise (park_id, id, name, credit_code) VALUES (%s, %s, 'e', %s)",
            (park_id, ids["enterprise_id"], code + check_character(code)),
        )
        conn.execute(
            "INSERT INTO lease (park_id, id, enterprise_id, parcel_id, area_m2, start_date, "
            "end_date) VALUES (%s, %s, %s, %s, 100, '2026-01-01', '2026-12-31')",
            (park_id, ids["lease_id"], ids["enterprise_id"], land["parcel_id"]),
        )
        conn.execute(
            "INSERT INTO equipment (park_id, id, name, category) VALUES (%s, %s, 'q', 'pump')",
            (park_id, ids["equipment_id"]),
        )
        conn.execute(
            "INSERT INTO rent_payment (park_id, id, lease_id, period, amount_yuan, paid_on) "
            "VALUES (%s, %s, %s, '2026-01-01', 100, '2026-01-05')",
            (park_id, ids["payment_id"], ids["lease_id"]),
        )
    return ids


EMERGENCY_PARAMS = {
    "{incident_id}",
    "{task_id}",
    "{resource_id}",
    "{entry_id}",
    "{report_id}",
    "{source_id}",
    "{drill_id}",
}


def make_emergency(database_url: str, park_id: str) -> dict[str, str]:
    """A fresh incident with a task, a resource and a roster entry, straight into the tables."""
    suffix = uuid.uuid4().hex[:8]
    with psycopg.connect(database_url) as conn:
        incident = conn.execute(
            "INSERT INTO incident (park_id, type, level, source, lon, lat, report_due_at, "
            "report_warn_at) VALUES (%s, 'gas_leak', 'orange', 'operator', 120.7, 31.3, "
            "now() + interval '1 hour', now() + interval '45 minutes') RETURNING id",
            (park_id,),
        ).fetchone()
        assert incident is not None
        task = conn.execute(
            "INSERT INTO incident_task (incident_id, title) VALUES (%s, 't') RETURNING id",
            (incident[0],),
        ).fetchone()
        conn.execute(
            "INSERT INTO emergency_resource (park_id, id, kind, name, lon, lat) "
            "VALUES (%s, %s, 'aed', 'aed', 120.7, 31.3)",
            (park_id, f"r-{suffix}"),
        )
        entry = conn.execute(
            "INSERT INTO duty_roster (park_id, name, role, starts_at, ends_at) "
            "VALUES (%s, 'n', 'r', now(), now() + interval '1 hour') RETURNING id",
            (park_id,),
        ).fetchone()
        report = conn.execute(
            "INSERT INTO incident_report (incident_id, kind, recipient, sent_at, sent_by, "
            "content) VALUES (%s, 'first', 'r', now(), 's', '{}') RETURNING id",
            (incident[0],),
        ).fetchone()
        conn.execute(
            "INSERT INTO hazard_source (park_id, id, name, unit_kind, lon, lat, "
            "exposed_population) VALUES (%s, %s, 'h', 'storage', 120.7, 31.3, 0)",
            (park_id, f"h-{suffix}"),
        )
        drill = conn.execute(
            "INSERT INTO emergency_drill (park_id, plan_id, held_at, scenario) SELECT %s, id, "
            "now(), 's' FROM response_plan WHERE park_id IS NULL ORDER BY id LIMIT 1 RETURNING id",
            (park_id,),
        ).fetchone()
    assert task is not None and entry is not None and report is not None and drill is not None
    return {
        "incident_id": str(incident[0]),
        "task_id": str(task[0]),
        "resource_id": f"r-{suffix}",
        "entry_id": str(entry[0]),
        "report_id": str(report[0]),
        "source_id": f"h-{suffix}",
        "drill_id": str(drill[0]),
    }


def make_channel(database_url: str, park_id: str) -> str:
    """A notification channel (an email list), straight into the table, to be deleted."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO notify_channel (park_id, name, kind, recipients, rate_per_min) "
            "VALUES (%s, 'm', 'email', '{a@b.cn}', 60) RETURNING id",
            (park_id,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def make_person(database_url: str, park_id: str) -> str:
    """A person notifications reach, straight into the table, to be changed or removed."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO notify_person (park_id, name) VALUES (%s, '值班员') RETURNING id",
            (park_id,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def make_dead_message(database_url: str, park_id: str) -> str:
    """A dead notification of a fresh channel, to be sent again."""
    channel = make_channel(database_url, park_id)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO notify_message (park_id, channel_id, kind, type, status, context)"
            " VALUES (%s, %s, 'test', 'notify.test', 'dead', '{}') RETURNING id",
            (park_id, channel),
        ).fetchone()
    assert row is not None
    return str(row[0])


def make_report(database_url: str, park_id: str, enterprise_id: str, month: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO economy_report (park_id, enterprise_id, month, output_value, "
            "value_added, revenue, tax, employees, rd_spend) "
            "VALUES (%s, %s, %s, 1, 1, 1, 1, 1, 1)",
            (park_id, enterprise_id, f"{month}-01"),
        )


def _values(path: str, world: World, device_id: str, webhook: tuple[str, str]) -> dict[str, str]:
    values = {
        "park_id": world.park.id,
        "device_id": device_id,
        "metric": "energy_kwh",
        "alarm_id": world.alarm_id,
        "webhook_id": webhook[0],
        "event_id": webhook[1],
        "rule_id": make_rule(world.database_url, world.park.id) if "{rule_id}" in path else "",
        "channel_id": make_channel(world.database_url, world.park.id)
        if "{channel_id}" in path
        else "",
        "person_id": make_person(world.database_url, world.park.id)
        if "{person_id}" in path
        else "",
        "message_id": make_dead_message(world.database_url, world.park.id)
        if "{message_id}" in path
        else "",
        "kind": "enterprises",  # bulk import
        "month": "2026-01",  # economy reports
        "year": "2026",  # carbon process emissions
        **(
            make_land(world.database_url, world.park.id) if LAND_PARAMS & {*path.split("/")} else {}
        ),
        **(
            make_tenancy(world.database_url, world.park.id)
            if TENANCY_PARAMS & {*path.split("/")}
            else {}
        ),
        **(
            make_emergency(world.database_url, world.park.id)
            if EMERGENCY_PARAMS & {*path.split("/")}
            else {}
        ),
    }
    if "{month}" in path:  # an economy report of the fresh enterprise, to read or replace
        make_report(world.database_url, world.park.id, values["enterprise_id"], values["month"])
    return values


def _call(
    client: TestClient, admin: dict[str, str], world: World, method: str, path: str, key: str
) -> int:
    """One request; a mutation of a device or webhook gets a fresh one so the matrix can
    repeat."""
    device_id, webhook = world.device_id, (world.webhook_id, world.event_id)
    if method != "GET" and "{device_id}" in path:
        device_id = str(create_device(client, admin, world.park.id)["id"])
    if method != "GET" and "{webhook_id}" in path:
        webhook = make_webhook(world.database_url, world.park.id)
    body: dict[str, str] | None = {} if method in ("POST", "PATCH", "PUT") else None
    if (method, path) == ("POST", "/api/v1/parks"):
        body = {"id": f"p-{uuid.uuid4().hex[:8]}", "name": "matrix"}
    values = _values(path, world, device_id, webhook)
    if "{enterprise_id}" in path and "{device_id}" in path:  # the enterprise's own device
        owned = create_device(client, admin, world.park.id, enterprise_id=values["enterprise_id"])
        values["device_id"] = str(owned["id"])
    if key == "enterprise@park":  # the enterprise of the path (a fresh one), or the neighbour
        own = values.get("enterprise_id", world.neighbour)
        headers = auth(make_key(world.database_url, "enterprise", world.park.id, own))
    else:
        headers = world.keys[key]
    if path.endswith("/events"):  # an admitted key gets a stream that never ends: ask for a 422
        headers = {**headers, "Last-Event-ID": "not-a-position"}
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    response = client.request(method, url, json=body, headers=headers)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code


def _expected(key: str, role: Role, path: str, method: str) -> set[int] | None:
    """The statuses allowed for this key, or None for 'admitted' (anything but 401/403/404)."""
    if key in ("none", "malformed", "wrong-secret", "revoked", "basic"):
        return {401}
    name, _, bound = key.partition("@")
    if bound == "other" and "{park_id}" in path:
        return {404}
    if name.startswith("enterprise"):
        if (method, path) in ANY_KEY:
            return None
        if (method, path) in ENTERPRISE_SCOPED:
            return None if name == "enterprise" else {404}
        return {403}  # nothing park-wide, not even the path's own enterprise outside its routes
    if bound and method == "POST" and path == "/api/v1/parks":
        return {403}  # a park-bound key cannot create parks
    return {403} if Role[name] < role else None


KEYS = [
    "none",
    "malformed",
    "wrong-secret",
    "revoked",
    "basic",
    "viewer",
    "operator",
    "admin",
    "viewer@park",
    "admin@park",
    "admin@other",
    "enterprise@park",
    "enterprise-neighbour@park",
]


def _cases() -> Iterator[Any]:
    for method, path, role in ROUTES:
        for key in KEYS:
            yield pytest.param(method, path, role, key, id=f"{method} {path} [{key}]")


@pytest.mark.parametrize(("method", "path", "role", "key"), list(_cases()))
def test_access_matrix(
    client: TestClient,
    admin: dict[str, str],
    world: World,
    method: str,
    path: str,
    role: Role,
    key: str,
) -> None:
    status = _call(client, admin, world, method, path, key)
    expected = _expected(key, role, path, method)
    if expected is None:
        assert status not in (401, 403, 404), f"{key} was refused ({status})"
    else:
        assert status in expected, f"{key}: got {status}, expected {expected}"


def test_a_bound_key_lists_only_its_park(client: TestClient, world: World) -> None:
    body = client.get("/api/v1/parks", headers=world.keys["viewer@park"]).json()
    assert [p["id"] for p in body["items"]] == [world.park.id]
    seen = client.get("/api/v1/parks", headers=world.keys["viewer"]).json()
    assert world.other.id in [p["id"] for p in seen["items"]] or seen["next_cursor"]


def test_a_bound_key_cannot_read_other_parks_rejections(client: TestClient, world: World) -> None:
    url = "/api/v1/ingest/rejections"
    response = client.get(url, params={"park_id": world.other.id}, headers=world.keys["admin@park"])
    assert response.status_code == 404
    assert client.get(url, headers=world.keys["admin@park"]).status_code == 200
