"""GraphQL object types for loan servicing: loans, installments, balances, transactions.

Each wraps a stored row or an immutable domain value. Amounts are integer minor units underneath
and `Money` on the wire. Nested fields load through the request's DataLoaders, so a page of loans
with schedules, transactions, borrowers and products costs a constant number of statements.
Borrower and LoanProduct live with their operations (graphql_api.loans.borrowers, graphql_api.loans.products).
"""
from __future__ import annotations

import datetime as dt
import enum
import json
from decimal import Decimal
from typing import Annotated

import sqlalchemy as sa
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.loans.borrowers import Borrower
from graphql_api.core.errors import BadUserInput
from graphql_api.loans.products import LoanProduct
from loans.queries import transactions_last_max
from graphql_api.core.scalars import encode_id, utc
from graphql_api.core.types import Money, as_mirror, mirror_enum, money, money_from_decimal
from graphql_api.ledger.types import JournalEntry
from loans.delinquency import Bucket, LoanClass, bucket_short_names
from loans.model import TransactionKind, money_movement_kinds
from loans.servicing import Allocation as DomainAllocation
from loans.state import LoanStatus

LoanStatusEnum = mirror_enum(
    LoanStatus, "APPLIED -> APPROVED -> ACTIVE (disbursed) -> PAID_OFF; or REJECTED, WITHDRAWN, WRITTEN_OFF, RESTRUCTURED."
)
BucketEnum = mirror_enum(
    Bucket, "Delinquency bucket by days past due: CURRENT (M0), DPD_1_30 (M1), DPD_31_60 (M2), DPD_61_90 (M3), DPD_90_PLUS (M3+).",
    name="DelinquencyBucket",
)
LoanClassEnum = mirror_enum(
    LoanClass, "Five-tier classification (五级分类) by days past due: NORMAL 正常, SPECIAL_MENTION 关注, "
    "SUBSTANDARD 次级, DOUBTFUL 可疑, LOSS 损失.",
)


@strawberry.enum(description="PAID; OVERDUE (fell due before the loan's last closed business date, unpaid); DUE otherwise.")
class InstallmentStatus(enum.Enum):
    PAID = "PAID"
    DUE = "DUE"
    OVERDUE = "OVERDUE"


@strawberry.type(description="How an amount splits across what the borrower owes.")
class Allocation:
    penalty: Money
    fee: Money
    interest: Money
    principal: Money
    overpayment: Money = strawberry.field(description="Beyond what was owed: kept as the borrower's credit balance.")
    total: Money


def allocation_type(penalty: int, fee: int, interest: int, principal: int, overpayment: int, currency: str) -> Allocation:
    return Allocation(
        penalty=money(penalty, currency), fee=money(fee, currency), interest=money(interest, currency),
        principal=money(principal, currency), overpayment=money(overpayment, currency),
        total=money(penalty + fee + interest + principal + overpayment, currency),
    )


def domain_allocation(a: DomainAllocation, currency: str) -> Allocation:
    return allocation_type(a.penalty, a.fee, a.interest, a.principal, a.overpayment, currency)


# The hot types below (a loan detail is ~640 fields, 36 installments of them) hold their values as plain
# attributes, computed when the object is built: strawberry resolves a plain attribute with one getattr,
# while a method resolver costs an Info object, argument conversion and an extension chain per field,
# which was about a third of a loan-detail request's CPU. Methods remain only for fields that load
# (DataLoaders) or parse (JSON) what a client may never ask for.


@strawberry.type(description="One installment of a loan's schedule and what has been paid of it.")
class Installment:
    number: int
    due_date: dt.date
    accrual_start: dt.date
    accrual_end: dt.date
    principal: Money
    interest: Money
    fee: Money
    total: Money = strawberry.field(description="Principal + interest + fee.")
    principal_paid: Money
    interest_paid: Money
    fee_paid: Money
    interest_accrued: Money = strawberry.field(description="Interest accrued on it so far (recognised or suspended).")
    outstanding: Money = strawberry.field(description="What is still owed of it.")
    status: InstallmentStatus


