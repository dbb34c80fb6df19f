"""Time-ordered identifiers (UUID version 7, RFC 9562) for journal entries and audit events.

A version 7 UUID starts with the Unix time in milliseconds, so ids minted one after another sort
one after another: entries and events land in their primary-key indexes (and the postings' index
that leads with the entry id) at the right-hand edge instead of at random places. A random id
(version 4) sends every insertion down the tree to a leaf of its own, which costs the server far
more once the index outgrows its cache, and a bulk import's ids then land mid-index as well. Within one millisecond the 12 bits after the version count up (RFC 9562, method 1), so
the ids of one process are strictly increasing; the last 62 bits are random, so ids of different
processes do not collide. They stay opaque to users; the time they carry is also in recorded_at.
"""
from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_counter_max = 0xFFF


def uuid7s(count: int) -> list[uuid.UUID]:
    """`count` fresh version 7 UUIDs, strictly increasing (within this process)."""
    global _last_ms, _counter
    randomness = os.urandom(8 * count)
    out = []
    with _lock:
        ms, counter = time.time_ns() // 1_000_000, _counter
        if ms <= _last_ms:
            ms = _last_ms  # the clock stood still or stepped back: keep counting from where we were
        else:
            counter = -1
        for i in range(count):
            counter += 1
            if counter > _counter_max:  # 4,096 ids in one millisecond: borrow the next one
                ms, counter = ms + 1, 0
            tail = int.from_bytes(randomness[8 * i:8 * i + 8], "big") & 0x3FFF_FFFF_FFFF_FFFF
            value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | tail
            out.append(uuid.UUID(int=value))
        _last_ms, _counter = ms, counter
    return out


def uuid7() -> uuid.UUID:
    return uuid7s(1)[0]
