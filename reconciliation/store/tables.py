"""Statements, their lines, matches and saved column mappings, on the ledger's shared MetaData.

No bank line and no posting is matched twice: each sits in its own link table whose primary key is
the line (tenant, line id) or the posting (tenant, entry id, line number), so a second match of
either violates a key whatever the application does.
"""
from __future__ import annotations

import sqlalchemy as sa

from ledger.store.tables import Id, Timestamp, metadata

statements = sa.Table(
    "bank_statements",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("bank_account_code", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("format", sa.String(10), nullable=False),
    sa.Column("filename", sa.String(200), nullable=True),
    sa.Column("statement_ref", sa.String(200), nullable=True),
    sa.Column("opening_minor", sa.BigInteger(), nullable=True),
    sa.Column("closing_minor", sa.BigInteger(), nullable=True),
    sa.Column("opening_date", sa.Date(), nullable=True),
    sa.Column("closing_date", sa.Date(), nullable=True),
    sa.Column("line_count", sa.Integer(), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("imported_at", Timestamp, nullable=False),
    sa.Column("imported_by", sa.String(200), nullable=False),
    sa.Index("ix_bank_statements_account", "tenant_id", "bank_account_code", "closing_date"),
)

statement_lines = sa.Table(
    "bank_statement_lines",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("statement_id", sa.Uuid(), nullable=False),
    sa.Column("bank_account_code", sa.String(40), nullable=False),
    sa.Column("line_key", sa.String(220), nullable=False),
    sa.Column("line_no", sa.Integer(), nullable=False),
    sa.Column("booking_date", sa.Date(), nullable=False),
    sa.Column("value_date", sa.Date(), nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("bank_reference", sa.String(500), nullable=True),
    sa.Column("end_to_end_id", sa.String(500), nullable=True),
    sa.Column("counterparty_name", sa.String(500), nullable=True),
    sa.Column("counterparty_account", sa.String(500), nullable=True),
    sa.Column("remittance", sa.String(500), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("proposal", sa.Text(), nullable=True),
    sa.UniqueConstraint("tenant_id", "bank_account_code", "line_key", name="uq_bank_statement_lines_key"),
    # No index holds the status, and on PostgreSQL half of each page is left free (migration 0020): a
    # line's change of status (auto-reconciliation marks its matched lines in one UPDATE) is then a
    # HOT update, on its own page and without new index entries.
    sa.Index("ix_bank_statement_lines_booked", "tenant_id", "bank_account_code", "booking_date"),
)

matches = sa.Table(
    "reconciliation_matches",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("bank_account_code", sa.String(40), nullable=False),
    sa.Column("rule", sa.String(40), nullable=False),
    sa.Column("score", sa.String(10), nullable=False),
    sa.Column("matched_at", Timestamp, nullable=False),
    sa.Column("matched_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
)

matched_lines = sa.Table(
    "reconciliation_matched_lines",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("line_id", sa.Uuid(), primary_key=True),
    sa.Column("match_id", sa.Uuid(), nullable=False),
    sa.Index("ix_reconciliation_matched_lines_match", "tenant_id", "match_id"),
)

matched_postings = sa.Table(
    "reconciliation_matched_postings",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("entry_id", sa.Uuid(), primary_key=True),
    sa.Column("posting_line_no", sa.SmallInteger(), primary_key=True),
    sa.Column("match_id", sa.Uuid(), nullable=False),
    sa.Column("bank_account_code", sa.String(40), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("effective_date", sa.Date(), nullable=False),
    sa.Index("ix_reconciliation_matched_postings_match", "tenant_id", "match_id"),
)

mappings = sa.Table(
    "bank_statement_mappings",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("definition", sa.Text(), nullable=False),
    sa.Column("saved_at", Timestamp, nullable=False),
    sa.Column("saved_by", sa.String(200), nullable=False),
)

rule_settings = sa.Table(
    "reconciliation_rules",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("definition", sa.Text(), nullable=False),
    sa.Column("saved_at", Timestamp, nullable=False),
    sa.Column("saved_by", sa.String(200), nullable=False),
)