def installment_type(row: sa.Row, currency: str, business_date: dt.date | None) -> Installment:
    outstanding = (row.principal - row.principal_paid) + (row.interest - row.interest_paid) + (row.fee - row.fee_paid)
    if outstanding == 0:
        status = InstallmentStatus.PAID
    elif business_date is not None and row.due_date < business_date:
        status = InstallmentStatus.OVERDUE
    else:
        status = InstallmentStatus.DUE
    return Installment(
        number=row.number, due_date=row.due_date, accrual_start=row.accrual_start, accrual_end=row.accrual_end,
        principal=money(row.principal, currency), interest=money(row.interest, currency), fee=money(row.fee, currency),
        total=money(row.principal + row.interest + row.fee, currency), principal_paid=money(row.principal_paid, currency),
        interest_paid=money(row.interest_paid, currency), fee_paid=money(row.fee_paid, currency),
        interest_accrued=money(row.interest_accrued, currency), outstanding=money(outstanding, currency), status=status,
    )


@strawberry.type(description="A loan's pools: what the borrower owes, by kind, and what is held against it.")
class LoanBalances:
    principal: Money = strawberry.field(description="Principal outstanding (loans receivable).")
    interest: Money = strawberry.field(description="Interest recognised and unpaid.")
    interest_suspended: Money = strawberry.field(description="Interest accrued while non-accrual: owed, but not in income.")
    fee: Money = strawberry.field(description="Fees fallen due and unpaid, including late fees and charges.")
    penalty: Money
    penalty_suspended: Money
    overpayment: Money = strawberry.field(description="The borrower's credit balance (money received beyond what was owed).")
    allowance: Money = strawberry.field(description="Provision held against the loan.")
    written_off: Money = strawberry.field(
        description="Everything written off: principal, interest, fees and penalties (suspended amounts included)."
    )
    written_off_principal: Money = strawberry.field(description="The principal part of `writtenOff`.")
    recovered: Money = strawberry.field(description="Cash recovered after the write-off (at most `writtenOff`).")
    total_outstanding: Money = strawberry.field(description="Principal + interest + fee + penalty (recognised and suspended).")


def loan_balances_type(row: sa.Row) -> LoanBalances:
    """From a loan row or a servicing state (loans.state.LoanState): both name the pools alike."""
    c = row.currency
    total = row.principal + row.interest + row.interest_suspended + row.fee + row.penalty + row.penalty_suspended
    written_off = row.written_off + row.written_off_interest + row.written_off_fee + row.written_off_penalty
    return LoanBalances(
        principal=money(row.principal, c), interest=money(row.interest, c), interest_suspended=money(row.interest_suspended, c),
        fee=money(row.fee, c), penalty=money(row.penalty, c), penalty_suspended=money(row.penalty_suspended, c),
        overpayment=money(row.overpayment, c), allowance=money(row.allowance, c), written_off=money(written_off, c),
        written_off_principal=money(row.written_off, c), recovered=money(row.recovered, c), total_outstanding=money(total, c),
    )


# Resolvers of LoanTransaction's fields that load or parse; `root` is the LoanTransaction.


def transaction_details(root: LoanTransaction) -> JSON | None:
    return None if root.row.details is None else json.loads(root.row.details)


@strawberry.type(description="What a write-off took, component by component: the receivables its journal entry credits "
                 "(principal, interest, fee, penalty: summing to `entry`) and what was owed off the books while non-accrual.")
