"""The queue of unsealed audit events names the entry whose period balances it still owes.

On PostgreSQL an entry posted as a transaction of its own, by a statement in autocommit, no longer
adds to the day/month/year period rows in its statement: it marks its own audit event in
`audit_unsealed` with the entry's id, and the sealer, which chains that event after commit, adds the
entry's postings to the period rows in the same statement that takes the event off the queue. A balance as of a date reads the period rows plus the postings of the
entries still on the queue (a few, for the sealer's interval), so it stays exact at every moment.
Rows already on the queue were written with their period rows: the new column is NULL for them.

Revision ID: 0009_deferred_period_balances
Revises: 0008_audit_lz4
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_deferred_period_balances"
down_revision = "0008_audit_lz4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_unsealed", sa.Column("entry_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    # Entries still owed to the period rows get them now, as the sealer would have.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            INSERT INTO account_period_balances AS b
                (tenant_id, account_code, currency, grain, period_start, slot, debit_minor, credit_minor)
            SELECT p.tenant_id, p.account_code, p.currency, g.grain, g.period_start, 0,
                   sum(greatest(p.amount_minor, 0)), sum(greatest(-p.amount_minor, 0))
            FROM audit_unsealed AS u
            JOIN postings AS p ON p.tenant_id = u.tenant_id AND p.entry_id = u.entry_id
            CROSS JOIN LATERAL (VALUES ('D', p.effective_date), ('M', date_trunc('month', p.effective_date)::date),
                                       ('Y', date_trunc('year', p.effective_date)::date)) AS g(grain, period_start)
            GROUP BY p.tenant_id, p.account_code, p.currency, g.grain, g.period_start
            ON CONFLICT (tenant_id, account_code, currency, grain, period_start, slot) DO UPDATE SET
                debit_minor = b.debit_minor + excluded.debit_minor,
                credit_minor = b.credit_minor + excluded.credit_minor
        """)
    with op.batch_alter_table("audit_unsealed") as batch:
        batch.drop_column("entry_id")
