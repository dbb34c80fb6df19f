"""Maker-checker for manual journal entries: journal_entry_requests (PENDING until another person decides).

Revision ID: 0004_manual_entry_requests
Revises: 0003_loans
Create Date: 2027-01-10
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_manual_entry_requests"
down_revision = "0003_loans"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
table = "journal_entry_requests"


def upgrade() -> None:
    op.create_table(
        table,
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
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
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_journal_entry_requests_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_journal_entry_requests")),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name=op.f("uq_journal_entry_requests_tenant_id_idempotency_key")),
        sa.UniqueConstraint("tenant_id", "journal_entry_id", name=op.f("uq_journal_entry_requests_tenant_id_journal_entry_id")),
        sa.CheckConstraint(
            "status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')", name=op.f("ck_journal_entry_requests_status_known")
        ),
    )
    op.create_index("ix_journal_entry_requests_tenant_submitted", table, ["tenant_id", "submitted_at", "id"])
    op.create_index("ix_journal_entry_requests_tenant_status", table, ["tenant_id", "status", "submitted_at", "id"])
    _refuse_changes_after_decision()


def _refuse_changes_after_decision() -> None:
    # A decided request is history, like the entry it posted: no UPDATE once it left PENDING, no DELETE ever.
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """CREATE FUNCTION loanbook_refuse_decided_request_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'UPDATE' AND OLD.status = 'PENDING' THEN RETURN NEW; END IF;
              RAISE EXCEPTION 'loanbook: % on journal_entry_requests refused: a decided request is history', TG_OP;
            END $$"""
        )
        op.execute(
            f"CREATE TRIGGER {table}_decided_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION loanbook_refuse_decided_request_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION loanbook_refuse_decided_request_change()"
        )
    elif dialect == "sqlite":
        op.execute(
            f"CREATE TRIGGER {table}_decided_no_update BEFORE UPDATE ON {table} WHEN OLD.status <> 'PENDING' "
            f"BEGIN SELECT RAISE(ABORT, 'loanbook: UPDATE on {table} refused: a decided request is history'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'loanbook: DELETE on {table} refused: a decided request is history'); END"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_decided_immutable ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS loanbook_refuse_decided_request_change()")
    op.drop_table(table)