class WriteOffParts:
    principal: Money
    interest: Money
    fee: Money
    penalty: Money
    interest_suspended: Money = strawberry.field(description="Interest accrued while non-accrual: written off, never income, in no entry line.")
    penalty_suspended: Money = strawberry.field(description="Penalties accrued while non-accrual, likewise.")
    entry: Money = strawberry.field(description="What the journal entry wrote off: principal + interest + fee + penalty.")
    from_allowance: Money = strawberry.field(description="Of `entry`, what the allowance for credit losses covered.")
    to_expense: Money = strawberry.field(description="Of `entry`, the rest: credit-loss expense.")
    total: Money = strawberry.field(description="`entry` plus the suspended amounts: everything the borrower no longer owes.")


def transaction_write_off(root: LoanTransaction) -> WriteOffParts | None:
    row = root.row
    if row.type != TransactionKind.WRITE_OFF.value:
        return None
    recorded = json.loads(row.details) if row.details else {}
    c = row.currency
    entry = row.principal + row.interest + row.fee + row.penalty
    interest_suspended, penalty_suspended = int(recorded.get("interest_suspended", 0)), int(recorded.get("penalty_suspended", 0))
    from_allowance = int(recorded.get("from_allowance", 0))
    return WriteOffParts(
        principal=money(row.principal, c), interest=money(row.interest, c), fee=money(row.fee, c), penalty=money(row.penalty, c),
        interest_suspended=money(interest_suspended, c), penalty_suspended=money(penalty_suspended, c), entry=money(entry, c),
        from_allowance=money(from_allowance, c), to_expense=money(entry - from_allowance, c),
        total=money(entry + interest_suspended + penalty_suspended, c),
    )


async def transaction_journal_entry(root: LoanTransaction, info: Info) -> JournalEntry | None:
    if root.row.journal_entry_id is None:
        return None
    entry = await info.context.session.loaders.entry.load(root.row.journal_entry_id)
    return None if entry is None else JournalEntry(entry=entry)


async def transaction_reverses(root: LoanTransaction, info: Info) -> LoanTransaction | None:
    if root.row.reverses_transaction_id is None:
        return None
    original = await info.context.session.loaders.loan_transaction.load(root.row.reverses_transaction_id)
    return None if original is None else loan_transaction_type(original)


async def transaction_reversed_by(root: LoanTransaction, info: Info) -> LoanTransaction | None:
    reversal = await info.context.session.loaders.loan_transaction_reversal.load(root.row.id)
    return None if reversal is None else loan_transaction_type(reversal)


@strawberry.type(description="A money movement of a loan, with how it was allocated and the journal entry it posted.")
class LoanTransaction:
    row: strawberry.Private[sa.Row]
    id: strawberry.ID = strawberry.field(description="Opaque id; pass it back as is (e.g. to reverseRepayment).")
    type: str = strawberry.field(
        description="DISBURSEMENT, REPAYMENT, PAYOFF, PREPAYMENT, FEE_CHARGE, FEE_WAIVER, PENALTY_WAIVER, WRITE_OFF, "
        "RECOVERY, RESTRUCTURE, REVERSAL, CLOSE_OF_BUSINESS (the day's accruals and penalties), and more as servicing grows."
    )
    effective_date: dt.date
    amount: Money
    allocation: Allocation

    details: JSON | None = strawberry.field(
        resolver=transaction_details,
        description="Details the servicing engine recorded (e.g. a close of business's accruals), as JSON.",
    )
    write_off: WriteOffParts | None = strawberry.field(
        resolver=transaction_write_off, description="For a WRITE_OFF: every component written off; null for other types."
    )
    journal_entry: JournalEntry | None = strawberry.field(resolver=transaction_journal_entry)
    reverses: LoanTransaction | None = strawberry.field(
        resolver=transaction_reverses, description="The transaction this one reverses, if it is a reversal."
    )
    reversed_by: LoanTransaction | None = strawberry.field(
        resolver=transaction_reversed_by, description="The reversal of this transaction, if it has been reversed."
    )
    actor: str
    idempotency_key: str | None
    recorded_at: dt.datetime


