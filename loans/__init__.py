"""Loan servicing: products, borrowers, the loan lifecycle, and every money movement posted to the ledger.

Pure parts (`loans.products`, `loans.state`, `loans.servicing`, `loans.delinquency`) import neither
SQLAlchemy nor strawberry; `loans.service` and `loans.cob` post only through `ledger.service`.
"""
