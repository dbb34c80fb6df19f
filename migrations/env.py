"""Alembic environment: runs against the connection loanbook hands in (see loanbook.migrate)."""
from __future__ import annotations

from alembic import context

from ledger.store.tables import metadata
import identity.tables  # noqa: F401  (registers the API token table on the same MetaData)
import loans.store.tables  # noqa: F401  (registers the loan tables on the same MetaData)
import manual_entries.tables  # noqa: F401  (registers the manual entry requests on the same MetaData)

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("loanbook runs migrations online only: use `loanbook migrate`")
run_migrations_online()
