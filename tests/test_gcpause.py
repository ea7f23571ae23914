"""What start-up made is frozen once per process, after a collection: start-up garbage is
freed first, not kept for ever, and a second call freezes nothing more."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from app.core import gcpause


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(gcpause, "_frozen", False)
    gc.unfreeze()
    gc.disable()  # no automatic pass frees the test's garbage before the call does
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def test_start_up_is_frozen_once_and_its_garbage_is_not(fresh_process: None) -> None:
    kept = Node()
    garbage = weakref.ref(Node())  # unreachable at once, but a cycle: waits for the collector
    assert garbage() is not None
    gcpause.freeze_startup_heap("test")
    assert garbage() is None  # collected before the freeze, not frozen
    frozen = gc.get_freeze_count()
    assert frozen > 0
    later = [Node() for _ in range(100)]
    gcpause.freeze_startup_heap("test")  # a second app in the same process
    assert gc.get_freeze_count() == frozen
    assert gc.is_tracked(kept) and len(later) == 100
