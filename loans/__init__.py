"""Loan servicing: products, borrowers, the loan lifecycle, and every money movement posted to the ledger.

Pure parts (`loans.model`, `loans.products`, `loans.state`, `loans.servicing`, `loans.delinquency`, `loans.replay`)
import neither SQLAlchemy nor strawberry. The use cases (`loans.catalogue`, `.borrowers`, `.policy`,
`.applications`, `.money`, `.suspense`) and `loans.cob` post only through `ledger.service`; their SQL
is in `loans.store`, which hands back `loans.model` values, never rows.
"""
