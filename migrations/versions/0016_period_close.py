"""Period close: the closures of a tenant's books and the year-end closing entries.

`period_closures` keeps every closure (reopened ones too, with who reopened them and why): the
books are closed through the `through_date` of the latest closure not reopened. On PostgreSQL
`ledger_period_open(tenant, earliest)` is what the posting statement calls to refuse an entry
dated in a closed period without a round trip of its own; see ledger.store.periods for its lock.

Revision ID: 0016_period_close
Revises: 0013_idempotency_keys
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_period_close"
down_revision = "0015_loan_servicing_parts"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

# The same text as ledger.store.periods.period_open_function (a test keeps both equal).
period_open_function = """
CREATE OR REPLACE FUNCTION ledger_period_open(p_tenant bigint, p_earliest date) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    closed date;
BEGIN
    IF p_earliest IS NULL THEN
        RETURN true;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(19536, p_tenant::integer);
    SELECT c.through_date INTO closed FROM period_closures AS c
    WHERE c.tenant_id = p_tenant AND c.reopened_at IS NULL ORDER BY c.seq DESC LIMIT 1;
    RETURN closed IS NULL OR p_earliest > closed;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "period_closures",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("through_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=False),
        sa.Column("closed_at", Timestamp, nullable=False),
        sa.Column("reopened_by", sa.String(200), nullable=True),
        sa.Column("reopened_at", Timestamp, nullable=True),
        sa.Column("reopen_reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name="pk_period_closures"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_period_closures_tenant_id_tenants"),
    )
    op.create_table(
        "fiscal_year_closes",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("closure_seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=False),
        sa.Column("closed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "year", name="pk_fiscal_year_closes"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_fiscal_year_closes_tenant_id_tenants"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(period_open_function)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_period_open(bigint, date)")
    op.drop_table("fiscal_year_closes")
    op.drop_table("period_closures")
