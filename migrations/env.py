"""Alembic environment: runs against the connection loanbook hands in (see loanbook.migrate)."""
from __future__ import annotations

from alembic import context

from ledger.store.tables import metadata
import identity.tables  # noqa: F401  (registers the API token table on the same MetaData)
import loans.store.tables  # noqa: F401  (registers the loan tables on the same MetaData)
import manual_entries.tables  # noqa: F401  (registers the manual entry requests on the same MetaData)
import reconciliation.store.tables  # noqa: F401  (registers the bank statements and matches on the same MetaData)

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by copying it and dropping the old copy, which foreign keys
        # forbid for a table that rows (of its own, as a reversal's) reference. SQLite changes this
        # setting only outside a transaction: off before, checked and back on after (_sqlite_foreign_keys).
        _sqlite_foreign_keys(connection, "OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            # SQLite cannot ALTER most things in place; batch mode copies the table instead.
            render_as_batch=sqlite,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migrations left rows whose foreign keys point nowhere: {broken[:5]}")
            connection.commit()
    finally:
        if sqlite:
            if connection.in_transaction():
                connection.rollback()
            _sqlite_foreign_keys(connection, "ON")


def _sqlite_foreign_keys(connection, state: str) -> None:  # type: ignore[no-untyped-def]
    # On the driver's connection: through SQLAlchemy the statement would open a transaction first.
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={state}")


if context.is_offline_mode():
    raise SystemExit("loanbook runs migrations online only: use `loanbook migrate`")
run_migrations_online()
