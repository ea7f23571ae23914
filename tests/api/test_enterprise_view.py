"""The enterprise's own view, with hand-made data: enterprise A's key sees A's devices,
readings, energy, alarms, rent and 亩均 item, and nothing of its neighbour B: B's devices and
leases are 404 even through A's own routes, and park-wide routes refuse the key (403)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.api.conftest import auth, create_device, create_park, make_key
from tests.api.test_access import make_tenancy
from tests.carbon.support import build_rollups, meter


@dataclass
class Tenants:
    park: str
    a: dict[str, str]  # enterprise_id, lease_id, payment_id, ...
    b: dict[str, str]
    device_a: str
    device_b: str
    device_park: str  # the park's own meter, of no enterprise
    key_a: dict[str, str]
    key_b: dict[str, str]


def _alarm(database_url: str, park_id: str, device_id: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO alarm (id, park_id, device_id, metric, type, severity, raised_at) "
            "VALUES (%s, %s, %s, '', 'device_offline', 'minor', now())",
            (uuid.uuid4(), park_id, device_id),
        )


def _rent(database_url: str, park_id: str, lease_id: str, monthly: int) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE lease SET rent_yuan = %s WHERE park_id = %s AND id = %s",
            (monthly, park_id, lease_id),
        )


@pytest.fixture(scope="module")
def tenants(
    client: TestClient, admin: dict[str, str], database_url: str, settings: Settings
) -> Tenants:
    park = create_park(client, admin).id
    a, b = make_tenancy(database_url, park), make_tenancy(database_url, park)
    _rent(database_url, park, a["lease_id"], 1000)
    _rent(database_url, park, b["lease_id"], 2000)
    readings_a = [("2026-11-01 00:00", 100.0), ("2026-11-02 00:00", 150.0)]
    readings_b = [("2026-11-01 00:00", 1000.0), ("2026-11-02 00:00", 1700.0)]
    device_a = meter(
        client, admin, database_url, park, readings_a, enterprise_id=a["enterprise_id"]
    )
    device_b = meter(
        client, admin, database_url, park, readings_b, enterprise_id=b["enterprise_id"]
    )
    device_park = str(create_device(client, admin, park)["id"])
    build_rollups(settings)
    for device in (device_a, device_b, device_park):
        _alarm(database_url, park, device)
    return Tenants(
        park, a, b, device_a, device_b, device_park,
        auth(make_key(database_url, "enterprise", park, a["enterprise_id"])),
        auth(make_key(database_url, "enterprise", park, b["enterprise_id"])),
    )  # fmt: skip


def own(t: Tenants, rest: str = "") -> str:
    return f"/api/v1/parks/{t.park}/enterprises/{t.a['enterprise_id']}{rest}"


def get_a(client: TestClient, t: Tenants, rest: str, **params: str) -> dict[str, object]:
    """A's route with A's key: 200, and not a trace of B or the park's own meter."""
    response = client.get(own(t, rest), params=params, headers=t.key_a)
    assert response.status_code == 200, response.text
    for foreign in (t.b["enterprise_id"], t.b["lease_id"], t.device_b, t.device_park):
        assert foreign not in response.text, (rest, foreign)
    body: dict[str, object] = response.json()
    return body


def test_its_devices_and_readings_only(client: TestClient, tenants: Tenants) -> None:
    t = tenants
    listed = get_a(client, t, "/devices")
    assert [d["id"] for d in listed["items"]] == [t.device_a]  # type: ignore[index, union-attr]
    twin = get_a(client, t, f"/devices/{t.device_a}")
    assert twin["latest"]["energy_kwh"]["value"] == 150.0  # type: ignore[index]
    latest = get_a(client, t, f"/devices/{t.device_a}/latest")
    assert latest["values"]["energy_kwh"]["value"] == 150.0  # type: ignore[index]
    wall = get_a(client, t, "/latest")
    assert [x["device_id"] for x in wall["items"]] == [t.device_a]  # type: ignore[index, union-attr]
    asked = client.get(
        own(t, "/latest"), params={"device_id": [t.device_a, t.device_b]}, headers=t.key_a
    )
    assert [x["device_id"] for x in asked.json()["items"]] == [t.device_a]
    series = get_a(
        client, t, f"/devices/{t.device_a}/series/energy_kwh",
        **{"from": "2026-10-31T00:00:00Z", "to": "2026-11-03T00:00:00Z", "interval": "1d"},
    )  # fmt: skip
    assert sum(p["value"] for p in series["points"]) == 50.0  # type: ignore[attr-defined, union-attr]


