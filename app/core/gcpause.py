"""Shorter garbage-collector pauses for long-running processes: what start-up made is set
aside once, so the collector's full passes no longer walk it.

CPython's oldest-generation pass walks every tracked container object. In the API process
that is about 290,000 objects after start (modules, routes, Pydantic and SQLAlchemy models),
and each pass held the event loop for up to 240 ms, stalling every request in flight at that
moment: the p99 of bench/cockpit's 50 screens. ``gc.freeze()`` moves what is alive into a
permanent generation the collector skips; reference counting still frees those objects, only
reference cycles among them are never collected, so it runs once per process, after start-up,
and after a collection (no start-up garbage is kept).
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)

_frozen = False


def freeze_startup_heap(what: str) -> None:
    """Collect, then freeze what is alive, the first time a process calls it (a later call,
    e.g. a test's second app in one process, does nothing)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    logger.debug(
        "%s: %d start-up objects left out of garbage collection", what, gc.get_freeze_count()
    )
