"""``parktwin seed``: the generated park through the bulk import, idempotent, with device
passwords kept for the simulator (and rotated when one is missing)."""

from __future__ import annotations

import asyncio
import re
import stat
import uuid

import psycopg
import pytest

from app.cli import build_parser
from app.core.config import Settings
from app.core.mqtt import MqttTarget
from sensors_sim import credentials, layout
from sensors_sim.cli import run_seed
from sensors_sim.mqtt import Connection, Transport
from sensors_sim.seed import seed_park

DEVICES = 15


def count(database_url: str, table: str, park_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {table} WHERE park_id = %s", (park_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def connects(settings: Settings, park_id: str, device_id: str, password: str) -> bool:
    """Whether the broker accepts the device's account (a CONNACK with code 0)."""
    target = MqttTarget.from_url(settings.resolved_mqtt_url())
    transport = Transport(target.host, target.port)
    prefix = f"parks/{park_id}/devices/{device_id}"
    username = f"{park_id}:{device_id}"  # also its client id, as the simulator does
    conn = Connection(0, username, username, password, f"{prefix}/status")
    transport.open(conn, 30)
    transport.flush(conn)
    for _ in range(100):
        transport.poll(0.05)
        if conn.connected or conn.refused or conn.sock is None:
            break
    accepted = conn.connected
    transport.drop(conn, goodbye=True)
    return accepted


def test_seed_is_idempotent_and_keeps_working_passwords(
    settings: Settings, database_url: str
) -> None:
    park_id = f"seed-{uuid.uuid4().hex[:6]}"
    first = asyncio.run(seed_park(settings, park_id, 1, DEVICES))
    assert first.created_park and first.new_passwords == DEVICES and first.rotated == 0
    assert count(database_url, "parcel", park_id) == 12
    assert count(database_url, "building", park_id) == 30
    assert count(database_url, "enterprise", park_id) == 40
    # every lease of the layout (its count depends on the park id: 154-443 over 400 random ids)
    assert count(database_url, "lease", park_id) == len(layout.generate(park_id, 1, DEVICES).leases)
    assert count(database_url, "device", park_id) == DEVICES
    path = credentials.path_for(settings.state_dir, park_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = credentials.load(settings.state_dir, park_id)
    assert stored is not None and len(stored.passwords) == DEVICES

    again = asyncio.run(seed_park(settings, park_id, 1, DEVICES))
    assert (again.created_park, again.new_passwords, again.rotated) == (False, 0, 0)
    assert count(database_url, "device", park_id) == DEVICES

    device_id, old = sorted(stored.passwords.items())[0]
    del stored.passwords[device_id]  # lost: the seed must rotate it
    credentials.save(settings.state_dir, stored)
    third = asyncio.run(seed_park(settings, park_id, 1, DEVICES))
    assert third.rotated == 1
    new = credentials.load(settings.state_dir, park_id)
    assert new is not None and new.passwords[device_id] != old
    assert connects(settings, park_id, device_id, new.passwords[device_id])
    assert not connects(settings, park_id, device_id, old)


def test_the_seed_command_reports_progress_on_stderr(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    park_id = f"seedp-{uuid.uuid4().hex[:6]}"
    args = build_parser().parse_args(["seed", "demo", "--park", park_id, "--devices", "40"])
    assert run_seed(args, settings) == 0
    captured = capsys.readouterr()
    lines = re.findall(r"^devices (\d+)/40 \(\d+ s\)$", captured.err, re.MULTILINE)
    counts = [int(n) for n in lines]
    assert set(range(4, 41, 4)) <= set(counts)  # every tenth of the devices
    assert counts == sorted(counts) and counts[-1] == 40
    assert re.search(r"^parcels 12/12 \(\d+ s\)$", captured.err, re.MULTILINE)
    assert "devices" not in captured.out.replace("40 devices", "")  # stdout: the summary only
    assert f"park {park_id!r} created; 40 devices" in captured.out

    assert run_seed(args, settings) == 0  # nothing left to import: no device progress
    again = capsys.readouterr()
    assert not re.search(r"^devices ", again.err, re.MULTILINE)
    assert "0 new and 0 rotated" in again.out
