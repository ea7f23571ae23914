"""The simulator's ``gas_leak`` scenario on a seeded park (``parktwin seed`` + ``parktwin sim``
over MQTT, the real ingestor): the worker job opens exactly one incident holding every
critical gas alarm of the leak, and its inner zone holds the detectors that went critical.
(The zones' buildings and head counts are checked by hand on the fixture park, test_e2e.)"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.emergency.support import incidents, run_incident_job
from tests.ingest_support import Ingestor, wait_until
from tests.sim.test_e2e import alarms, ingestor, scenario, seeded

__all__ = ["ingestor"]


def test_the_simulated_gas_leak_opens_exactly_one_incident(
    client: TestClient,
    admin: dict[str, str],
    settings: Settings,
    database_url: str,
    ingestor: Ingestor,
) -> None:
    park_id = seeded(settings, "incident")
    scenario(settings, park_id, "gas_leak", time.time() - 3600, 9)

    def critical_devices() -> set[object]:
        found = alarms(database_url, park_id)
        return {d for d, m, _t, s, _p in found if m == "gas_lel_pct" and s == "critical"}

    def settled() -> bool:
        """The worker has linked every critical gas alarm the ingestor raised so far."""
        run_incident_job(settings)
        linked = sum(len(i["alarm_ids"]) for i in incidents(client, admin, park_id))
        return bool(critical_devices()) and linked == len(critical_devices())

    wait_until(settled, 60, "every critical gas alarm in an incident")
    (incident,) = incidents(client, admin, park_id)
    assert incident["type"] == "gas_leak" and incident["source"] == "alarm"

    url = f"/api/v1/parks/{park_id}/incidents/{incident['id']}/impact"
    body = client.get(url, headers=admin).json()
    inner = {d["id"] for d in body["zones"][0]["devices"]}
    assert critical_devices() <= inner
    assert [z["radius_m"] for z in body["zones"]] == [100, 300]
