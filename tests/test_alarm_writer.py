"""AlarmWriter (app/alarms/evaluator.py) on a batch of many watched keys: every key's state is
written back (in one statement), so each key's next batch starts from where this one ended."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from app.alarms.evaluator import AlarmWriter
from app.alarms.rules import RuleBook
from app.core.clock import to_us
from tests.ingest_support import add_park


@dataclass(frozen=True)
class Readings:
    park_id: str
    device_id: str
    readings: list[tuple[int, str, float]]


def test_a_batch_saves_the_state_of_every_key_it_evaluated(database_url: str) -> None:
    park = f"aw-{uuid.uuid4().hex[:6]}"
    devices = [f"g{i}" for i in range(6)]
    add_park(database_url, park, dict.fromkeys(devices, "gas_detector"))
    types = {(park, d): "gas_detector" for d in devices}
    now = to_us(datetime.now(UTC))
    # the gas rule (migration 0005, GB/T 50493-2019): major from 25 %LEL, critical from 50
    values = {"g0": 30.0, "g1": 55.0, "g2": 1.0, "g3": 2.0, "g4": 3.0, "g5": 4.0}
    with psycopg.connect(database_url) as conn:
        writer = AlarmWriter(conn, RuleBook())
        batch = [Readings(park, d, [(now, "gas_lel_pct", values[d])]) for d in devices]
        assert writer.apply(batch, types) == 2  # g0 raised at level 1, g1 at level 2
        rows = conn.execute(
            "SELECT device_id, level, pending, last_value, last_at FROM alarm_state"
            " WHERE park_id = %s ORDER BY device_id",
            (park,),
        ).fetchall()
        assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
            ("g0", 1, 1, 30.0),
            ("g1", 2, 2, 55.0),
            ("g2", 0, 0, 1.0),
            ("g3", 0, 0, 2.0),
            ("g4", 0, 0, 3.0),
            ("g5", 0, 0, 4.0),
        ]
        assert {to_us(r[4]) for r in rows} == {now}
        # one second older, back to 1 %LEL: every key saw a newer reading, so none of these
        # counts (a late reading only ever raises: app/alarms/engine.py ``late``); had their
        # newest time not been saved, g0 and g1 would have returned to normal
        older = [Readings(park, d, [(now - 1_000_000, "gas_lel_pct", 1.0)]) for d in devices]
        assert writer.apply(older, types) == 0
        # a newer reading goes on from the saved level: g0 escalates from 1 to 2
        newer = [Readings(park, "g0", [(now + 1_000_000, "gas_lel_pct", 60.0)])]
        assert writer.apply(newer, types) == 1
        conn.commit()
        kinds = conn.execute(
            "SELECT device_id, severity FROM alarm WHERE park_id = %s ORDER BY device_id", (park,)
        ).fetchall()
        assert kinds == [("g0", "critical"), ("g1", "critical")]
