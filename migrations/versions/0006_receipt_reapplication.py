"""A receipt applied out of suspense can be applied again once that repayment is reversed.

The unique key on loan_transactions (tenant_id, receipt_id) allowed one application per receipt
ever, so a repayment out of suspense that was reversed (applied to the wrong loan, say) left its
money in suspense with no way to apply it. The key becomes a plain index; apply_receipt locks the
receipt and refuses while an application of it stands unreversed.

Revision ID: 0006_receipt_reapplication
Revises: 0005_close_of_business_runs
Create Date: 2026-11-26
"""
from alembic import op

revision = "0006_receipt_reapplication"
down_revision = "0005_close_of_business_runs"
branch_labels = None
depends_on = None

unique_name = "uq_loan_transactions_tenant_id_receipt_id"
index_name = "ix_loan_transactions_receipt"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite cannot drop a table's own unique constraint: batch mode rebuilds the table, which
        # drops its immutability triggers with the old copy, so they are created again after.
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS loan_transactions_no_{operation}")
        with op.batch_alter_table("loan_transactions", recreate="always") as batch:
            batch.drop_constraint(unique_name, type_="unique")
            batch.create_index(index_name, ["tenant_id", "receipt_id"])
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER loan_transactions_no_{operation.lower()} BEFORE {operation} ON loan_transactions "
                f"BEGIN SELECT RAISE(ABORT, 'loanbook: {operation} on loan_transactions refused: posted history is "
                f"immutable; post a reversing entry'); END"
            )
    else:
        op.drop_constraint(unique_name, "loan_transactions", type_="unique")
        op.create_index(index_name, "loan_transactions", ["tenant_id", "receipt_id"])


def downgrade() -> None:
    raise RuntimeError("loan servicing tables hold posted history and cannot be downgraded")
