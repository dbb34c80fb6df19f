"""Loan servicing: products (versioned), borrowers, loans, installments, loan transactions, COB runs.

Revision ID: 0003_loans
Revises: 0002_identity
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_loans"
down_revision = "0002_identity"
branch_labels = None
depends_on = None

# Insert-only tables: a product version and a loan transaction, once written, are history.
immutable_tables = ("loan_transactions", "loan_products", "loan_snapshots", "suspense_receipts")


def upgrade() -> None:
    op.create_table('borrowers',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('national_id_enc', sa.Text(), nullable=True),
    sa.Column('national_id_index', sa.String(length=64), nullable=True),
    sa.Column('phone_enc', sa.Text(), nullable=True),
    sa.Column('bank_account_enc', sa.Text(), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_borrowers_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_borrowers'))
    )
    op.create_index('ix_borrowers_national_id_index', 'borrowers', ['tenant_id', 'national_id_index'], unique=False)
    op.create_index('ix_borrowers_tenant_created', 'borrowers', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_table('cob_runs',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('loans_processed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('entries_posted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cob_runs_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'business_date', name=op.f('pk_cob_runs'))
    )
    op.create_table('loan_products',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_loan_products_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'code', 'version', name=op.f('pk_loan_products'))
    )
    op.create_table('loans',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('borrower_id', sa.Uuid(), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('product_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('principal_requested', sa.String(length=40), nullable=False),
    sa.Column('annual_rate', sa.String(length=40), nullable=False),
    sa.Column('term_periods', sa.Integer(), nullable=False),
    sa.Column('expected_disbursement_date', sa.Date(), nullable=False),
    sa.Column('first_due_date', sa.Date(), nullable=True),
    sa.Column('annualized_rate', sa.String(length=40), nullable=True),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.Column('disbursed_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('schedule_version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('schedule_terms', sa.Text(), nullable=True),
    sa.Column('principal', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('interest', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('interest_suspended', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fee', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('charges', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('penalty', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('penalty_suspended', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('overpayment', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('allowance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('written_off', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('recovered', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('non_accrual', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('dpd', sa.Integer(), server_default='0', nullable=False),
    sa.Column('bucket', sa.String(length=12), server_default='CURRENT', nullable=False),
    sa.Column('loan_class', sa.String(length=16), server_default='NORMAL', nullable=False),
    sa.Column('last_cob_date', sa.Date(), nullable=True),
    sa.Column('transactions_recorded', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'borrower_id'], ['borrowers.tenant_id', 'borrowers.id'], name=op.f('fk_loans_tenant_id_borrowers')),
    sa.ForeignKeyConstraint(['tenant_id', 'product_code', 'product_version'], ['loan_products.tenant_id', 'loan_products.code', 'loan_products.version'], name=op.f('fk_loans_tenant_id_loan_products')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_loans_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_loans'))
    )
    op.create_index('ix_loans_tenant_borrower', 'loans', ['tenant_id', 'borrower_id'], unique=False)
    op.create_index('ix_loans_tenant_status', 'loans', ['tenant_id', 'status'], unique=False)
    op.create_index('ix_loans_tenant_created', 'loans', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_table('loan_installments',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('loan_id', sa.Uuid(), nullable=False),
    sa.Column('schedule_version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('accrual_start', sa.Date(), nullable=False),
    sa.Column('accrual_end', sa.Date(), nullable=False),
    sa.Column('principal', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('interest', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fee', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('principal_paid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('interest_paid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fee_paid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('interest_accrued', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fee_recognised', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('late_fee_charged', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'loan_id'], ['loans.tenant_id', 'loans.id'], name=op.f('fk_loan_installments_tenant_id_loans')),
    sa.PrimaryKeyConstraint('tenant_id', 'loan_id', 'schedule_version', 'number', name=op.f('pk_loan_installments'))
    )
    op.create_table('loan_transactions',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('loan_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=24), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('principal', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('interest', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fee', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('penalty', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('overpayment', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('journal_entry_id', sa.Uuid(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('reverses_transaction_id', sa.Uuid(), nullable=True),
    sa.Column('receipt_id', sa.Uuid(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'loan_id'], ['loans.tenant_id', 'loans.id'], name=op.f('fk_loan_transactions_tenant_id_loans')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_loan_transactions')),
    sa.UniqueConstraint('tenant_id', 'idempotency_key', name=op.f('uq_loan_transactions_tenant_id_idempotency_key')),
    sa.UniqueConstraint('tenant_id', 'reverses_transaction_id', name=op.f('uq_loan_transactions_tenant_id_reverses_transaction_id')),
    sa.UniqueConstraint('tenant_id', 'receipt_id', name=op.f('uq_loan_transactions_tenant_id_receipt_id'))
    )
    op.create_index('ix_loan_transactions_loan', 'loan_transactions', ['tenant_id', 'loan_id', 'effective_date'], unique=False)

    op.create_table('loan_snapshots',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('loan_id', sa.Uuid(), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('principal', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('interest', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fee', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('penalty', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('allowance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('dpd', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=12), nullable=False),
    sa.Column('loan_class', sa.String(length=16), nullable=False),
    sa.Column('non_accrual', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'business_date', 'loan_id', name=op.f('pk_loan_snapshots'))
    )
    op.create_table('loan_policies',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('classification', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_loan_policies_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_loan_policies'))
    )
    op.create_table('suspense_receipts',
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('journal_entry_id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_suspense_receipts_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_suspense_receipts')),
    sa.UniqueConstraint('tenant_id', 'idempotency_key', name=op.f('uq_suspense_receipts_tenant_id_idempotency_key'))
    )
    if op.get_bind().dialect.name == "postgresql":
        # Daily COB updates of every active loan stay on their page (HOT) when pages keep room.
        op.execute("ALTER TABLE loans SET (fillfactor = 70)")
        op.execute("ALTER TABLE loan_installments SET (fillfactor = 80)")
    _create_immutability_triggers()


def _create_immutability_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in immutable_tables:
        if dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION loanbook_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION loanbook_refuse_change()"
            )
        elif dialect == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'loanbook: {operation} on {table} refused: posted history is "
                    f"immutable; post a reversing entry'); END"
                )


def downgrade() -> None:
    raise RuntimeError("loan servicing tables hold posted history and cannot be downgraded")
