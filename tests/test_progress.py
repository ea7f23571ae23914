"""Progress lines: one per tenth of the total, and one whenever 5 seconds passed without."""

from __future__ import annotations

import io

import pytest

from app.core import progress as progress_module
from app.core.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", fake)
    return fake


def test_a_line_per_tenth(clock: Clock) -> None:
    out = io.StringIO()
    progress = Progress("devices", 2000, out)
    for _ in range(200):
        clock.now += 0.1
        progress.advance(10)
    lines = out.getvalue().splitlines()
    assert [line.split(" ")[1] for line in lines] == [f"{n}/2000" for n in range(200, 2001, 200)]
    assert lines[-1] == "devices 2000/2000 (20 s)"


def test_a_line_when_time_is_up_between_tenths(clock: Clock) -> None:
    out = io.StringIO()
    progress = Progress("devices", 1000, out)
    progress.advance(10)  # 1 %, early: nothing yet
    assert out.getvalue() == ""
    clock.now += 6
    progress.advance(10)
    assert out.getvalue() == "devices 20/1000 (6 s)\n"


def test_big_steps_print_once_per_step(clock: Clock) -> None:
    out = io.StringIO()
    progress = Progress("parcels", 12, out)
    progress.advance(12)
    assert out.getvalue() == "parcels 12/12 (0 s)\n"
