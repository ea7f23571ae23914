"""PUBACKs in the order the PUBLISHes arrived, whatever order the lanes commit them in.

MQTT 3.1.1 and 5 (section 4.6, message ordering) require a receiver to send its PUBACKs in
the order it received the QoS 1 PUBLISH packets, and Mosquitto 2.0 relies on it: on each PUBACK
it walks the client's in-flight list from the oldest message to the acknowledged one
(``db__message_delete_outgoing``). The urgent lane commits a gas reading before the normal lane
commits the meter readings that came before it; acknowledged at once, each urgent PUBACK made
the broker walk past every older unacknowledged message. At 100,000 devices a third of the
messages are urgent (smoke, gas and toxic-gas detectors): while the ingestor was behind,
that walk took 55% of the broker's CPU (perf), the broker slowed, the backlog grew, and the
stream collapsed to a few hundred messages a second (docs/benchmarks.md).

:class:`InOrderAcks` keeps the packet ids of one connection in arrival order; the lanes mark
theirs done after commit, and only the done ones at the front are released. An urgent
reading's alarm is evaluated at its commit as before; only its PUBACK waits for the older
messages' commit (a crash meanwhile means a redelivery, which "stored once" absorbs).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable


class InOrderAcks:
    """Packet ids of the current connection's unacknowledged QoS 1 messages, oldest first.

    A packet id is unique among a connection's unacknowledged messages (the broker reuses one
    only once it is acknowledged), so it identifies the message until then. Thread-safe: paho's
    network thread records arrivals, the lanes' writer threads mark commits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: OrderedDict[int, bool] = OrderedDict()  # mid -> committed

    def reset(self) -> None:
        """A new connection: the old one's messages are never acknowledged (the broker sends
        them again)."""
        with self._lock:
            self._waiting.clear()

    def arrived(self, mid: int) -> None:
        with self._lock:
            self._waiting[mid] = False

    def done(self, mids: Iterable[int], send: Callable[[list[int]], None]) -> list[int]:
        """Mark ``mids`` committed and ``send`` the packet ids now due, in arrival order: those
        at the front whose messages are all committed. ``send`` runs under the lock, so that
        two lanes finishing at once cannot write their PUBACKs in the wrong order."""
        with self._lock:
            waiting = self._waiting
            for mid in mids:
                if mid in waiting:
                    waiting[mid] = True
            due: list[int] = []
            while waiting:
                mid, committed = next(iter(waiting.items()))
                if not committed:
                    break
                waiting.popitem(last=False)
                due.append(mid)
            if due:
                send(due)
            return due

    def __len__(self) -> int:
        return len(self._waiting)
