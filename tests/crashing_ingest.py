"""``parktwin ingest`` that segfaults on one payload: a test-only stand-in for a crash in C code.

After review C1 every Python exception a message can cause is caught and turned into a
rejection, so no known payload crashes the ingestor any more (a known one would be fixed, not
kept as a fixture). What the quarantine is for is what no ``except`` sees: a crash inside orjson,
psycopg or the interpreter. This wrapper provokes exactly that, a real SIGSEGV, when the
parser is handed the payload in ``PARKTWIN_TEST_POISON_HEX``. It patches the ingestor from the
outside (only ``tests/`` knows it), so production code carries no hook. Run as
``python -m tests.crashing_ingest ingest --workers 1``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from datetime import timedelta

from app import cli
from ingest import pipeline
from ingest.consumer import Inbound

POISON = bytes.fromhex(os.environ["PARKTWIN_TEST_POISON_HEX"])
real_parse = pipeline.parse


def parse_or_crash(message: Inbound, max_age: timedelta) -> pipeline.Parsed:
    if message.payload == POISON:
        ctypes.string_at(0)  # a read of address 0: SIGSEGV, as a bug in a C extension would
    return real_parse(message, max_age)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the work tree
    pipeline.parse = parse_or_crash
    sys.exit(cli.main(sys.argv[1:]))
