"""Marking bank lines matched rewrites them on their own page, without new index entries.

Auto-reconciliation sets every matched line's status in one UPDATE. PostgreSQL updates a row
without touching its indexes (a HOT update, whose old version is pruned without VACUUM) only when
no indexed column changes and the new version fits on the same page. The lines' date index held the
status, and the lines were stored on full pages (fillfactor 100), so every status change added a
new entry to each of the table's three indexes and wrote the row to another page. The date index
now leaves the status out (it served the open-lines read only as a filter anyway: `status <>
'MATCHED'` bounds no range of it), and the table leaves half of each page free, room for each
line's change of status. The fillfactor applies to pages written from now on; `VACUUM FULL
bank_statement_lines` applies it to existing lines at a quiet moment. SQLite has no fillfactor;
the index changes there too.

Revision ID: 0020_statement_lines_hot_status
Revises: 0019_borrower_bank_account_index
Create Date: 2026-12-03
"""
from alembic import op

revision = "0020_statement_lines_hot_status"
down_revision = "0019_borrower_bank_account_index"
branch_labels = None
depends_on = None

fillfactor = 50


def upgrade() -> None:
    op.drop_index("ix_bank_statement_lines_status", table_name="bank_statement_lines")
    op.create_index("ix_bank_statement_lines_booked", "bank_statement_lines", ["tenant_id", "bank_account_code", "booking_date"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE bank_statement_lines SET (fillfactor = {fillfactor})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE bank_statement_lines RESET (fillfactor)")
    op.drop_index("ix_bank_statement_lines_booked", table_name="bank_statement_lines")
    op.create_index("ix_bank_statement_lines_status", "bank_statement_lines",
                    ["tenant_id", "bank_account_code", "status", "booking_date"])
