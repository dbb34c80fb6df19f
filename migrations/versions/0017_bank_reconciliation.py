"""Bank statements, their lines, reconciliation matches, saved column mappings and matching rules.

A bank line and a posting are each matched at most once: the link tables' primary keys are the line
and the posting.

Revision ID: 0017_bank_reconciliation
Revises: 0013_idempotency_keys
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_bank_reconciliation"
down_revision = "0016_period_close"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bank_statements",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_bank_statements"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_bank_statements_tenant_id_tenants"),
    )
    op.create_index("ix_bank_statements_account", "bank_statements", ["tenant_id", "bank_account_code", "closing_date"])
    op.create_table(
        "bank_statement_lines",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_bank_statement_lines"),
        sa.UniqueConstraint("tenant_id", "bank_account_code", "line_key", name="uq_bank_statement_lines_key"),
    )
    op.create_index("ix_bank_statement_lines_status", "bank_statement_lines",
                    ["tenant_id", "bank_account_code", "status", "booking_date"])
    op.create_table(
        "reconciliation_matches",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bank_account_code", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("score", sa.String(10), nullable=False),
        sa.Column("matched_at", Timestamp, nullable=False),
        sa.Column("matched_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_reconciliation_matches"),
    )
    op.create_table(
        "reconciliation_matched_lines",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "line_id", name="pk_reconciliation_matched_lines"),
    )
    op.create_index("ix_reconciliation_matched_lines_match", "reconciliation_matched_lines", ["tenant_id", "match_id"])
    op.create_table(
        "reconciliation_matched_postings",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("posting_line_no", sa.SmallInteger(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("bank_account_code", sa.String(40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "entry_id", "posting_line_no", name="pk_reconciliation_matched_postings"),
    )
    op.create_index("ix_reconciliation_matched_postings_match", "reconciliation_matched_postings", ["tenant_id", "match_id"])
    for name in ("bank_statement_mappings", "reconciliation_rules"):
        extra = [sa.Column("name", sa.String(100), nullable=False)] if name == "bank_statement_mappings" else []
        op.create_table(
            name,
            sa.Column("tenant_id", Id, nullable=False),
            *extra,
            sa.Column("definition", sa.Text(), nullable=False),
            sa.Column("saved_at", Timestamp, nullable=False),
            sa.Column("saved_by", sa.String(200), nullable=False),
            sa.PrimaryKeyConstraint("tenant_id", *(["name"] if extra else []), name=f"pk_{name}"),
            sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{name}_tenant_id_tenants"),
        )


def downgrade() -> None:
    for name in ("reconciliation_rules", "bank_statement_mappings", "reconciliation_matched_postings",
                 "reconciliation_matched_lines", "reconciliation_matches", "bank_statement_lines", "bank_statements"):
        op.drop_table(name)
