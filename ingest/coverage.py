"""The ingestor's coverage: when the platform could hear the devices.

A device is offline only when the platform could have heard it and did not. Each ingest worker
keeps one row of ``ingest_coverage`` (its MQTT client id): ``heartbeat_at`` every
``PARKTWIN_INGEST_HEARTBEAT_INTERVAL``, and ``covered_since``, when its current unbroken
subscription began: set when the broker confirms the subscription, cleared when the link
drops or the worker stops, and started again after a heartbeat gap (the worker or its database
was away). The worker's offline job (app/alarms/jobs.py) counts silence from there.

The beacon runs in a thread of its own with its own connection; a failed write is logged and
tried at the next beat (the gap then restarts the coverage, as it should).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import psycopg

from app.core.db import libpq_url

logger = logging.getLogger(__name__)

# ``fresh``: the broker confirmed a new subscription since the last beat (a reconnect, however
# short, is a gap: messages published meanwhile may be lost to a shared subscription).
BEAT = """
INSERT INTO ingest_coverage AS c (client_id, covered_since, heartbeat_at)
VALUES (%(id)s, CASE WHEN %(up)s THEN now() END, now())
ON CONFLICT (client_id) DO UPDATE SET
    covered_since = CASE WHEN NOT %(up)s THEN NULL
                         WHEN %(fresh)s OR c.covered_since IS NULL
                              OR c.heartbeat_at < now() - %(stale)s THEN now()
                         ELSE c.covered_since END,
    heartbeat_at = now()
"""

END = "UPDATE ingest_coverage SET covered_since = NULL, heartbeat_at = now() WHERE client_id = %s"


class CoverageBeacon:
    """Writes one ingest worker's coverage row until ``stop``."""

    def __init__(
        self,
        database_url: str,
        client_id: str,
        interval: timedelta,
        stale: timedelta,
        stop: threading.Event,
    ) -> None:
        self.database_url = libpq_url(database_url)
        self.client_id = client_id
        self.interval = interval
        self.stale = stale
        self.stop = stop
        self._lock = threading.Lock()
        self._up = False
        self._generation = 0
        self._written = 0
        self._wake = threading.Event()
        self._conn: psycopg.Connection | None = None

    def subscribed(self, up: bool) -> None:
        """Told by the consumer (paho's thread): the subscription is confirmed, or lost."""
        with self._lock:
            self._up = up
            if up:
                self._generation += 1
        self._wake.set()

    def wake(self) -> None:
        """Beat now (and notice ``stop``)."""
        self._wake.set()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.beat()
                self._wake.wait(self.interval.total_seconds())
                self._wake.clear()
        finally:
            self.end()

    def beat(self) -> None:
        with self._lock:
            up, generation = self._up, self._generation
        params = {
            "id": self.client_id,
            "up": up,
            "fresh": generation != self._written,
            "stale": self.stale,
        }
        try:
            self._connection().execute(BEAT, params)
            self._written = generation
        except psycopg.Error as exc:
            logger.warning("could not write the ingest heartbeat (%s); trying again", exc)
            self._close()

    def end(self) -> None:
        """A clean stop: the platform stops listening now."""
        try:
            self._connection().execute(END, (self.client_id,))
        except psycopg.Error as exc:
            logger.info("could not record the end of coverage (%s)", exc)
        self._close()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
