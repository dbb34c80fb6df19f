"""Sealing the audit trail: the public face of the sealer (ledger.store.sealer).

Every unit of work seals the audit events it wrote right after commit, unless its engine was handed
to a background sealer: `BackgroundSealer(engine).start()` (what `loanbook serve` runs with
LOANBOOK_SEAL_MODE=background), or `follow` in a process of its own (`loanbook seal --follow`).
`seal_pending` and `seal_all_pending` chain whatever is queued, as `loanbook seal` does; a batch job
of many small transactions may defer sealing to its end with `sealing_deferred(engine)`.
"""
from ledger.store.sealer import (
    BackgroundSealer,
    default_interval,
    follow,
    seal_all_pending,
    seal_in_background,
    seal_pending,
    sealed_in_background,
    sealing_deferred,
)

__all__ = [
    "BackgroundSealer", "default_interval", "follow", "seal_all_pending", "seal_in_background", "seal_pending",
    "sealed_in_background", "sealing_deferred",
]
