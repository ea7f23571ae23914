"""Poison messages: a message that was in flight each time a worker died is quarantined.

Every Python exception a message can cause is caught and turns it into a rejection (parsing:
ingest/pipeline.py; storing: ingest/store.py), so what is left is what no ``except`` sees: a
crash in C code (orjson, psycopg, the interpreter), the kernel's OOM killer, an abort. The
broker then redelivers the message to the restarted worker, which would crash again, for ever
(review C1).

So each worker lane, before it parses a batch, commits the digests of the batch's messages
(blake2b of topic and payload: stable across processes) in its row of ``ingest_inflight``,
one small statement per batch, overwritten by the next batch. The table is UNLOGGED: no WAL,
no wait for the disk at commit; a *database* crash empties it, which costs nothing but one
diagnosis. On a clean stop the row is emptied. At start, a row that is still full names the
batch in flight when the last process ended: each of its messages gets a strike in
``ingest_suspect``. A message with strikes is processed alone, in a batch (and a mark) of its
own, so a second crash names it and nothing else; once it has ``PARKTWIN_INGEST_QUARANTINE_AFTER``
strikes (default 2) it is no longer parsed: it is logged as a rejection with reason
``quarantined`` and acknowledged. A suspect that goes through loses its strike.

A SIGKILL (or a database outage at shutdown) cannot be told from a crash: it strikes the batch
in flight, whose messages are then only retried one by one; nothing is lost unless the same
message is in flight at two such deaths in a row. Strikes older than the broker's session
expiry (after which no redelivery can come) are forgotten.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import psycopg

logger = logging.getLogger(__name__)

DIGEST_BYTES = 16

MARK = """
INSERT INTO ingest_inflight (worker, digests, marked_at) VALUES (%s, %s, now())
ON CONFLICT (worker) DO UPDATE SET digests = excluded.digests, marked_at = excluded.marked_at
"""

UNMARK = "UPDATE ingest_inflight SET digests = NULL WHERE worker = %s"

CLAIM = "DELETE FROM ingest_inflight WHERE worker = %s AND digests IS NOT NULL RETURNING digests"

STRIKE = """
INSERT INTO ingest_suspect (digest, strikes, struck_at)
SELECT d, 1, now() FROM unnest(%s::bytea[]) AS d ORDER BY d
ON CONFLICT (digest) DO UPDATE SET strikes = ingest_suspect.strikes + 1, struck_at = now()
"""

FORGET_OLD = "DELETE FROM ingest_suspect WHERE struck_at < now() - %s::interval"

LOAD = "SELECT digest, strikes FROM ingest_suspect"

FORGET = "DELETE FROM ingest_suspect WHERE digest = %s"


def message_digest(topic: str, payload: bytes) -> bytes:
    digest = hashlib.blake2b(topic.encode(), digest_size=DIGEST_BYTES)
    digest.update(payload)
    return digest.digest()


class Quarantine:
    """One worker lane's marks, and the strikes known when it started."""

    def __init__(self, worker: str, threshold: int, horizon: timedelta) -> None:
        self.worker = worker
        self.threshold = threshold
        self.horizon = horizon
        self.strikes: dict[bytes, int] = {}
        self.recovered = False

    def recover(self, conn: psycopg.Connection) -> None:
        """Strike the messages of the batch this lane left in flight, then load all strikes."""
        with conn.transaction():
            row = conn.execute(CLAIM, (self.worker,)).fetchone()
            if row is not None:
                left = bytes(row[0])
                digests = [left[i : i + DIGEST_BYTES] for i in range(0, len(left), DIGEST_BYTES)]
                conn.execute(STRIKE, (digests,))
                logger.warning(
                    "%s ended with %d message(s) in flight; each is retried alone",
                    self.worker,
                    len(digests),
                )
            conn.execute(FORGET_OLD, (self.horizon,))
        self.strikes = {bytes(d): n for d, n in conn.execute(LOAD)}
        self.recovered = True

    def mark(self, conn: psycopg.Connection, digests: list[bytes]) -> None:
        conn.execute(MARK, (self.worker, b"".join(digests)))

    def unmark(self, conn: psycopg.Connection) -> None:
        conn.execute(UNMARK, (self.worker,))

    def quarantined(self, digest: bytes) -> int:
        """The strikes of a quarantined message, else 0."""
        strikes = self.strikes.get(digest, 0)
        return strikes if strikes >= self.threshold else 0

    def suspect(self, digest: bytes) -> bool:
        return 0 < self.strikes.get(digest, 0) < self.threshold

    def cleared(self, conn: psycopg.Connection, digest: bytes) -> None:
        """A suspect went through alone: it did not crash anything."""
        conn.execute(FORGET, (digest,))
        self.strikes.pop(digest, None)