@pytest.mark.parametrize("rest", ["", "/latest", "/series/energy_kwh"])
def test_a_neighbours_device_is_404_even_through_its_own_routes(
    client: TestClient, tenants: Tenants, rest: str
) -> None:
    t = tenants
    for device in (t.device_b, t.device_park, "no-such-device"):
        response = client.get(own(t, f"/devices/{device}{rest}"), headers=t.key_a)
        assert response.status_code == 404, (device, response.text)
        assert t.b["enterprise_id"] not in response.text
    neighbours = f"/api/v1/parks/{t.park}/enterprises/{t.b['enterprise_id']}/devices/{t.device_b}"
    assert client.get(neighbours + rest, headers=t.key_a).status_code == 404
    assert client.get(neighbours + rest, headers=t.key_b).status_code == 200


def test_its_alarms_only(client: TestClient, tenants: Tenants) -> None:
    t = tenants
    alarms = get_a(client, t, "/alarms")
    assert [x["device_id"] for x in alarms["items"]] == [t.device_a]  # type: ignore[index, union-attr]
    response = client.get(own(t, "/alarms"), params={"device_id": t.device_b}, headers=t.key_a)
    assert response.status_code == 404


def test_its_energy_is_its_meters_alone(
    client: TestClient, admin: dict[str, str], tenants: Tenants
) -> None:
    t = tenants
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    answer = get_a(client, t, "/energy", **period)
    rows = answer["rows"]
    assert [r["group"] for r in rows] == [t.a["enterprise_id"]]  # type: ignore[attr-defined, index]
    (grid,) = rows[0]["carriers"]  # type: ignore[index]
    assert grid["quantity"] == 50.0
    park = client.get(
        f"/api/v1/parks/{t.park}/carbon/energy",
        params={**period, "group_by": "enterprise", "interval": "month"},
        headers=admin,
    ).json()
    by_group = {r["group"]: r["tce_equivalent"] for r in park["rows"]}
    assert by_group[t.a["enterprise_id"]] == rows[0]["tce_equivalent"]  # type: ignore[index]
    assert by_group[t.b["enterprise_id"]] > by_group[t.a["enterprise_id"]]


def test_its_carbon_account(client: TestClient, tenants: Tenants) -> None:
    report = get_a(client, tenants, "/carbon", year="2026")
    assert report["enterprise_id"] == tenants.a["enterprise_id"]
    assert report["zero_carbon"]  # shown without the park's targets
    assert report["totals"]["tce_equivalent"] > 0  # type: ignore[index, operator]


def test_its_rent_due_and_paid(client: TestClient, tenants: Tenants) -> None:
    t = tenants
    rent = get_a(client, t, "/rent", **{"from": "2026-01", "to": "2026-12"})
    assert [x["lease_id"] for x in rent["leases"]] == [t.a["lease_id"]]  # type: ignore[attr-defined, index]
    assert Decimal(str(rent["due_yuan"])) == Decimal("12000.00")
    assert Decimal(str(rent["paid_yuan"])) == Decimal("100")
    leases = get_a(client, t, "/leases")
    assert [x["id"] for x in leases["items"]] == [t.a["lease_id"]]  # type: ignore[index, union-attr]
    payments = get_a(client, t, f"/leases/{t.a['lease_id']}/payments")
    assert [x["id"] for x in payments["items"]] == [t.a["payment_id"]]  # type: ignore[index, union-attr]
    theirs = client.get(own(t, f"/leases/{t.b['lease_id']}/payments"), headers=t.key_a)
    assert theirs.status_code == 404
    premises = get_a(client, t, "/premises")
    assert [(x["kind"], x["lease_id"]) for x in premises["items"]] == [  # type: ignore[index, union-attr]
        ("parcel", t.a["lease_id"])
    ]


def test_its_per_mu_item_only(client: TestClient, tenants: Tenants) -> None:
    result = get_a(client, tenants, "/per-mu", year="2026")
    assert result["result"]["enterprise_id"] == tenants.a["enterprise_id"]  # type: ignore[index]
    assert "items" not in result


def test_the_overview(client: TestClient, tenants: Tenants) -> None:
    page = get_a(client, tenants, "")
    assert page["id"] == tenants.a["enterprise_id"]
    overview = get_a(client, tenants, "/overview")
    assert overview["devices"]["total"] == 1  # type: ignore[index]
    assert overview["alarms"] == {  # one device_offline alarm on its meter
        "active": 1, "critical": 0, "major": 0, "minor": 1, "warning": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    "rest",
    [
        "/devices",
        "/alarms",
        "/carbon/energy?group_by=enterprise",
        "/carbon/report?year=2026&enterprise_id={e}",
        "/economy/per-mu?year=2026",
        "/rent/collection?from=2026-01&to=2026-12",
        "/leases?enterprise_id={e}",
        "/latest",
        "/devices/{d}/series/energy_kwh",
    ],
)
def test_park_wide_figures_refuse_the_key(client: TestClient, tenants: Tenants, rest: str) -> None:
    t = tenants
    url = f"/api/v1/parks/{t.park}" + rest.format(e=t.a["enterprise_id"], d=t.device_a)
    assert client.get(url, headers=t.key_a).status_code == 403
