"""The data catalogue: each dataset with its fields, units, rhythm, retention and where to get
it; the metrics of the park's devices with their units."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.api.conftest import create_device, create_park


def test_catalogue_lists_datasets_units_rhythm_and_sources(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str], settings: Settings
) -> None:
    park = create_park(client, admin)
    for kind in ("electricity_meter", "electricity_meter", "gas_detector"):
        create_device(client, admin, park.id, kind)
    response = client.get(f"/api/v1/parks/{park.id}/catalogue", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["park_id"], body["timezone"]) == (park.id, "Asia/Shanghai")
    datasets = {d["id"]: d for d in body["datasets"]}
    assert set(datasets) >= {"readings", "rollup_hour", "rollup_day", "latest", "alarms",
                             "energy_day", "carbon_factors", "economy_reports"}  # fmt: skip
    readings = datasets["readings"]
    assert [f["name"] for f in readings["fields"]] == ["ts", "device_id", "metric", "value", "unit"]
    assert readings["retention"] == f"P{settings.raw_retention.days}D"
    assert readings["export"] == {
        "csv": f"/api/v1/parks/{park.id}/export/readings?format=csv",
        "parquet": f"/api/v1/parks/{park.id}/export/readings?format=parquet",
    }
    hour = datasets["rollup_hour"]
    assert hour["bi_view"] == "bi.rollup_hour"
    assert f"{settings.rollup_batch} hours" in hour["rhythm"]
    assert "working at most 25% of the time" in hour["rhythm"]  # PARKTWIN_ROLLUP_DUTY_CYCLE
    assert "at most every 60 s (its day's row once it has closed)" in hour["rhythm"]
    assert hour["export"]["csv"].endswith("/export/rollups?format=csv&level=hour")
    assert datasets["rollup_day"]["retention"] == f"P{settings.daily_rollup_retention.days}D"
    month = datasets["rollup_month"]
    assert (month["bi_view"], month["export"]) == ("bi.rollup_month", {})
    assert month["retention"] == f"P{settings.daily_rollup_retention.days}D"
    assert datasets["alarms"]["api"] == f"/api/v1/parks/{park.id}/alarms?status=all"
    metrics = {(m["device_type"], m["metric"]): m for m in body["metrics"]}
    assert metrics[("electricity_meter", "energy_kwh")] == {
        "device_type": "electricity_meter", "domain": "energy", "metric": "energy_kwh",
        "unit": "kWh", "kind": "counter", "devices": 2,
    }  # fmt: skip
    assert metrics[("gas_detector", "gas_lel_pct")]["unit"] == "%LEL"
    assert all(m["device_type"] != "water_meter" for m in body["metrics"])  # none in the park


def test_catalogue_of_another_park_is_404(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    from tests.api.conftest import auth, make_key

    mine, other = create_park(client, admin), create_park(client, admin)
    key = auth(make_key(database_url, "viewer", mine.id))
    assert client.get(f"/api/v1/parks/{other.id}/catalogue", headers=key).status_code == 404
    assert client.get(f"/api/v1/parks/{mine.id}/catalogue", headers=key).status_code == 200
