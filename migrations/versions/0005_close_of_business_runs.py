"""Close of business as a background job: close_of_business_runs (one QUEUED or RUNNING run per tenant).

Revision ID: 0005_close_of_business_runs
Revises: 0004_manual_entry_requests
Create Date: 2027-01-10
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_close_of_business_runs"
down_revision = "0004_manual_entry_requests"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
active = "status IN ('QUEUED', 'RUNNING')"


def upgrade() -> None:
    op.create_table(
        "close_of_business_runs",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", Timestamp, nullable=False),
        sa.Column("started_at", Timestamp, nullable=True),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.Column("heartbeat_at", Timestamp, nullable=False),
        sa.Column("loans_total", sa.Integer(), nullable=True),
        sa.Column("loans_processed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("entries_posted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("entered_non_accrual", sa.Integer(), server_default="0", nullable=False),
        sa.Column("already_done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("resumed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("loan_errors", sa.Text(), server_default="[]", nullable=False),
        sa.Column("error_code", sa.String(60), nullable=True),
        sa.Column("error_message", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_close_of_business_runs_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_close_of_business_runs")),
    )
    op.create_index("ix_close_of_business_runs_tenant_requested", "close_of_business_runs", ["tenant_id", "requested_at", "id"])
    op.create_index(
        "uq_close_of_business_runs_tenant_id", "close_of_business_runs", ["tenant_id"], unique=True,
        sqlite_where=sa.text(active), postgresql_where=sa.text(active),
    )


def downgrade() -> None:
    op.drop_table("close_of_business_runs")
