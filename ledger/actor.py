"""Who is acting, for which tenant, and when: passed into every write, never read from globals."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ledger.errors import LedgerError

actor_name_length_max = 200


@dataclass(frozen=True, slots=True)
class Actor:
    tenant_id: int
    name: str
    now: dt.datetime  # the recorded timestamp; the business date travels separately
    request_id: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > actor_name_length_max:
            raise LedgerError(f"actor name must be 1 to {actor_name_length_max} characters")
        if self.now.tzinfo is None:
            raise LedgerError("actor timestamps must be timezone-aware (UTC)")
