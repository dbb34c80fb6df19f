"""A loan and its transactions as immutable values, and the names of transaction kinds and GL roles. Pure.

The store builds these from the rows it reads and hands back nothing else, so a use case or the API
never depends on a database row. Attribute names are the columns' names: a loan is read the same
way whether it came from a command's result or from a read model.
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass

from loans.delinquency import ClassificationPolicy
from loans.state import LoanStatus


class TransactionKind(str, enum.Enum):
    """The `type` of a loan transaction, as stored and as the API shows it.

    The value is also the idempotency operation of the command that records it, so keys recorded
    before commands went through ledger.idempotency still find their first run.
    """

    DISBURSEMENT = "DISBURSEMENT"
    REPAYMENT = "REPAYMENT"
    SUSPENSE_REPAYMENT = "SUSPENSE_REPAYMENT"  # a repayment out of suspense (an applied unidentified receipt)
    PAYOFF = "PAYOFF"
    PREPAYMENT = "PREPAYMENT"
    FEE_CHARGE = "FEE_CHARGE"
    FEE_WAIVER = "FEE_WAIVER"
    PENALTY_WAIVER = "PENALTY_WAIVER"
    WRITE_OFF = "WRITE_OFF"
    RECOVERY = "RECOVERY"
    RESTRUCTURE = "RESTRUCTURE"
    REVERSAL = "REVERSAL"
    CLOSE_OF_BUSINESS = "CLOSE_OF_BUSINESS"
    # A zero-amount marker naming the receipt a SUSPENSE_REPAYMENT applied (it carries no sequence).
    RECEIPT_APPLIED = "RECEIPT_APPLIED"


# What a reversal can undo (the loan is replayed without it).
replayable_kinds = frozenset({
    TransactionKind.REPAYMENT, TransactionKind.SUSPENSE_REPAYMENT, TransactionKind.PAYOFF, TransactionKind.FEE_CHARGE,
    TransactionKind.FEE_WAIVER, TransactionKind.PENALTY_WAIVER, TransactionKind.WRITE_OFF, TransactionKind.RECOVERY,
    TransactionKind.PREPAYMENT,
})
# What a replay applies: the reversible kinds and restructures (an agreement, not reversed but re-applied
# on the history as it now stands). Disbursement, close of business and markers are the replay's frame.
replayed_kinds = replayable_kinds | {TransactionKind.RESTRUCTURE}
# Kinds that move money between the borrower and the lender (the `moneyOnly` filter of a loan's history).
money_movement_kinds = frozenset({
    TransactionKind.DISBURSEMENT, TransactionKind.REPAYMENT, TransactionKind.SUSPENSE_REPAYMENT, TransactionKind.PAYOFF,
    TransactionKind.PREPAYMENT, TransactionKind.RECOVERY, TransactionKind.REVERSAL,
})


class GlRole(str, enum.Enum):
    """A role money plays: a product maps each to a GL account, and the chart marks its accounts with them
    (ledger.queries.account_roles). Servicing movements name these values."""

    BANK = "bank"
    LOANS_RECEIVABLE = "loans_receivable"
    INTEREST_RECEIVABLE = "interest_receivable"
    FEE_RECEIVABLE = "fee_receivable"
    PENALTY_RECEIVABLE = "penalty_receivable"
    ALLOWANCE = "allowance"
    OVERPAYMENTS = "overpayments"
    SUSPENSE = "suspense"
    INTEREST_INCOME = "interest_income"
    FEE_INCOME = "fee_income"
    PENALTY_INCOME = "penalty_income"
    RECOVERIES = "recoveries"
    WRITE_OFF_EXPENSE = "write_off_expense"


@dataclass(frozen=True, slots=True, kw_only=True)
class Loan:
    """A loan as stored: identity, booked terms, dates, status, schedule and servicing pools.

    Booked decimals (principal_requested, annual_rate, annualized_rate) stay the exact decimal text
    they were booked as; pools are integer minor units of `currency`.
    """

    tenant_id: int
    id: uuid.UUID
    borrower_id: uuid.UUID
    product_code: str
    product_version: int
    status: LoanStatus
    currency: str
    principal_requested: str
    annual_rate: str
    term_periods: int
    expected_disbursement_date: dt.date
    first_due_date: dt.date | None
    annualized_rate: str | None
    submitted_by: str
    decided_by: str | None
    decision_reason: str | None
    disbursed_on: dt.date | None
    closed_on: dt.date | None
    schedule_version: int
    schedule_terms: str | None  # canonical JSON of the ScheduleTerms in force (loans.booking.terms_from_json)
    principal: int
    interest: int
    interest_suspended: int
    fee: int
    charges: int
    penalty: int
    penalty_suspended: int
    overpayment: int
    allowance: int
    written_off: int
    recovered: int
    written_off_interest: int
    written_off_fee: int
    written_off_penalty: int
    restructured_on: dt.date | None
    observation_ends_on: dt.date | None
    class_floor: str | None
    non_accrual: bool
    dpd: int
    bucket: str
    loan_class: str
    last_cob_date: dt.date | None
    transactions_recorded: int  # the sequence number of the loan's latest money transaction
    created_at: dt.datetime
    updated_at: dt.datetime
    # The tenant's policy, read in the same statement as the loan: it classifies the loan's next state.
    classification_policy: ClassificationPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class LoanTransaction:
    """A money movement of a loan and how it was allocated, as stored (insert-only)."""

    tenant_id: int
    id: uuid.UUID
    loan_id: uuid.UUID
    sequence: int | None
    type: TransactionKind
    effective_date: dt.date
    currency: str
    amount: int
    principal: int
    interest: int
    fee: int
    penalty: int
    overpayment: int
    journal_entry_id: uuid.UUID | None
    details: str | None  # canonical JSON
    idempotency_key: str | None
    request_hash: str | None
    reverses_transaction_id: uuid.UUID | None
    receipt_id: uuid.UUID | None
    actor: str
    recorded_at: dt.datetime


# Close of business as a job (loans.cob_runs): a run's state, as stored.
class RunStatus(str, enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


active_statuses = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class CobRun:
    tenant_id: int
    id: uuid.UUID
    business_date: dt.date
    status: RunStatus
    requested_by: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime
    loans_total: int | None
    loans_processed: int
    entries_posted: int
    entered_non_accrual: int
    already_done: bool
    resumed: bool
    loan_errors: tuple[str, ...]
    error_code: str | None
    error_message: str | None

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
