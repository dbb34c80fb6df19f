"""Audit event bodies compress with lz4 on PostgreSQL (where the server has it).

A bulk import's one event records every entry's id and content hash: about 1 MB of hexadecimal
for 10,000 entries, which pglz (the default) spends ~20 ms failing to compress on every import.
lz4 gives up on incompressible data at once and still compresses what compresses; it only
changes how new values are stored, and reads are unchanged. SQLite has nothing to change.

Revision ID: 0008_audit_lz4
Revises: 0007_hot_loan_accounts
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_audit_lz4"
down_revision = "0007_hot_loan_accounts"
branch_labels = None
depends_on = None

columns = ("before", "after")


def _has_lz4() -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )).scalar())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql" or not _has_lz4():
        return
    op.execute("ALTER TABLE audit_events " + ", ".join(f"ALTER COLUMN {c} SET COMPRESSION lz4" for c in columns))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql" or not _has_lz4():
        return
    op.execute("ALTER TABLE audit_events " + ", ".join(f"ALTER COLUMN {c} SET COMPRESSION pglz" for c in columns))
