"""Time-ordered identifiers (UUID version 7, RFC 9562) for journal entries, audit events and the loan-side rows.

A version 7 UUID starts with the Unix time in milliseconds, so ids minted one after another sort one
after another: entries and events land in their primary-key indexes (and the postings' index that
leads with the entry id) at the right-hand edge instead of at random places. A random id (version 4)
sends every insertion down the tree to a leaf of its own, which costs the server far more once the
index outgrows its cache, and a bulk import's ids then land mid-index as well. Within one
millisecond the 12 bits after the version count up (RFC 9562, method 1), so the ids of one process
are strictly increasing; the last 62 bits are random, so ids of different processes do not collide.
They stay opaque to users; the time they carry is also in recorded_at. Loans, borrowers, loan
transactions, receipts, close-of-business runs and manual entry requests take them too (close of
business writes a loan transaction per loan per day); API tokens keep random ids.
"""
from __future__ import annotations

import os
import struct
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_counter_max = 0xFFF
_version_and_variant = (0x7 << 76) | (0b10 << 62)
_random_bits = 0x3FFF_FFFF_FFFF_FFFF  # the last 62


def uuid7s(count: int) -> list[uuid.UUID]:
    """`count` fresh version 7 UUIDs, strictly increasing (within this process)."""
    global _last_ms, _counter
    tails = struct.unpack(f">{count}Q", os.urandom(8 * count))
    out: list[uuid.UUID] = []
    append = out.append
    with _lock:
        ms, counter = time.time_ns() // 1_000_000, _counter
        if ms <= _last_ms:
            ms = _last_ms  # the clock stood still or stepped back: keep counting from where we were
        else:
            counter = -1
        for tail in tails:
            counter += 1
            if counter > _counter_max:  # 4,096 ids in one millisecond: borrow the next one
                ms, counter = ms + 1, 0
            append(_uuid((ms << 80) | _version_and_variant | (counter << 64) | (tail & _random_bits)))
        _last_ms, _counter = ms, counter
    return out


def uuid7() -> uuid.UUID:
    return uuid7s(1)[0]


_new = object.__new__
_set = object.__setattr__
_safety_unknown = uuid.SafeUUID.unknown


def _uuid(value: int) -> uuid.UUID:
    """uuid.UUID(int=value) for a value known to be a valid 128-bit UUID, without the argument
    checks: what UUID.__init__ ends with (it too sets the frozen slots with object.__setattr__).
    Imports mint ten thousand ids a batch; a test holds the two equal."""
    made = _new(uuid.UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _safety_unknown)
    return made
