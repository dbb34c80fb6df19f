"""GraphQL object types for loan servicing: loans, installments, balances, transactions.

Each wraps a stored row or an immutable domain value. Amounts are integer minor units underneath
and `Money` on the wire. Nested fields load through the request's DataLoaders, so a page of loans
with schedules, transactions, borrowers and products costs a constant number of statements.
Borrower and LoanProduct live with their operations (graphql_api.borrowers, graphql_api.loan_products).
"""
from __future__ import annotations

import datetime as dt
import enum
import json
from decimal import Decimal

import sqlalchemy as sa
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.borrowers import Borrower
from graphql_api.errors import BadUserInput
from graphql_api.loan_products import LoanProduct
from graphql_api.loan_reads import transactions_last_max
from graphql_api.scalars import encode_id, utc
from graphql_api.types import JournalEntry, Money, as_mirror, mirror_enum, money, money_from_decimal
from loans.delinquency import Bucket, LoanClass, bucket_short_names
from loans.engine import Allocation as DomainAllocation
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


@strawberry.type(description="One installment of a loan's schedule and what has been paid of it.")
class Installment:
    row: strawberry.Private[sa.Row]
    currency: strawberry.Private[str]
    business_date: strawberry.Private[dt.date | None]

    @strawberry.field
    def number(self) -> int:
        return self.row.number

    @strawberry.field
    def due_date(self) -> dt.date:
        return self.row.due_date

    @strawberry.field
    def accrual_start(self) -> dt.date:
        return self.row.accrual_start

    @strawberry.field
    def accrual_end(self) -> dt.date:
        return self.row.accrual_end

    @strawberry.field
    def principal(self) -> Money:
        return money(self.row.principal, self.currency)

    @strawberry.field
    def interest(self) -> Money:
        return money(self.row.interest, self.currency)

    @strawberry.field
    def fee(self) -> Money:
        return money(self.row.fee, self.currency)

    @strawberry.field(description="Principal + interest + fee.")
    def total(self) -> Money:
        return money(self.row.principal + self.row.interest + self.row.fee, self.currency)

    @strawberry.field
    def principal_paid(self) -> Money:
        return money(self.row.principal_paid, self.currency)

    @strawberry.field
    def interest_paid(self) -> Money:
        return money(self.row.interest_paid, self.currency)

    @strawberry.field
    def fee_paid(self) -> Money:
        return money(self.row.fee_paid, self.currency)

    @strawberry.field(description="Interest accrued on it so far (recognised or suspended).")
    def interest_accrued(self) -> Money:
        return money(self.row.interest_accrued, self.currency)

    @strawberry.field(description="What is still owed of it.")
    def outstanding(self) -> Money:
        return money(self._outstanding(), self.currency)

    @strawberry.field
    def status(self) -> InstallmentStatus:
        if self._outstanding() == 0:
            return InstallmentStatus.PAID
        if self.business_date is not None and self.row.due_date < self.business_date:
            return InstallmentStatus.OVERDUE
        return InstallmentStatus.DUE

    def _outstanding(self) -> int:
        r = self.row
        return (r.principal - r.principal_paid) + (r.interest - r.interest_paid) + (r.fee - r.fee_paid)


@strawberry.type(description="A loan's pools: what the borrower owes, by kind, and what is held against it.")
class LoanBalances:
    row: strawberry.Private[sa.Row]

    def _m(self, minor: int) -> Money:
        return money(minor, self.row.currency)

    @strawberry.field(description="Principal outstanding (loans receivable).")
    def principal(self) -> Money:
        return self._m(self.row.principal)

    @strawberry.field(description="Interest recognised and unpaid.")
    def interest(self) -> Money:
        return self._m(self.row.interest)

    @strawberry.field(description="Interest accrued while non-accrual: owed, but not in income.")
    def interest_suspended(self) -> Money:
        return self._m(self.row.interest_suspended)

    @strawberry.field(description="Fees fallen due and unpaid, including late fees and charges.")
    def fee(self) -> Money:
        return self._m(self.row.fee)

    @strawberry.field
    def penalty(self) -> Money:
        return self._m(self.row.penalty)

    @strawberry.field
    def penalty_suspended(self) -> Money:
        return self._m(self.row.penalty_suspended)

    @strawberry.field(description="The borrower's credit balance (money received beyond what was owed).")
    def overpayment(self) -> Money:
        return self._m(self.row.overpayment)

    @strawberry.field(description="Provision held against the loan.")
    def allowance(self) -> Money:
        return self._m(self.row.allowance)

    @strawberry.field
    def written_off(self) -> Money:
        return self._m(self.row.written_off)

    @strawberry.field
    def recovered(self) -> Money:
        return self._m(self.row.recovered)

    @strawberry.field(description="Principal + interest + fee + penalty (recognised and suspended).")
    def total_outstanding(self) -> Money:
        r = self.row
        return self._m(r.principal + r.interest + r.interest_suspended + r.fee + r.penalty + r.penalty_suspended)


