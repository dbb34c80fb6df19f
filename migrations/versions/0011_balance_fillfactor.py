"""The balance counter tables leave half of each page free, so a counter's update stays on its page.

Every posting updates its accounts' current-balance rows, and a bulk import or the sealer their
day/month/year period rows. PostgreSQL updates a row without a new index entry (a HOT update, whose
old version is pruned without VACUUM) only when the new version fits on the same page. With full
pages (fillfactor 100) four updates in five went to another page and added index entries, so each
counter's index grew with every update until VACUUM ran; a 10,000-entry import's counter statement
took 55-110 ms as the tables bloated. With fillfactor 50 nearly every update is HOT and the
statement stays at 30-50 ms. The tables are small (accounts x slots, and accounts x periods), so the
space is cheap. The setting applies to pages written from now on; to apply it to existing rows at
once, run `VACUUM FULL account_balances, account_period_balances` at a quiet moment. SQLite has
nothing to change.

Revision ID: 0011_balance_fillfactor
Revises: 0010_partial_entry_keys
Create Date: 2026-11-26
"""
from alembic import op

revision = "0011_balance_fillfactor"
down_revision = "0010_partial_entry_keys"
branch_labels = None
depends_on = None

tables = ("account_balances", "account_period_balances")
fillfactor = 50


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {fillfactor})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
