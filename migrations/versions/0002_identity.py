"""Identity: API tokens (hashed secrets, one role each), scoped to a tenant.

Revision ID: 0002_identity
Revises: 0001_ledger
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_identity"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
# Frozen copy of identity.model.Role at this revision: a migration must not change when the code does.
roles = ("admin", "loan_officer", "approver", "finance", "collector", "auditor")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_api_tokens_tenant_id_tenants"),
        sa.UniqueConstraint("tenant_id", "token_hash", name="uq_api_tokens_tenant_id_token_hash"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_api_tokens_tenant_id_name"),
        sa.CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in roles) + ")", name="ck_api_tokens_role_known"
        ),
    )
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_token_hash", table_name="api_tokens")
    op.drop_table("api_tokens")