@strawberry.type(description="A money movement of a loan, with how it was allocated and the journal entry it posted.")
class LoanTransaction:
    row: strawberry.Private[sa.Row]

    @strawberry.field(description="Opaque id; pass it back as is (e.g. to reverseRepayment).")
    def id(self) -> strawberry.ID:
        return encode_id("LoanTransaction", self.row.id)

    @strawberry.field(
        description="DISBURSEMENT, REPAYMENT, PAYOFF, PREPAYMENT, FEE_CHARGE, FEE_WAIVER, PENALTY_WAIVER, WRITE_OFF, "
        "RECOVERY, RESTRUCTURE, REVERSAL, CLOSE_OF_BUSINESS (the day's accruals and penalties), and more as servicing grows."
    )
    def type(self) -> str:
        return self.row.type

    @strawberry.field
    def effective_date(self) -> dt.date:
        return self.row.effective_date

    @strawberry.field
    def amount(self) -> Money:
        return money(self.row.amount, self.row.currency)

    @strawberry.field
    def allocation(self) -> Allocation:
        r = self.row
        return allocation_type(r.penalty, r.fee, r.interest, r.principal, r.overpayment, r.currency)

    @strawberry.field(description="Details the servicing engine recorded (e.g. a close of business's accruals), as JSON.")
    def details(self) -> JSON | None:
        return None if self.row.details is None else json.loads(self.row.details)

    @strawberry.field
    async def journal_entry(self, info: Info) -> JournalEntry | None:
        if self.row.journal_entry_id is None:
            return None
        entry = await info.context.session.loaders.entry.load(self.row.journal_entry_id)
        return None if entry is None else JournalEntry(entry=entry)

    @strawberry.field(description="The transaction this one reverses, if it is a reversal.")
    async def reverses(self, info: Info) -> LoanTransaction | None:
        if self.row.reverses_transaction_id is None:
            return None
        original = await info.context.session.loaders.loan_transaction.load(self.row.reverses_transaction_id)
        return None if original is None else LoanTransaction(row=original)

    @strawberry.field(description="The reversal of this transaction, if it has been reversed.")
    async def reversed_by(self, info: Info) -> LoanTransaction | None:
        reversal = await info.context.session.loaders.loan_transaction_reversal.load(self.row.id)
        return None if reversal is None else LoanTransaction(row=reversal)

    @strawberry.field
    def actor(self) -> str:
        return self.row.actor

    @strawberry.field
    def idempotency_key(self) -> str | None:
        return self.row.idempotency_key

    @strawberry.field
    def recorded_at(self) -> dt.datetime:
        return utc(self.row.recorded_at)


