"""Ledger spine: tenants, chart of accounts, journal, balances, audit chain.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
immutable_tables = ("journal_entries", "postings", "audit_events", "audit_chain")


def upgrade() -> None:
    # The high-volume tables carry no foreign keys (see ledger/store/tables.py for why).
    op.create_table(
        "tenants",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
    )
    op.create_table(
        "accounts",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
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
        sa.PrimaryKeyConstraint("tenant_id", "code", name="pk_accounts"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_accounts_tenant_id_tenants"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_code"], ["accounts.tenant_id", "accounts.code"], name="fk_accounts_tenant_id_accounts"
        ),
        sa.CheckConstraint("balance_slots BETWEEN 1 AND 64", name="ck_accounts_balance_slots_range"),
    )
    op.create_table(
        "journal_entries",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("reverses_entry_id", sa.Uuid(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_journal_entries"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "reverses_entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            name="fk_journal_entries_tenant_id_journal_entries",
        ),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_journal_entries_tenant_id_idempotency_key"),
        sa.UniqueConstraint("tenant_id", "reverses_entry_id", name="uq_journal_entries_tenant_id_reverses_entry_id"),
    )
    op.create_index("ix_journal_entries_tenant_effective_date", "journal_entries", ["tenant_id", "effective_date"])
    op.create_table(
        "postings",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("account_code", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "entry_id", "line_no", name="pk_postings"),
        sa.CheckConstraint("amount_minor <> 0", name="ck_postings_amount_not_zero"),
    )
    op.create_index("ix_postings_account_date", "postings", ["tenant_id", "account_code", "currency", "effective_date"])
    for table, extra in (
        ("account_balances", []),
        (
            "account_period_balances",
            [sa.Column("grain", sa.String(1), nullable=False), sa.Column("period_start", sa.Date(), nullable=False)],
        ),
    ):
        key = ["tenant_id", "account_code", "currency"] + [c.name for c in extra] + ["slot"]
        constraints = [sa.PrimaryKeyConstraint(*key, name=f"pk_{table}")]
        if extra:
            constraints.append(sa.CheckConstraint("grain IN ('D', 'M', 'Y')", name=f"ck_{table}_grain_known"))
        op.create_table(
            table,
            sa.Column("tenant_id", Id, nullable=False),
            sa.Column("account_code", sa.String(40), nullable=False),
            sa.Column("currency", sa.String(3), nullable=False),
            *extra,
            sa.Column("slot", sa.SmallInteger(), nullable=False),
            sa.Column("debit_minor", sa.BigInteger(), nullable=False),
            sa.Column("credit_minor", sa.BigInteger(), nullable=False),
            *constraints,
        )
    op.create_table(
        "audit_events",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(60), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("request_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_entity", "audit_events", ["tenant_id", "entity_type", "entity_id"])
    op.create_table(
        "audit_unsealed",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name="pk_audit_unsealed"),
    )
    op.create_table(
        "audit_chain",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name="pk_audit_chain"),
        sa.UniqueConstraint("tenant_id", "event_id", name="uq_audit_chain_tenant_id_event_id"),
    )
    op.create_table(
        "audit_chain_heads",
        sa.Column("tenant_id", Id, nullable=False, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_audit_chain_heads"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_audit_chain_heads_tenant_id_tenants"),
    )
    _create_immutability_triggers()


def _create_immutability_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION loanbook_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'loanbook: % on %.% refused: posted history is immutable; post a reversing entry',
                    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
                    USING ERRCODE = 'P0001';
            END $$;
            """
        )
        for table in immutable_tables:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION loanbook_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION loanbook_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in immutable_tables:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'loanbook: {operation} on {table} refused: posted history is "
                    f"immutable; post a reversing entry'); END"
                )


def downgrade() -> None:
    raise RuntimeError("the ledger spine cannot be downgraded: it holds posted history")
