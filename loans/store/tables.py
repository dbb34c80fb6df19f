"""Loan tables, on the ledger's MetaData so one alembic history covers both. tenant_id leads every key."""
from __future__ import annotations

import sqlalchemy as sa

from ledger.store.tables import Id, Timestamp, metadata, retryable

Minor = sa.BigInteger()


def _minor(name: str) -> sa.Column:
    return sa.Column(name, Minor, nullable=False, server_default="0")


loan_products = sa.Table(
    "loan_products",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("definition", sa.Text(), nullable=False),  # canonical JSON of the Product
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

borrowers = sa.Table(
    "borrowers",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    # Sensitive fields: AES-GCM ciphertext; the *_index columns are keyed HMACs for exact lookups.
    sa.Column("national_id_enc", sa.Text(), nullable=True),
    sa.Column("national_id_index", sa.String(64), nullable=True),
    sa.Column("phone_enc", sa.Text(), nullable=True),
    sa.Column("bank_account_enc", sa.Text(), nullable=True),
    sa.Column("bank_account_index", sa.String(64), nullable=True),
    sa.Column("address", sa.String(500), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Index("ix_borrowers_national_id_index", "tenant_id", "national_id_index"),
    sa.Index("ix_borrowers_bank_account_index", "tenant_id", "bank_account_index"),  # a bank line's payer
    sa.Index("ix_borrowers_tenant_created", "tenant_id", "created_at", "id"),  # newest-first pages
)

loans = sa.Table(
    "loans",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("borrower_id", sa.Uuid(), nullable=False),
    sa.Column("product_code", sa.String(40), nullable=False),
    sa.Column("product_version", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("principal_requested", sa.String(40), nullable=False),  # decimal string
    sa.Column("annual_rate", sa.String(40), nullable=False),
    sa.Column("term_periods", sa.Integer(), nullable=False),
    sa.Column("expected_disbursement_date", sa.Date(), nullable=False),
    sa.Column("first_due_date", sa.Date(), nullable=True),
    sa.Column("annualized_rate", sa.String(40), nullable=True),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.Column("decision_reason", sa.String(500), nullable=True),
    sa.Column("disbursed_on", sa.Date(), nullable=True),
    sa.Column("closed_on", sa.Date(), nullable=True),
    sa.Column("schedule_version", sa.Integer(), nullable=False, server_default="0"),
    # Terms of the schedule in force (JSON): prepayments and restructures continue from these.
    sa.Column("schedule_terms", sa.Text(), nullable=True),
    _minor("principal"),
    _minor("interest"),
    _minor("interest_suspended"),
    _minor("fee"),
    _minor("charges"),
    _minor("penalty"),
    _minor("penalty_suspended"),
    _minor("overpayment"),
    _minor("allowance"),
    _minor("written_off"),
    _minor("recovered"),
    # A full write-off's other components (suspended amounts included): what recoveries may recover.
    _minor("written_off_interest"),
    _minor("written_off_fee"),
    _minor("written_off_penalty"),
    # A restructured loan's observation period and the classification floor that holds during it.
    sa.Column("restructured_on", sa.Date(), nullable=True),
    sa.Column("observation_ends_on", sa.Date(), nullable=True),
    sa.Column("class_floor", sa.String(16), nullable=True),
    sa.Column("non_accrual", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("dpd", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("bucket", sa.String(12), nullable=False, server_default="CURRENT"),
    sa.Column("loan_class", sa.String(16), nullable=False, server_default="NORMAL"),
    sa.Column("last_cob_date", sa.Date(), nullable=True),
    # How many money transactions the loan has recorded: each takes the next number, under the row lock.
    sa.Column("transactions_recorded", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "borrower_id"], ["borrowers.tenant_id", "borrowers.id"]),
    sa.ForeignKeyConstraint(
        ["tenant_id", "product_code", "product_version"],
        ["loan_products.tenant_id", "loan_products.code", "loan_products.version"],
    ),
    # Close of business rewrites every active loan's row daily; with no index on what it changes
    # (not last_cob_date) and free space in each page, PostgreSQL updates in place (HOT).
    sa.Index("ix_loans_tenant_status", "tenant_id", "status"),
    sa.Index("ix_loans_tenant_borrower", "tenant_id", "borrower_id"),
    sa.Index("ix_loans_tenant_created", "tenant_id", "created_at", "id"),  # newest-first pages
)

loan_installments = sa.Table(
    "loan_installments",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("loan_id", sa.Uuid(), primary_key=True),
    sa.Column("schedule_version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("due_date", sa.Date(), nullable=False),
    sa.Column("accrual_start", sa.Date(), nullable=False),
    sa.Column("accrual_end", sa.Date(), nullable=False),
    _minor("principal"),
    _minor("interest"),
    _minor("fee"),
    _minor("principal_paid"),
    _minor("interest_paid"),
    _minor("fee_paid"),
    _minor("interest_accrued"),
    sa.Column("fee_recognised", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("late_fee_charged", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.ForeignKeyConstraint(["tenant_id", "loan_id"], ["loans.tenant_id", "loans.id"]),
)

# Every money movement of a loan, with its allocation; insert-only like the journal it points at.
loan_transactions = sa.Table(
    "loan_transactions",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("loan_id", sa.Uuid(), nullable=False),
    # The order money transactions happened in, per loan (replays apply them in this order).
    sa.Column("sequence", sa.Integer(), nullable=True),
    sa.Column("type", sa.String(24), nullable=False),
    sa.Column("effective_date", sa.Date(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    _minor("amount"),
    _minor("principal"),
    _minor("interest"),
    _minor("fee"),
    _minor("penalty"),
    _minor("overpayment"),
    sa.Column("journal_entry_id", sa.Uuid(), nullable=True),
    sa.Column("details", sa.Text(), nullable=True),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    # A reversal points at the transaction it undoes; a transaction is reversed at most once.
    sa.Column("reverses_transaction_id", sa.Uuid(), nullable=True),
    # The RECEIPT_APPLIED marker names the unidentified receipt a repayment out of suspense applied; a
    # receipt stands applied once at a time (apply_receipt locks it), again only after that is reversed.
    sa.Column("receipt_id", sa.Uuid(), nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "loan_id"], ["loans.tenant_id", "loans.id"]),
    sa.UniqueConstraint("tenant_id", "idempotency_key", info=retryable),
    sa.UniqueConstraint("tenant_id", "reverses_transaction_id", info=retryable),
    sa.Index("ix_loan_transactions_receipt", "tenant_id", "receipt_id"),
    sa.Index("ix_loan_transactions_loan", "tenant_id", "loan_id", "effective_date"),
)

# Money received that cannot yet be matched to a loan: held in suspense until applied.
suspense_receipts = sa.Table(
    "suspense_receipts",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("received_on", sa.Date(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", Minor, nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("journal_entry_id", sa.Uuid(), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("recorded_at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.UniqueConstraint("tenant_id", "idempotency_key", info=retryable),
)

# Per-tenant classification boundaries and provision rates (JSON); absent means the defaults.
loan_policies = sa.Table(
    "loan_policies",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True, autoincrement=False),
    sa.Column("classification", sa.Text(), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

cob_runs = sa.Table(
    "cob_runs",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("business_date", sa.Date(), primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("loans_processed", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("entries_posted", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=True),
)

# Requests to close a business date, run as background jobs (loans.cob_runs): who asked, progress, outcome.
# cob_runs above is the calendar of closed dates; a date may have several requests (one FAILED, a retry).
# At most one request per tenant is QUEUED or RUNNING: COB closes dates in order, so a second concurrent
# run could only wait for the first or fail; the partial unique index makes that a database fact.
close_of_business_runs = sa.Table(
    "close_of_business_runs",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("business_date", sa.Date(), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    # Touched after every batch; a RUNNING run whose heartbeat is old was abandoned by a stopped server.
    sa.Column("heartbeat_at", Timestamp, nullable=False),
    sa.Column("loans_total", sa.Integer(), nullable=True),
    sa.Column("loans_processed", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("entries_posted", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("entered_non_accrual", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("already_done", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("resumed", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("loan_errors", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("error_code", sa.String(60), nullable=True),
    sa.Column("error_message", sa.String(500), nullable=True),
    sa.Index("ix_close_of_business_runs_tenant_requested", "tenant_id", "requested_at", "id"),
    sa.Index(
        # Two requests racing to start a run: the loser runs again and reports COB_ALREADY_RUNNING.
        "uq_close_of_business_runs_tenant_id", "tenant_id", unique=True, info=retryable,
        sqlite_where=sa.text("status IN ('QUEUED', 'RUNNING')"), postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
    ),
)

# Each loan's position at the end of each closed business date: the portfolio as of any date.
loan_snapshots = sa.Table(
    "loan_snapshots",
    metadata,
    sa.Column("tenant_id", Id, primary_key=True),
    sa.Column("business_date", sa.Date(), primary_key=True),
    sa.Column("loan_id", sa.Uuid(), primary_key=True),
    sa.Column("product_code", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    _minor("principal"),
    _minor("interest"),
    _minor("fee"),
    _minor("penalty"),
    _minor("allowance"),
    sa.Column("dpd", sa.Integer(), nullable=False),
    sa.Column("bucket", sa.String(12), nullable=False),
    sa.Column("loan_class", sa.String(16), nullable=False),
    sa.Column("non_accrual", sa.Boolean(), nullable=False),
)

immutable_loan_tables = ("loan_transactions", "loan_products", "loan_snapshots", "suspense_receipts")