def loan_transaction_type(row: sa.Row) -> LoanTransaction:
    return LoanTransaction(
        row=row, id=encode_id("LoanTransaction", row.id), type=row.type, effective_date=row.effective_date,
        amount=money(row.amount, row.currency),
        allocation=allocation_type(row.penalty, row.fee, row.interest, row.principal, row.overpayment, row.currency),
        actor=row.actor, idempotency_key=row.idempotency_key, recorded_at=utc(row.recorded_at),
    )


# Resolvers of Loan's fields that load through the request's DataLoaders; `root` is the Loan.


async def loan_borrower(root: Loan, info: Info) -> Borrower:
    record = await info.context.session.loaders.borrower.load(root.row.borrower_id)
    assert record is not None, f"loan {root.row.id} has no borrower"
    return Borrower(record=record)


async def loan_product(root: Loan, info: Info) -> LoanProduct:
    record = await info.context.session.loaders.product.load((root.row.product_code, root.row.product_version))
    assert record is not None, f"loan {root.row.id} has no product"
    return LoanProduct(record=record)


async def loan_schedule(root: Loan, info: Info, version: int | None = None) -> list[Installment]:
    row = root.row
    version = row.schedule_version if version is None else version
    if not 1 <= version <= row.schedule_version:
        return []
    rows = await info.context.session.loaders.installments.load((row.id, version))
    return [installment_type(r, row.currency, row.last_cob_date) for r in rows]


LoanTransactionTypeEnum = mirror_enum(TransactionKind, "The kind of a loan transaction.", name="LoanTransactionType")


async def loan_transactions(
    root: Loan, info: Info, last: int = 10,
    types: Annotated[
        list[LoanTransactionTypeEnum] | None, strawberry.argument(description="Only transactions of these types.")  # type: ignore[valid-type]
    ] = None,
    money_movements_only: Annotated[bool, strawberry.argument(
        description="Only money moving between borrower and lender (no daily close-of-business rows, fee charges, "
        "waivers or write-offs): DISBURSEMENT, REPAYMENT, SUSPENSE_REPAYMENT, PAYOFF, PREPAYMENT, RECOVERY, REVERSAL.",
    )] = False,
) -> list[LoanTransaction]:
    if not 1 <= last <= transactions_last_max:
        raise BadUserInput(f"`last` must be between 1 and {transactions_last_max}, got {last}")
    kinds = None if types is None else {TransactionKind[t.name].value for t in types}
    if money_movements_only:
        moving = {k.value for k in money_movement_kinds}
        kinds = moving if kinds is None else kinds & moving
    rows = await info.context.session.loaders.loan_history.load((root.row.id, last, None if kinds is None else tuple(sorted(kinds))))
    return [loan_transaction_type(r) for r in rows]


async def loan_first_due_date(root: Loan, info: Info) -> dt.date | None:
    row = root.row
    if row.schedule_version < 1:
        return row.first_due_date  # not disbursed: the application's, if it gave one
    if row.first_due_date is not None and row.first_due_date > row.disbursed_on:
        return row.first_due_date  # the booked schedule took it
    # The application gave none, or one the disbursement date had passed (the schedule then
    # falls due a period after disbursement): the booked schedule's first installment says.
    rows = await info.context.session.loaders.installments.load((row.id, 1))
    return rows[0].due_date if rows else row.first_due_date


