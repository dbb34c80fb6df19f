"""Python's cyclic garbage collector paused while a statement's lines are parsed, matched and stored.

An import or an auto-reconciliation builds a few objects per bank line and per posting (named
tuples, ids, the rows it writes), hundreds of thousands at once, and keeps them until it returns.
CPython runs its cyclic collector every few hundred allocations of container objects, traversing
the young ones, and the older generations as they grow; objects that all live to the end of the
call and form no cycles leave that traversal nothing to free, and it costs a large share of the
bulk work's CPU time. `paused()` turns the collector off for the duration (reference counting still
frees every object as usual; a cycle made meanwhile is collected once the collector runs again).
The collector's switch is process-wide: pauses on several threads are counted, and the collector
is turned on again when the last of them ends, and only if a pause turned it off.
"""
from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_pauses = 0
_turned_off = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    global _pauses, _turned_off
    with _lock:
        if _pauses == 0 and gc.isenabled():
            gc.disable()
            _turned_off = True
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _turned_off:
                _turned_off = False
                gc.enable()
