"""The bounded queue between paho's network thread and an ingest worker, with an urgent lane.

Readings that an alarm rule watches (gas and smoke detectors, and whatever a park adds rules
for) must not wait behind thousands of meter readings: a gas leak has to reach the on-call
receiver within a second even while the park's meters flood in. So the queue has two lanes,
and each worker process takes them with two writer threads (ingest/pipeline.py): the normal
lane in big batches for throughput, the urgent lane as soon as anything is in it, in its own
small transactions. An urgent reading therefore never waits for a big meter batch to be
written, nor for a normal batch to fill.

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
        # lane -> (its messages, its condition: signalled when it gains or loses an item); each
        # lane has its own lock, so its writer and paho's thread never wait on the other lane
        self._lanes = {urgent: (deque[T](), threading.Condition()) for urgent in (False, True)}

    def qsize(self) -> int:
        return sum(len(items) for items, _changed in self._lanes.values())

    def empty(self) -> bool:
        return self.qsize() == 0

    def put(self, item: T, urgent: bool = False, timeout: float | None = None) -> bool:
        """Add ``item``; wait up to ``timeout`` for room in its lane. False when there was
        none."""
        items, changed = self._lanes[urgent]
        with changed:
            if not changed.wait_for(lambda: len(items) < self.maxsize, timeout):
                return False
            items.append(item)
            changed.notify_all()
            return True

    def take(self, limit: int, first_wait: float, wait: float, urgent: bool = False) -> list[T]:
        """A batch of up to ``limit`` messages from one lane: wait up to ``first_wait`` for
        the first, then up to ``wait`` seconds for more."""
        items, changed = self._lanes[urgent]
        with changed:
            if not changed.wait_for(lambda: len(items) > 0, first_wait):
                return []
            deadline = time.monotonic() + wait
            batch = self._pop(urgent, limit)
            while len(batch) < limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not changed.wait(remaining):
                    break
                batch += self._pop(urgent, limit - len(batch))
            return batch

    def _pop(self, urgent: bool, limit: int) -> list[T]:
        items, changed = self._lanes[urgent]
        batch = [items.popleft() for _ in range(min(limit, len(items)))]
        if batch:
            changed.notify_all()  # room for a blocked put
        return batch
