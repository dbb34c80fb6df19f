"""The idempotency key and the reversal link are unique where they are set: partial unique indexes.

Most entries carry neither an idempotency key nor a reversal link, yet the two unique constraints
indexed every entry's NULLs: two index insertions per entry that can never conflict, about a
quarter of what the server spends inserting a bulk import's entries. They become unique indexes
over the rows that have a value (`WHERE ... IS NOT NULL`), under the same names; what they refuse
is unchanged (NULLs never conflicted). On a large journal the upgrade builds both indexes while
holding the table against writes (as any index build in a migration's transaction does).

Revision ID: 0010_partial_entry_keys
Revises: 0009_deferred_period_balances
Create Date: 2026-11-26
"""
import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0010_partial_entry_keys"
down_revision = "0009_deferred_period_balances"
branch_labels = None
depends_on = None

table = "journal_entries"
keys = {
    "uq_journal_entries_tenant_id_idempotency_key": "idempotency_key",
    "uq_journal_entries_tenant_id_reverses_entry_id": "reverses_entry_id",
}


def upgrade() -> None:
    with _journal_entries() as batch:
        for name, column in keys.items():
            batch.drop_constraint(name, type_="unique")
            where = sa.text(f"{column} IS NOT NULL")
            batch.create_index(name, ["tenant_id", column], unique=True, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    with _journal_entries() as batch:
        for name, column in keys.items():
            batch.drop_index(name)
            batch.create_unique_constraint(name, ["tenant_id", column])


@contextlib.contextmanager
def _journal_entries() -> Iterator[BatchOperations]:
    """Alter the table in place on PostgreSQL. SQLite cannot drop a table's own unique constraint:
    batch mode rebuilds the table, which drops its immutability triggers with the old copy, so they
    are created again after (as in 0001). migrations/env.py turns SQLite's foreign keys off around
    the rebuild (a reversal references its original in this very table) and checks them after."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
    with op.batch_alter_table(table, recreate="always" if sqlite else "auto") as batch:
        yield batch
    if sqlite:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'loanbook: {operation} on {table} refused: posted history is "
                f"immutable; post a reversing entry'); END"
            )
