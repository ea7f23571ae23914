"""How many rejections of one device the rejection log stores per minute (review H4).

A device that publishes junk at 1 kHz must not write 64 KiB per message into the primary
database. Per device (its park and id, or the topic when the topic names none) and per UTC
minute of receipt, the first ``PARKTWIN_INGEST_REJECTION_RATE`` rejections (default 60) are
stored, as long as their stored payloads stay within ``PARKTWIN_INGEST_REJECTION_BYTES`` (default
1 MiB) that minute; the rest are only counted in ``parktwin_ingest_rejections_suppressed_total`` and
acknowledged like any other. Memory is bounded: the counts are forgotten when the minute
changes, and at most ``MAX_DEVICES`` devices are counted per minute (past that, rejections
of further devices in that minute are suppressed too). The limiter is per worker process, so
with ``--workers N`` a device may get up to N times the rate stored.
"""

from __future__ import annotations

import threading
from datetime import datetime

MAX_DEVICES = 100_000


class RejectionLimiter:
    """Shared by the two lanes of a worker (so it locks); only rejections pass through it."""

    def __init__(self, per_minute: int, bytes_per_minute: int = 1 << 20) -> None:
        self.per_minute = per_minute
        self.bytes_per_minute = bytes_per_minute
        self._minute = 0
        self._counts: dict[str, tuple[int, int]] = {}  # device -> (rejections, payload bytes)
        self._lock = threading.Lock()

    def admit(self, device: str, received_at: datetime, size: int = 0) -> bool:
        """Whether to store this rejection of ``device`` with ``size`` bytes of stored payload
        (counts it when so)."""
        minute = int(received_at.timestamp()) // 60
        with self._lock:
            if minute > self._minute:
                self._minute = minute
                self._counts.clear()
            count, used = self._counts.get(device, (0, 0))
            if count >= self.per_minute or used + size > self.bytes_per_minute:
                return False
            if not count and len(self._counts) >= MAX_DEVICES:
                return False
            self._counts[device] = (count + 1, used + size)
            return True
