"""Each scenario end to end: ``parktwin seed`` a small park, ``parktwin sim`` publishing over
MQTT with the devices' own accounts, the real ingestor storing, alarms and rejections in the
database.

Scenarios run in simulated time faster than the clock (``--speed``) from a start in the past,
so a leak's two-minute ramp takes seconds; every reading's ``ts`` stays inside the ingestor's
window.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from app.alarms.jobs import detect_offline
from app.broker.dynsec import DynsecClient
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from app.worker.loop import Job
from ingest.parse import Rejection, parse_telemetry
from sensors_sim.catalogue import METRICS
from sensors_sim.layout import generate
from sensors_sim.seed import seed_park
from sensors_sim.stream import Faults, Stream
from tests.api.worker_util import drain
from tests.conftest import ServiceEnv
from tests.ingest_support import ROOT, Ingestor, Publisher, add_park, wait_until

DEVICES = 24
SPEED = 20.0
RATE = 120.0
AT = 5.0  # scenario start, simulated seconds


@pytest.fixture(scope="module")
def ingestor(database_url: str, services: ServiceEnv) -> Iterator[Ingestor]:
    ingest = Ingestor(database_url, services.mqtt_url)
    ingest.env["PARKTWIN_INGEST_LAST_SEEN_RESOLUTION"] = "PT0S"
    ingest.start()
    target = MqttTarget.from_url(services.mqtt_url)
    dynsec = DynsecClient(target)
    dynsec.connect()
    probe_park = f"probe-{uuid.uuid4().hex[:6]}"
    add_park(database_url, probe_park, {"probe": "gas_detector"})
    probe = Publisher(target, dynsec, probe_park, "probe")
    try:
        ingest.wait_subscribed(target, probe, database_url)
        yield ingest
    finally:
        probe.close()
        dynsec.close()
        ingest.stop()


def seeded(settings: Settings, name: str) -> str:
    park_id = f"sim-{name}-{uuid.uuid4().hex[:6]}"
    result = asyncio.run(seed_park(settings, park_id, 1, DEVICES))
    assert result.devices == DEVICES and result.new_passwords + result.rotated == DEVICES
    return park_id


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def sim(settings: Settings, park_id: str, *args: str) -> str:
    env = {
        "PARKTWIN_DATABASE_URL": settings.resolved_database_url(),
        "PARKTWIN_MQTT_URL": settings.resolved_mqtt_url(),
        "PARKTWIN_STATE_DIR": str(settings.state_dir),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "sim", "--park", park_id, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def scenario(settings: Settings, park_id: str, name: str, start: float, seconds: float) -> None:
    sim(
        settings,
        park_id,
        "--scenario", name,
        "--scenario-at", str(AT),
        "--start", iso(start),
        "--speed", str(SPEED),
        "--rate", str(RATE),
        "--duration", str(seconds),
        "--no-faults",
    )  # fmt: skip


def query(database_url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def alarms(database_url: str, park_id: str) -> list[tuple[object, ...]]:
    return query(
        database_url,
        "SELECT device_id, metric, type, severity, peak_value FROM alarm WHERE park_id = %s",
        park_id,
    )


def rejections(database_url: str, park_id: str) -> int:
    rows = query(
        database_url,
        "SELECT count(*) FROM ingest_rejection WHERE topic LIKE %s",
        f"parks/{park_id}/%",
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def events(database_url: str, park_id: str) -> list[str]:
    rows = query(
        database_url,
        "SELECT type FROM event_outbox WHERE park_id = %s ORDER BY created_at",
        park_id,
    )
    return [str(r[0]) for r in rows]


def readings(database_url: str, park_id: str, device_id: str, metric: str) -> list[tuple]:  # type: ignore[type-arg]
    return query(
        database_url,
        "SELECT t.time, t.value FROM telemetry t JOIN series s ON s.id = t.series_id "
        "WHERE s.park_id = %s AND s.device_id = %s AND s.metric = %s ORDER BY t.time",
        park_id,
        device_id,
        metric,
    )


def stream(park_id: str, name: str, start: float, duration: float = 300.0) -> Stream:
    return Stream(
        generate(park_id, 1, DEVICES),
        seed=1,
        start=start,
        rate=RATE,
        speed=SPEED,
        scenario=name,
        scenario_at=AT,
        scenario_duration=duration,
        faults=Faults.none(),
    )


def test_gas_leak_raises_then_escalates(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    park_id = seeded(settings, "gas")
    start = time.time() - 3600
    scenario(settings, park_id, "gas_leak", start, 9)  # 180 simulated seconds: past the peak
    source = stream(park_id, "gas_leak", start).scenario
    assert source is not None
    wait_until(lambda: "alarm.escalated" in events(database_url, park_id), 60, "escalation")
    found = alarms(database_url, park_id)
    assert [(m, t, s) for _d, m, t, s, _p in found] == [("gas_lel_pct", "threshold", "critical")]
    assert float(found[0][4]) >= 50  # type: ignore[arg-type]
    assert events(database_url, park_id)[:2] == ["alarm.raised", "alarm.escalated"]
    assert rejections(database_url, park_id) == 0


def test_fire_raises_smoke_alarms(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    park_id = seeded(settings, "fire")
    start = time.time() - 3600
    scenario(settings, park_id, "fire", start, 6)
    fire = stream(park_id, "fire", start).scenario
    assert fire is not None
    smoke = {
        d.id for d in generate(park_id, 1, DEVICES).devices if d.index in fire.targets
        and d.type == "smoke_detector"
    }  # fmt: skip
    wait_until(lambda: len(alarms(database_url, park_id)) >= len(smoke), 60, "smoke alarms")
    found = alarms(database_url, park_id)
    assert {(d, m, s) for d, m, _t, s, _p in found} == {(d, "smoke", "critical") for d in smoke}


def test_power_outage_zeroes_a_building(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    park_id = seeded(settings, "outage")
    start = time.time() - 3600
    scenario(settings, park_id, "power_outage", start, 6)
    outage = stream(park_id, "power_outage", start).scenario
    assert outage is not None
    park = generate(park_id, 1, DEVICES)
    meters = [d.id for d in park.devices if d.index in outage.targets]
    assert meters
    during = start + AT + 1
    for meter in meters:
        wait_until(
            lambda m=meter: any(
                t.timestamp() > during + 30
                for t, _v in readings(database_url, park_id, m, "power_kw")
            ),
            60,
            "the outage's readings",
        )
        rows = readings(database_url, park_id, meter, "power_kw")
        assert any(v > 0 for t, v in rows if t.timestamp() < start + AT - 1)
        assert all(v == 0 for t, v in rows if t.timestamp() > during)
    assert alarms(database_url, park_id) == [] and rejections(database_url, park_id) == 0


def test_meter_reset_drops_a_counter_once(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    park_id = seeded(settings, "reset")
    start = time.time() - 3600
    scenario(settings, park_id, "meter_reset", start, 4)
    reset = stream(park_id, "meter_reset", start).scenario
    assert reset is not None
    park = generate(park_id, 1, DEVICES)
    for index in reset.targets:
        meter = park.devices[index].id

        def drops(m: str = meter) -> int:
            values = [v for _t, v in readings(database_url, park_id, m, "energy_kwh")]
            return sum(b < a for a, b in itertools.pairwise(values))

        wait_until(lambda d=drops: d() == 1, 60, f"the reset of {meter}")  # type: ignore[misc]
    assert alarms(database_url, park_id) == [] and rejections(database_url, park_id) == 0


def test_burst_replays_the_backlog(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    park_id = seeded(settings, "burst")
    start = time.time() - 3600
    sim(
        settings, park_id, "--scenario", "burst", "--scenario-at", str(AT),
        "--scenario-duration", "60", "--start", iso(start), "--speed", str(SPEED),
        "--rate", str(RATE), "--duration", "6", "--no-faults",
    )  # fmt: skip
    expected = stream(park_id, "burst", start, duration=60.0)
    assert expected.scenario is not None
    targets = expected.scenario.targets
    held = 0
    for message in expected:
        if message.due > 4.5:  # well after the release at 65 simulated s (3.25 s)
            break
        ts = orjson.loads(message.payload)["ts"] / 1000 - start
        held += message.device in targets and AT <= ts < AT + 60
    assert held > 5
    ids = tuple(d.id for d in generate(park_id, 1, DEVICES).devices if d.index in targets)

    def stored() -> int:
        (row,) = query(
            database_url,
            "SELECT count(DISTINCT (s.device_id, t.time)) FROM telemetry t "
            "JOIN series s ON s.id = t.series_id "
            "WHERE s.park_id = %s AND s.device_id = ANY(%s) AND t.time >= %s AND t.time < %s",
            park_id,
            list(ids),
            datetime.fromtimestamp(start + AT, UTC),
            datetime.fromtimestamp(start + AT + 60, UTC),
        )
        return int(row[0])  # type: ignore[call-overload]

    wait_until(lambda: stored() == held, 60, f"{held} backlog readings")
    assert alarms(database_url, park_id) == [] and rejections(database_url, park_id) == 0


def test_device_offline_wills_and_alarms(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    park_id = seeded(settings, "offline")
    start = time.time() - 3600
    scenario(settings, park_id, "device_offline", start, 4)
    offline = stream(park_id, "device_offline", start).scenario
    assert offline is not None and offline.targets
    park = generate(park_id, 1, DEVICES)
    silent = sorted(park.devices[i].id for i in offline.targets)

    def status() -> dict[str, str]:
        rows = query(database_url, "SELECT id, status FROM device WHERE park_id = %s", park_id)
        return {str(i): str(s) for i, s in rows}

    # the broker published their last will ("offline", retained) when their links dropped
    wait_until(lambda: all(status()[d] == "offline" for d in silent), 60, "the wills")
    assert {d for d, s in status().items() if s == "offline"} == set(silent)
    with psycopg.connect(database_url, autocommit=True) as conn:  # silent for an hour
        conn.execute(
            "UPDATE device SET last_seen_at = now() - interval '1 hour' "
            "WHERE park_id = %s AND id = ANY(%s)",
            (park_id, silent),
        )
        # ... while the ingestor was listening: only then is silence the device's
        conn.execute(
            "UPDATE ingest_coverage SET covered_since = covered_since - interval '1 hour' "
            "WHERE covered_since IS NOT NULL"
        )
    drain(settings, Job("offline", detect_offline))
    found = alarms(database_url, park_id)
    assert sorted((d, t, s) for d, _m, t, s, _p in found) == [
        (d, "device_offline", "minor") for d in silent
    ]


def test_malformed_messages_are_rejected_with_their_reasons(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    """A stream with every fault: exactly its malformed messages end up in the rejection log,
    each with the reason the ingestor's parser and catalogue give it."""
    park_id = seeded(settings, "faults")
    start = time.time() - 3600
    # 0.1% of messages are malformed and the stream follows the (random) park id: 20,000
    # messages make fewer than two malformed ones a 1-in-10^7 event (6,000 made it 1 in 60)
    count = 20_000
    sim(
        settings, park_id, "--start", iso(start), "--rate", "3000", "--count", str(count),
        "--seed", "7",
    )  # fmt: skip
    park = generate(park_id, 1, DEVICES)
    expected: Counter[str] = Counter()
    full = Stream(park, seed=7, start=start, rate=3000)
    now, max_age = datetime.now(UTC), timedelta(days=7)
    for n, message in enumerate(full):
        if n >= count:
            break
        parsed = parse_telemetry(message.topic, message.payload, now, max_age)
        if isinstance(parsed, Rejection):
            expected[parsed.reason] += 1
        elif any(
            metric not in METRICS[park.devices[message.device].type]
            for _ts, metric, _v in parsed.readings
        ):
            expected["unknown_metric"] += 1
    assert sum(expected.values()) >= 2

    def rejected() -> Counter[str]:
        rows = query(
            database_url,
            "SELECT reason FROM ingest_rejection WHERE topic LIKE %s",
            f"parks/{park_id}/%",
        )
        return Counter(str(r[0]) for r in rows)

    wait_until(lambda: rejected() == expected, 60, f"rejections {dict(expected)}")


def test_two_processes_share_the_devices(
    settings: Settings, database_url: str, ingestor: Ingestor
) -> None:
    park_id = seeded(settings, "procs")
    report = sim(
        settings, park_id, "--processes", "2", "--count", "100", "--rate", "400",
        "--start", iso(time.time() - 600), "--no-faults",
    )  # fmt: skip
    # 100 messages per process, plus each device's retained "online", all acknowledged
    assert "200 messages" in report and f"{200 + DEVICES} acknowledged" in report, report

    def devices_heard() -> int:
        rows = query(
            database_url,
            "SELECT count(DISTINCT s.device_id) FROM telemetry t "
            "JOIN series s ON s.id = t.series_id WHERE s.park_id = %s",
            park_id,
        )
        return int(rows[0][0])  # type: ignore[call-overload]

    wait_until(lambda: devices_heard() == DEVICES, 60, "readings from every device")