@strawberry.type(description="A loan: its application, terms, servicing state, schedule and history.")
class Loan:
    row: strawberry.Private[sa.Row]

    @strawberry.field(description="Opaque id; pass it back as is.")
    def id(self) -> strawberry.ID:
        return encode_id("Loan", self.row.id)

    @strawberry.field
    def status(self) -> LoanStatusEnum:  # type: ignore[valid-type]
        return as_mirror(LoanStatusEnum, LoanStatus(self.row.status))

    @strawberry.field(description="The borrower, with sensitive fields masked (read `borrower(id)` to see them).")
    async def borrower(self, info: Info) -> Borrower:
        record = await info.context.session.loaders.borrower.load(self.row.borrower_id)
        assert record is not None, f"loan {self.row.id} has no borrower"
        return Borrower(record=record)

    @strawberry.field(description="The product version the loan is booked under.")
    async def product(self, info: Info) -> LoanProduct:
        record = await info.context.session.loaders.product.load((self.row.product_code, self.row.product_version))
        assert record is not None, f"loan {self.row.id} has no product"
        return LoanProduct(record=record)

    @strawberry.field
    def currency(self) -> str:
        return self.row.currency

    @strawberry.field(description="The principal applied for (and disbursed).")
    def principal(self) -> Money:
        return money_from_decimal(Decimal(self.row.principal_requested), self.row.currency)

    @strawberry.field(description='Nominal annual rate as a fraction: "0.12" is 12 %.')
    def annual_rate(self) -> Decimal:
        return Decimal(self.row.annual_rate)

    @strawberry.field(description="All-in annualised rate (IRR with fees) of the current schedule.")
    def annualized_rate(self) -> Decimal | None:
        return None if self.row.annualized_rate is None else Decimal(self.row.annualized_rate)

    @strawberry.field
    def term_periods(self) -> int:
        return self.row.term_periods

    @strawberry.field
    def expected_disbursement_date(self) -> dt.date:
        return self.row.expected_disbursement_date

    @strawberry.field
    def first_due_date(self) -> dt.date | None:
        return self.row.first_due_date

    @strawberry.field
    def disbursed_on(self) -> dt.date | None:
        return self.row.disbursed_on

    @strawberry.field
    def closed_on(self) -> dt.date | None:
        return self.row.closed_on

    @strawberry.field
    def submitted_by(self) -> str:
        return self.row.submitted_by

    @strawberry.field
    def decided_by(self) -> str | None:
        return self.row.decided_by

    @strawberry.field
    def decision_reason(self) -> str | None:
        return self.row.decision_reason

    @strawberry.field(description="The last business date closed for this loan (its disbursement date until the first close of business).")
    def business_date(self) -> dt.date | None:
        return self.row.last_cob_date

    @strawberry.field(description="Days since the oldest unpaid installment fell due, as of `businessDate`.")
    def days_past_due(self) -> int:
        return self.row.dpd

    @strawberry.field
    def bucket(self) -> BucketEnum:  # type: ignore[valid-type]
        return as_mirror(BucketEnum, Bucket(self.row.bucket))

    @strawberry.field(description="The bucket's short name: M0, M1, M2, M3, M3+.")
    def bucket_short_name(self) -> str:
        return bucket_short_names[Bucket(self.row.bucket)]

    @strawberry.field(name="class", description="Five-tier classification (五级分类).")
    def loan_class(self) -> LoanClassEnum:  # type: ignore[valid-type]
        return as_mirror(LoanClassEnum, LoanClass(self.row.loan_class))

    @strawberry.field(description="True while interest is suspended (past the product's non-accrual threshold).")
    def non_accrual(self) -> bool:
        return self.row.non_accrual

    @strawberry.field
    def balances(self) -> LoanBalances:
        return LoanBalances(row=self.row)

    @strawberry.field(description="Version of the current schedule: 1 at disbursement, +1 for each prepayment or restructure that re-schedules.")
    def schedule_version(self) -> int:
        return self.row.schedule_version

    @strawberry.field(description="Installments of the current schedule, or of an earlier `version` (kept readable after a re-schedule).")
    async def schedule(self, info: Info, version: int | None = None) -> list[Installment]:
        version = self.row.schedule_version if version is None else version
        if not 1 <= version <= self.row.schedule_version:
            return []
        rows = await info.context.session.loaders.installments.load((self.row.id, version))
        return [Installment(row=r, currency=self.row.currency, business_date=self.row.last_cob_date) for r in rows]

    @strawberry.field(description=f"The loan's most recently recorded transactions, newest first; `last` is at most {transactions_last_max}.")
    async def transactions(self, info: Info, last: int = 10) -> list[LoanTransaction]:
        if not 1 <= last <= transactions_last_max:
            raise BadUserInput(f"`last` must be between 1 and {transactions_last_max}, got {last}")
        rows = await info.context.session.loaders.loan_history.load((self.row.id, last))
        return [LoanTransaction(row=r) for r in rows]

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return utc(self.row.created_at)

    @strawberry.field
    def updated_at(self) -> dt.datetime:
        return utc(self.row.updated_at)

