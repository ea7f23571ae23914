"""The bounded queue between paho's network thread and an ingest worker, with an urgent lane.

Readings that an alarm rule watches (gas and smoke detectors, and whatever a park adds rules
for) must not wait behind thousands of meter readings: a gas leak has to reach the on-call
receiver within a second even while the park's meters flood in. So the queue has two lanes.
:meth:`Lanes.take` serves the urgent lane first and makes a batch of urgent messages only,
which commits in milliseconds, while the normal lane is taken in big batches for throughput.
A normal batch being filled stops early when an urgent message arrives.

Each lane has the bound: when a lane is full, :meth:`Lanes.put` blocks paho's thread, the
socket is no longer read and the broker holds the rest (back-pressure without loss). The
lanes are bounded apart so that a backlog of meter readings never blocks a gas reading.

Order: within a lane, arrival order. A device's urgent and normal messages never mix (a device
is urgent or not), except while it becomes urgent; alarm evaluation ignores a reading older
than the newest one it has evaluated, and storage does not depend on order.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Lanes(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._urgent: deque[T] = deque()
        self._normal: deque[T] = deque()
        self._changed = threading.Condition()

    def qsize(self) -> int:
        return len(self._urgent) + len(self._normal)

    def empty(self) -> bool:
        return self.qsize() == 0

    def put(self, item: T, urgent: bool = False, timeout: float | None = None) -> bool:
        """Add ``item``; wait up to ``timeout`` for room in its lane. False when there was
        none."""
        lane = self._urgent if urgent else self._normal
        with self._changed:
            if not self._changed.wait_for(lambda: len(lane) < self.maxsize, timeout):
                return False
            lane.append(item)
            self._changed.notify_all()
            return True

    def take(self, limit: int, first_wait: float, wait: float) -> list[T]:
        """A batch: every waiting urgent message (up to ``limit``) if there is one; else up to
        ``limit`` normal messages, waiting up to ``first_wait`` for the first and then up to
        ``wait`` for more, unless an urgent message comes first."""
        with self._changed:
            if not self._changed.wait_for(self.qsize, first_wait):
                return []
            if self._urgent:
                return self._pop(self._urgent, limit)
            deadline = time.monotonic() + wait
            batch = self._pop(self._normal, limit)
            while len(batch) < limit and not self._urgent:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._changed.wait(remaining):
                    break
                batch += self._pop(self._normal, limit - len(batch))
            return batch

    def _pop(self, lane: deque[T], limit: int) -> list[T]:
        batch = [lane.popleft() for _ in range(min(limit, len(lane)))]
        if batch:
            self._changed.notify_all()  # room for a blocked put
        return batch
