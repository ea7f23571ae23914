"""The rollup job's pace (app/telemetry/jobs.py ``pace``), by hand: after each batch it rests so
that it works at most ``PARKTWIN_ROLLUP_DUTY_CYCLE`` of the time, but never so long that the
hours due could not all be done within ``PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL``."""

from __future__ import annotations

import pytest

from app.telemetry.jobs import pace

# bench/park100k: 162,359 open hours due at once every 10 minutes, batches of 2,000
DUE, BATCH, WITHIN = 162_359, 2_000, 600.0


def test_on_a_quiet_machine_the_duty_cycle_spreads_the_pass() -> None:
    # a batch of 1.0 s: the duty (0.25) asks for 1.0 * (1 / 0.25 - 1) = 3.0 s of rest; keeping
    # up allows 600 * 2,000 / 162,359 - 1.0 = 7.391 - 1.0 = 6.391 s: the duty binds, and the
    # pass takes 162,359 / 2,000 = 81.2 batches of 4.0 s = 325 s of its 600
    assert pace(1.0, duty=0.25, batch=BATCH, waiting=DUE, within=WITHIN) == pytest.approx(3.0)


def test_on_a_busy_machine_keeping_up_cuts_the_rest() -> None:
    # a batch of 2.5 s: the duty asks for 7.5 s, keeping up allows 7.391 - 2.5 = 4.891 s: the
    # pass then takes 81.2 cycles of 7.391 s = 600 s, its interval
    rest = pace(2.5, duty=0.25, batch=BATCH, waiting=DUE, within=WITHIN)
    assert rest == pytest.approx(600 * 2000 / 162359 - 2.5)
    assert rest == pytest.approx(4.891, abs=0.001)


def test_a_machine_too_slow_to_keep_up_gets_no_rest() -> None:
    # a batch of 8 s is longer than the 7.391 s a batch may take: full speed
    assert pace(8.0, duty=0.25, batch=BATCH, waiting=DUE, within=WITHIN) == 0.0


def test_a_small_park_rests_by_the_duty_alone() -> None:
    # 40 hours due, all in this batch of 0.2 s: keeping up allows 60 - 0.2 s, the duty 0.6 s
    assert pace(0.2, duty=0.25, batch=40, waiting=40, within=60.0) == pytest.approx(0.6)


def test_no_rest_at_a_duty_of_one_or_when_everything_is_due_now() -> None:
    assert pace(1.0, duty=1.0, batch=BATCH, waiting=DUE, within=WITHIN) == 0.0
    # PARKTWIN_ROLLUP_OPEN_HOUR_INTERVAL=0 (the tests' drain): every hour due at once, no rest
    assert pace(1.0, duty=0.25, batch=BATCH, waiting=DUE, within=0.0) == 0.0


def test_a_duty_cycle_is_a_share_of_the_time() -> None:
    for duty in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="share of the time"):
            pace(1.0, duty=duty, batch=1, waiting=1, within=60.0)
