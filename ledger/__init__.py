"""The loanbook ledger: an exact, immutable, concurrent double-entry journal.

Pure model: `ledger.money`, `ledger.model`, `ledger.audit`, `ledger.chart`, `ledger.errors`.
Store and services (SQLAlchemy Core): `ledger.store`, `ledger.service`, `ledger.verify`.
Domain packages post money only through `ledger.service.post_entry` / `post_entries` /
`reverse_entry`: there is exactly one path into the journal.
"""
