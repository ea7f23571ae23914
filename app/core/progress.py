"""Progress lines for long commands, for the person at the terminal: ``devices 400/2000 (8 s)``
on stderr at every tenth of the total, and at least every 5 seconds while work goes on."""

from __future__ import annotations

import sys
import time
from typing import TextIO

EVERY_SECONDS = 5.0


class Progress:
    def __init__(
        self, label: str, total: int, out: TextIO | None = None, every: float = EVERY_SECONDS
    ) -> None:
        self.label, self.total, self.every = label, total, every
        self.out = sys.stderr if out is None else out
        self.done = 0
        self.started = self.last = time.monotonic()
        self._next_tenth = 1

    def advance(self, count: int) -> None:
        """``count`` more items done; print a line when a tenth is passed or time is up."""
        self.done += count
        now = time.monotonic()
        tenth = self.done * 10 // self.total if self.total else 10
        if tenth >= self._next_tenth or now - self.last >= self.every:
            self._next_tenth = tenth + 1
            self.last = now
            elapsed = now - self.started
            self.out.write(f"{self.label} {self.done}/{self.total} ({elapsed:.0f} s)\n")
            self.out.flush()
