"""SQL store of the ledger (SQLAlchemy Core on PostgreSQL and SQLite)."""
