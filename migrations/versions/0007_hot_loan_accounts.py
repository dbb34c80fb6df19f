"""Loan control accounts get hot balance slots, as the bank account has.

Every repayment credits loans receivable and interest receivable, every accrual debits interest
receivable and credits interest income: with one balance row each, concurrent repayments of
different loans queued on those rows from their posting until commit. The accounts of the default
chart with these roles move from 1 to 8 slots (ledger.chart.hot_account_slots), as new tenants'
charts now have them. A balance is the sum over an account's slots, so existing rows stay right;
running servers see the changed slot count in their posting statement's chart check and re-read
the chart. Accounts a tenant opened itself, or already gave more slots, are left as they are.

Revision ID: 0007_hot_loan_accounts
Revises: 0006_receipt_reapplication
Create Date: 2026-11-26
"""
from alembic import op

revision = "0007_hot_loan_accounts"
down_revision = "0006_receipt_reapplication"
branch_labels = None
depends_on = None

hot_slots = 8
roles = (
    "loans_receivable", "interest_receivable", "fee_receivable", "penalty_receivable", "allowance", "overpayments",
    "interest_income", "fee_income", "penalty_income", "recoveries", "write_off_expense",
)


def upgrade() -> None:
    listed = ", ".join(f"'{role}'" for role in roles)
    op.execute(f"UPDATE accounts SET balance_slots = {hot_slots} WHERE balance_slots = 1 AND role IN ({listed})")


def downgrade() -> None:
    # Reads sum every slot row an account has, whatever its slot count: back to one slot is safe.
    listed = ", ".join(f"'{role}'" for role in roles)
    op.execute(f"UPDATE accounts SET balance_slots = 1 WHERE balance_slots = {hot_slots} AND role IN ({listed})")
