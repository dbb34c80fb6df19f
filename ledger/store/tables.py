"""Table definitions (SQLAlchemy Core). The alembic migrations create these; a test keeps both equal.

Every table carries `tenant_id` as the first column of its primary key, so PostgreSQL partitioning
or Citus can distribute by tenant without a schema change. Money is BIGINT minor units plus CHAR(3).

The high-volume tables (journal entries, postings, balance counters, audit events and chain) carry
no foreign keys: each insert would take a KEY SHARE lock on the tenant's or the account's row, so
every concurrent posting would contend on the same few rows, and the checks cost more than the
inserts. The service validates accounts and tenants before writing, rows are never updated or
deleted, and `loanbook verify` checks that every posting's entry and account exist.
"""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# The `info` of a unique key whose violation means "another transaction got there first": the unit
# of work (ledger.unit_of_work) runs the work again, which then finds the other row.
retryable = {"retryable": True}

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(63), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # ISO 4217: the currency the tenant keeps its books in (ledger.accounts.create_tenant).
    sa.Column("functional_currency", sa.String(3), nullable=False, server_default="CNY"),
    sa.UniqueConstraint("slug", name="uq_tenants_slug"),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(12), nullable=False),
    sa.Column("normal_balance", sa.String(6), nullable=False),
    sa.Column("parent_code", sa.String(40), nullable=True),
    sa.Column("role", sa.String(60), nullable=True),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("currencies", sa.String(200), nullable=True),
    sa.Column("balance_slots", sa.SmallInteger(), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("closed_at", Timestamp, nullable=True),
    sa.Column("is_header", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.ForeignKeyConstraint(["tenant_id", "parent_code"], ["accounts.tenant_id", "accounts.code"]),
    sa.CheckConstraint("balance_slots BETWEEN 1 AND 64", name="balance_slots_range"),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("effective_date", sa.Date(), nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("metadata", sa.Text(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("reverses_entry_id", sa.Uuid(), nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # Unique where set (most entries have neither): NULLs would cost an index insertion each (migration 0010).
    sa.Index("uq_journal_entries_tenant_id_idempotency_key", "tenant_id", "idempotency_key", unique=True, info=retryable,
             postgresql_where=sa.text("idempotency_key IS NOT NULL"), sqlite_where=sa.text("idempotency_key IS NOT NULL")),
    sa.Index("uq_journal_entries_tenant_id_reverses_entry_id", "tenant_id", "reverses_entry_id", unique=True, info=retryable,
             postgresql_where=sa.text("reverses_entry_id IS NOT NULL"), sqlite_where=sa.text("reverses_entry_id IS NOT NULL")),
    sa.ForeignKeyConstraint(["tenant_id", "reverses_entry_id"], ["journal_entries.tenant_id", "journal_entries.id"]),
    sa.Index("ix_journal_entries_tenant_effective_date", "tenant_id", "effective_date"),
)

postings = sa.Table(
    "postings",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("entry_id", sa.Uuid(), primary_key=True),
    sa.Column("line_no", sa.SmallInteger(), primary_key=True),
    sa.Column("account_code", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    # Copied from the entry so balance-as-of and verify read one table.
    sa.Column("effective_date", sa.Date(), nullable=False),
    sa.CheckConstraint("amount_minor <> 0", name="amount_not_zero"),
    sa.Index("ix_postings_account_date", "tenant_id", "account_code", "currency", "effective_date"),
)

# Current balance per account and currency, spread over `balance_slots` rows for hot accounts so
# concurrent postings update different rows; the balance is the sum over slots.
# Both counter tables are created with fillfactor 50 on PostgreSQL (migration 0011): their rows are
# updated all the time, and an update that fits on its page adds no index entry (HOT).
account_balances = sa.Table(
    "account_balances",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("account_code", sa.String(40), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("slot", sa.SmallInteger(), primary_key=True),
    sa.Column("debit_minor", sa.BigInteger(), nullable=False),
    sa.Column("credit_minor", sa.BigInteger(), nullable=False),
)

# Movements per day ('D'), month ('M') and year ('Y'): a balance as of any date sums at most
# (years + 11 + 31) rows per slot, however long the history.
account_period_balances = sa.Table(
    "account_period_balances",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("account_code", sa.String(40), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("grain", sa.String(1), primary_key=True),
    sa.Column("period_start", sa.Date(), primary_key=True),
    sa.Column("slot", sa.SmallInteger(), primary_key=True),
    sa.Column("debit_minor", sa.BigInteger(), nullable=False),
    sa.Column("credit_minor", sa.BigInteger(), nullable=False),
    sa.CheckConstraint("grain IN ('D', 'M', 'Y')", name="grain_known"),
)

# Idempotency keys: a command run under a key records here, in its own transaction, what it
# returned (a few ids, as JSON) and a hash of what it was asked; ledger.idempotency.run_once answers a
# repeat from this row. The key is unique per tenant, whatever the command.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant_id", Id, nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("operation", sa.String(100), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("result", sa.Text(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "key", info=retryable),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("entity_type", sa.String(60), nullable=False),
    sa.Column("entity_id", sa.String(100), nullable=False),
    sa.Column("before", sa.Text(), nullable=True),
    sa.Column("after", sa.Text(), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("request_id", sa.String(100), nullable=True),
    sa.Index("ix_audit_events_entity", "tenant_id", "entity_type", "entity_id"),
)

# Events written but not yet sealed into the chain: a small queue the sealer drains.
audit_unsealed = sa.Table(
    "audit_unsealed",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("event_id", sa.Uuid(), primary_key=True),
    sa.Column("occurred_at", Timestamp, nullable=False),
)

audit_chain = sa.Table(
    "audit_chain",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.Uuid(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("sealed_at", Timestamp, nullable=False),
    sa.UniqueConstraint("tenant_id", "event_id"),
)

audit_chain_heads = sa.Table(
    "audit_chain_heads",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True, autoincrement=False),
    sa.Column("last_seq", sa.BigInteger(), nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
)

# Rows of these tables are posted history: no code path updates or deletes them, and triggers
# refuse it on both databases (see migrations).
immutable_tables = ("journal_entries", "postings", "audit_events", "audit_chain")

# Closures of a tenant's books (ledger.periods): every closure stays, a reopened one with who
# reopened it and why; the books are closed through the latest closure not reopened.
period_closures = sa.Table(
    "period_closures",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("through_date", sa.Date(), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("closed_by", sa.String(200), nullable=False),
    sa.Column("closed_at", Timestamp, nullable=False),
    sa.Column("reopened_by", sa.String(200), nullable=True),
    sa.Column("reopened_at", Timestamp, nullable=True),
    sa.Column("reopen_reason", sa.String(500), nullable=True),
)

# Year-end closes: the closing entry (income and expense to retained earnings; none when there was
# nothing to close) and the period closure the close made.
fiscal_year_closes = sa.Table(
    "fiscal_year_closes",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("entry_id", sa.Uuid(), nullable=True),
    sa.Column("closure_seq", sa.Integer(), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("closed_by", sa.String(200), nullable=False),
    sa.Column("closed_at", Timestamp, nullable=False),
)
