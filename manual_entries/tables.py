"""The manual entry request table, on the ledger's MetaData so one alembic history covers it."""
from __future__ import annotations

import sqlalchemy as sa

from ledger.store.tables import Id, Timestamp, metadata, retryable

# A pending manual entry and its decision. Rows change status once (PENDING -> a final status);
# the audit log keeps every change. Postings are the canonical JSON of [code, currency, minor units].
journal_entry_requests = sa.Table(
    "journal_entry_requests",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("effective_date", sa.Date(), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("metadata", sa.Text(), nullable=False),
    sa.Column("postings", sa.Text(), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("submitted_at", Timestamp, nullable=False),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.Column("decided_at", Timestamp, nullable=True),
    sa.Column("decision_reason", sa.String(500), nullable=True),
    sa.Column("journal_entry_id", sa.Uuid(), nullable=True),
    sa.UniqueConstraint("tenant_id", "idempotency_key", info=retryable),
    sa.UniqueConstraint("tenant_id", "journal_entry_id"),
    sa.CheckConstraint("status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')", name="status_known"),
    sa.Index("ix_journal_entry_requests_tenant_submitted", "tenant_id", "submitted_at", "id"),
    sa.Index("ix_journal_entry_requests_tenant_status", "tenant_id", "status", "submitted_at", "id"),
)
