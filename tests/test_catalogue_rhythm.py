"""The catalogue's rollup rhythm says what the job does with an open hour at each interval."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.config import Settings
from app.export.catalogue import _telemetry


@pytest.mark.parametrize(
    ("interval", "said"),
    [
        (timedelta(0), "an hour still being written at most every 0 s (its day's too)"),
        (
            timedelta(minutes=10),
            "an hour still being written at most every 600 s (its day's row once it has closed)",
        ),
        # an open hour's mark is never an hour old: the job does closed hours only
        (timedelta(hours=1), "an hour once it has closed (its day's row with it)"),
        (timedelta(hours=2), "an hour once it has closed (its day's row with it)"),
    ],
)
def test_the_rollup_rhythm_follows_the_open_hour_interval(interval: timedelta, said: str) -> None:
    settings = Settings(database_url=None, mqtt_url=None, rollup_open_hour_interval=interval)
    rhythm = {d["id"]: d for d in _telemetry("/api/v1/parks/p", settings)}["rollup_hour"]["rhythm"]
    assert said in rhythm