@strawberry.type(description="A loan: its application, terms, servicing state, schedule and history.")
class Loan:
    row: strawberry.Private[sa.Row]
    id: strawberry.ID = strawberry.field(description="Opaque id; pass it back as is.")
    status: LoanStatusEnum  # type: ignore[valid-type]
    borrower: Borrower = strawberry.field(
        resolver=loan_borrower, description="The borrower, with sensitive fields masked (read `borrower(id)` to see them)."
    )
    product: LoanProduct = strawberry.field(resolver=loan_product, description="The product version the loan is booked under.")
    currency: str
    principal: Money = strawberry.field(description="The principal applied for (and disbursed).")
    annual_rate: Decimal = strawberry.field(description='Nominal annual rate as a fraction: "0.12" is 12 %.')
    annualized_rate: Decimal | None = strawberry.field(description="All-in annualised rate (IRR with fees) of the current schedule.")
    term_periods: int
    expected_disbursement_date: dt.date
    first_due_date: dt.date | None = strawberry.field(
        resolver=loan_first_due_date,
        description="The first due date of the booked schedule (the application's until disbursement; null if it gave none).",
    )
    disbursed_on: dt.date | None
    closed_on: dt.date | None
    submitted_by: str
    decided_by: str | None
    decision_reason: str | None
    business_date: dt.date | None = strawberry.field(
        description="The last business date closed for this loan (its disbursement date until the first close of business)."
    )
    days_past_due: int = strawberry.field(description="Days since the oldest unpaid installment fell due, as of `businessDate`.")
    bucket: BucketEnum  # type: ignore[valid-type]
    bucket_short_name: str = strawberry.field(description="The bucket's short name: M0, M1, M2, M3, M3+.")
    loan_class: LoanClassEnum = strawberry.field(name="class", description="Five-tier classification (五级分类).")  # type: ignore[valid-type]
    non_accrual: bool = strawberry.field(description="True while interest is suspended (past the product's non-accrual threshold).")
    restructured: bool = strawberry.field(description="True once the loan has been restructured (it stays ACTIVE and is serviced on).")
    restructured_on: dt.date | None = strawberry.field(description="The date of its latest restructure.")
    observation_ends_on: dt.date | None = strawberry.field(
        description="The end of the latest restructure's observation period (restarted by a missed payment)."
    )
    class_floor: LoanClassEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="While under observation: the class the loan cannot be better than (at least SPECIAL_MENTION 关注, "
        "and no better than before the restructure); null once the period has passed with timely payments."
    )
    balances: LoanBalances
    schedule_version: int = strawberry.field(
        description="Version of the current schedule: 1 at disbursement, +1 for each prepayment or restructure that re-schedules."
    )
    schedule: list[Installment] = strawberry.field(
        resolver=loan_schedule,
        description="Installments of the current schedule, or of an earlier `version` (kept readable after a re-schedule).",
    )
    transactions: list[LoanTransaction] = strawberry.field(
        resolver=loan_transactions,
        description=f"The loan's most recently recorded transactions, newest first; `last` is at most {transactions_last_max}.",
    )
    created_at: dt.datetime
    updated_at: dt.datetime


def loan_type(row: sa.Row) -> Loan:
    bucket = Bucket(row.bucket)
    return Loan(
        row=row, id=encode_id("Loan", row.id), status=as_mirror(LoanStatusEnum, LoanStatus(row.status)), currency=row.currency,
        principal=money_from_decimal(Decimal(row.principal_requested), row.currency), annual_rate=Decimal(row.annual_rate),
        annualized_rate=None if row.annualized_rate is None else Decimal(row.annualized_rate), term_periods=row.term_periods,
        expected_disbursement_date=row.expected_disbursement_date,
        disbursed_on=row.disbursed_on, closed_on=row.closed_on, submitted_by=row.submitted_by, decided_by=row.decided_by,
        decision_reason=row.decision_reason, business_date=row.last_cob_date, days_past_due=row.dpd,
        bucket=as_mirror(BucketEnum, bucket), bucket_short_name=bucket_short_names[bucket],
        loan_class=as_mirror(LoanClassEnum, LoanClass(row.loan_class)), non_accrual=row.non_accrual,
        restructured=row.restructured_on is not None, restructured_on=row.restructured_on,
        observation_ends_on=row.observation_ends_on,
        class_floor=None if row.class_floor is None else as_mirror(LoanClassEnum, LoanClass(row.class_floor)),
        balances=loan_balances_type(row), schedule_version=row.schedule_version,
        created_at=utc(row.created_at), updated_at=utc(row.updated_at),
    )
