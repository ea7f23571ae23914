"""The bounded queue between paho's network thread and an ingest worker, with an urgent lane.

Readings that an alarm rule watches (gas and smoke detectors, and whatever a park adds rules
for) must not wait behind thousands of meter readings: a gas leak has to reach the on-call
receiver within a second even while the park's meters flood in. So the queue has two lanes,
and each worker process takes them with two writer threads (ingest/pipeline.py): the normal
lane in big batches for throughput, the urgent lane as soon as anything is in it, in its own
small transactions. An urgent reading therefore never waits for a big meter batch to be
written, nor for a normal batch to fill.

Each lane has two bounds of its own: ``maxsize`` messages and ``max_bytes`` (what ``weigh``
says an item costs: its payload's length). A lane is full when either is reached; an item
larger than ``max_bytes`` still goes into an empty lane, so nothing can wedge it. When a lane
is full, :meth:`Lanes.put` blocks paho's thread, the socket is no longer read and the broker
holds the rest (back-pressure without loss). The lanes are bounded apart, bytes included, so
that a backlog of meter readings (or of one device's 256 KiB junk) never blocks a gas reading.

Order: within a lane, arrival order. A device's urgent and normal messages never mix (a device
is urgent or not), except while it becomes urgent; alarm evaluation ignores a reading older
than the newest one it has evaluated, and storage does not depend on order.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def _weightless(_item: object) -> int:
    return 0


class Lanes(Generic[T]):
    def __init__(
        self,
        maxsize: int,
        max_bytes: int = 0,
        weigh: Callable[[T], int] = _weightless,
    ) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes  # per lane; 0: no byte bound
        self._weigh = weigh
        # lane -> (its messages, its condition: signalled when it gains or loses an item); each
        # lane has its own lock, so its writer and paho's thread never wait on the other lane
        self._lanes = {urgent: (deque[T](), threading.Condition()) for urgent in (False, True)}
        self._bytes = {False: 0, True: 0}  # per lane, changed under the lane's condition

    def qsize(self) -> int:
        return sum(len(items) for items, _changed in self._lanes.values())

    def qbytes(self) -> int:
        return self._bytes[False] + self._bytes[True]

    def empty(self) -> bool:
        return self.qsize() == 0

    def put(self, item: T, urgent: bool = False, timeout: float | None = None) -> bool:
        """Add ``item``; wait up to ``timeout`` for room in its lane. False when there was
        none."""
        items, changed = self._lanes[urgent]
        size = self._weigh(item)
        with changed:
            if not changed.wait_for(lambda: self._room(urgent, size), timeout):
                return False
            items.append(item)
            self._bytes[urgent] += size
            changed.notify_all()
            return True

    def _room(self, urgent: bool, size: int) -> bool:
        held = len(self._lanes[urgent][0])
        if held >= self.maxsize:
            return False
        return held == 0 or not self.max_bytes or self._bytes[urgent] + size <= self.max_bytes

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
            if self.max_bytes:
                self._bytes[urgent] -= sum(map(self._weigh, batch))
            changed.notify_all()  # room for a blocked put
        return batch
