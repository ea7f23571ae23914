"""The figures in force and a park's own versions of them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import create_park

CUTOFFS = [
    {"grade": "A", "upper_pct": 0.1},
    {"grade": "B", "upper_pct": 0.5},
    {"grade": "C", "upper_pct": 0.9},
    {"grade": "D", "upper_pct": 1},
]


def test_defaults_and_a_parks_versions(
    client: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    park = create_park(client, admin)
    base = f"/api/v1/parks/{park.id}/economy"
    got = client.get(f"{base}/settings?on=2026-06-01&year=2026", headers=viewer).json()
    params = {p["name"]: p for p in got["parameters"]}
    assert params["above_scale_revenue"]["value"] == 2000
    assert (
        params["operating_ratio"]["value"] == 0.3 and params["operating_ratio"]["park_id"] is None
    )
    assert params["anomaly_drop_ratio"]["verify"] is True
    assert {b["indicator"] for b in got["benchmarks"]} >= {"tax_per_mu", "rd_ratio"}
    assert [c["grade"] for c in got["cutoffs"]] == ["A", "B", "C", "D"]

    body = {"name": "operating_ratio", "valid_from": "2026-03-01", "value": 0.4}
    assert client.post(f"{base}/parameters", json=body, headers=viewer).status_code == 403
    created = client.post(f"{base}/parameters", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["park_id"] == park.id
    assert client.post(f"{base}/parameters", json=body, headers=admin).status_code == 409
    bad = {**body, "name": "pi"}
    assert client.post(f"{base}/parameters", json=bad, headers=admin).status_code == 422
    month = {"name": "power_base_month", "valid_from": "2026-01-01", "value": "2026-13"}
    assert client.post(f"{base}/parameters", json=month, headers=admin).status_code == 422
    before = client.get(f"{base}/settings?on=2026-02-28", headers=viewer).json()
    after = client.get(f"{base}/settings?on=2026-03-01", headers=viewer).json()
    ratio = {p["name"]: p["value"] for p in before["parameters"]}["operating_ratio"]
    assert ratio == 0.3
    assert {p["name"]: p["value"] for p in after["parameters"]}["operating_ratio"] == 0.4

    benchmarks = {
        "year": 2026,
        "region": "our park",
        "items": [
            {"firm_class": "small", "indicator": "tax_per_mu", "benchmark": 5, "weight": 100}
        ],
        "cutoffs": CUTOFFS,
    }
    replaced = client.put(f"{base}/benchmarks", json=benchmarks, headers=admin)
    assert replaced.status_code == 200, replaced.text
    assert [b["region"] for b in replaced.json()["benchmarks"]] == ["our park"]
    assert replaced.json()["cutoffs"][0]["upper_pct"] == 0.1
    later = client.get(f"{base}/settings?year=2030", headers=viewer).json()
    assert later["benchmarks"][0]["year"] == 2026  # in force until a later set
    wrong = {**benchmarks, "items": [{**benchmarks["items"][0], "indicator": "rd_ratio"}]}  # type: ignore[dict-item]
    assert client.put(f"{base}/benchmarks", json=wrong, headers=admin).status_code == 422
    unordered = {
        **benchmarks,
        "cutoffs": [*CUTOFFS[:2], {"grade": "C", "upper_pct": 0.3}, CUTOFFS[3]],
    }
    assert client.put(f"{base}/benchmarks", json=unordered, headers=admin).status_code == 422
