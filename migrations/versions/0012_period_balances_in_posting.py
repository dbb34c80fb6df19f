"""Every posting statement writes its own period balance rows: the sealer's queue names no entry.

Entries posted with their period rows left to the sealer (their queue row carries the entry's id)
get them now: each such entry's postings are added to the day/month/year rows, slot 0, exactly as
the sealer would have added them, and the column goes. From here on a balance as of a date reads
the period rows alone. The downgrade adds the column back, empty, which is what the earlier code
expects of entries that carry their period rows.

Revision ID: 0012_period_balances_in_posting
Revises: 0011_balance_fillfactor
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_period_balances_in_posting"
down_revision = "0011_balance_fillfactor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Only PostgreSQL ever left period rows to the sealer; SQLite's queue rows name no entry.
        op.execute("""
            INSERT INTO account_period_balances AS b
                (tenant_id, account_code, currency, grain, period_start, slot, debit_minor, credit_minor)
            SELECT p.tenant_id, p.account_code, p.currency, g.grain, g.period_start, 0,
                   sum(greatest(p.amount_minor, 0)), sum(greatest(-p.amount_minor, 0))
            FROM audit_unsealed AS u
            JOIN postings AS p ON p.tenant_id = u.tenant_id AND p.entry_id = u.entry_id
            CROSS JOIN LATERAL (VALUES ('D', p.effective_date), ('M', date_trunc('month', p.effective_date)::date),
                                       ('Y', date_trunc('year', p.effective_date)::date)) AS g(grain, period_start)
            WHERE u.entry_id IS NOT NULL
            GROUP BY p.tenant_id, p.account_code, p.currency, g.grain, g.period_start
            ORDER BY p.tenant_id, p.account_code COLLATE "C", p.currency COLLATE "C", g.grain COLLATE "C", g.period_start
            ON CONFLICT (tenant_id, account_code, currency, grain, period_start, slot) DO UPDATE SET
                debit_minor = b.debit_minor + excluded.debit_minor,
                credit_minor = b.credit_minor + excluded.credit_minor
        """)
    with op.batch_alter_table("audit_unsealed") as batch:
        batch.drop_column("entry_id")


def downgrade() -> None:
    op.add_column("audit_unsealed", sa.Column("entry_id", sa.Uuid(), nullable=True))
