"""SQL store of the loan sub-ledger (SQLAlchemy Core)."""
