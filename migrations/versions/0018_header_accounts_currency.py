"""Header accounts, and each tenant's functional currency.

`accounts.is_header` marks the accounts that group others and take no postings. An account that
already has child accounts becomes a header: the chart's group accounts (1000 Assets, 2000
Liabilities, ...) and any parent a tenant opened. Its posted history stays as it is.

`tenants.functional_currency` is the currency a tenant keeps its books in; existing tenants get
CNY, the currency every tenant was created for until now. Their accounts keep the currencies they
accept (the chart's accounts of a tenant created from now on accept the functional currency alone).

Revision ID: 0018_header_accounts_currency
Revises: 0017_bank_reconciliation
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_header_accounts_currency"
down_revision = "0017_bank_reconciliation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("is_header", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE accounts SET is_header = true WHERE EXISTS ("
        " SELECT 1 FROM accounts AS child"
        " WHERE child.tenant_id = accounts.tenant_id AND child.parent_code = accounts.code)"
    )
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("functional_currency", sa.String(3), nullable=False, server_default="CNY"))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("functional_currency")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("is_header")
