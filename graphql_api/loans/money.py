"""Money mutations on a loan: each one loans.money command, one transaction, one journal entry.

Every payload implements `LoanMoneyPayload` (the loan after the command, the transaction it recorded,
the allocation and the journal entry), so a client can read any of them with one fragment. An
idempotency key is the service's own: a replay returns the original transaction (`replayed: true`).
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Callable
from decimal import Decimal

import sqlalchemy as sa
import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.inputs import RefusedInput, input_id, input_key, input_reason
from graphql_api.loans.products import PrepaymentModeEnum
from graphql_api.loans.types import Allocation, Loan, LoanTransaction, domain_allocation, loan_transaction_type, loan_type
from graphql_api.core.threads import write
from graphql_api.ledger.types import JournalEntry
from ledger import errors as ledger_errors
from ledger.actor import Actor
from loans import money
from loans.recording import MoneyResult


@strawberry.interface(description="What a money mutation did: the loan after it, the transaction it recorded, the journal entry it posted.")
class LoanMoneyPayload:
    loan: Loan
    transaction: LoanTransaction
    allocation: Allocation = strawberry.field(description="How the amount was applied (for a disbursement: principal financed and fee).")
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this; nothing new was written.")
    journal_entry_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Null when the command moved no money in the books (e.g. a reversal that changed nothing).")
    async def journal_entry(self, info: Info) -> JournalEntry | None:
        if self.journal_entry_id is None:
            return None
        entry = await info.context.session.loaders.entry.load(self.journal_entry_id)
        return None if entry is None else JournalEntry(entry=entry)


@strawberry.type(description="The reversing transaction, and the one it reversed.")
class ReverseRepaymentPayload(LoanMoneyPayload):
    @strawberry.field
    async def reversed_transaction(self, info: Info) -> LoanTransaction:
        original = await info.context.session.loaders.loan_transaction.load(self.transaction.row.reverses_transaction_id)
        assert original is not None, "a reversal points at a transaction of the same loan"
        return loan_transaction_type(original)


@strawberry.type(description="The loan is ACTIVE; its schedule starts from the disbursement date.")
class DisburseLoanPayload(LoanMoneyPayload):
    pass


@strawberry.type(description="The repayment, allocated by the product's waterfall.")
class RecordRepaymentPayload(LoanMoneyPayload):
    pass


@strawberry.type(description="The loan is PAID_OFF; cash beyond the quote stays as the borrower's credit.")
class PayOffLoanPayload(LoanMoneyPayload):
    pass


@strawberry.type(description="What was due is settled, principal reduced and the rest re-scheduled (a new schedule version).")
class PrepayLoanPayload(LoanMoneyPayload):
    pass


@strawberry.type(description="The fee is receivable.")
class ChargeFeePayload(LoanMoneyPayload):
    pass


@strawberry.type(description="The fee or penalty is waived.")
class WaiveFeePayload(LoanMoneyPayload):
    pass


@strawberry.type(description="Written off against the allowance (and expense beyond it); the allocation lists each receivable "
                 "written off and the transaction's details add the suspended interest and penalties.")
class WriteOffLoanPayload(LoanMoneyPayload):
    pass


@strawberry.type(description="Cash recovered on a written-off loan, allocated to what was written off (principal first).")
class RecordRecoveryPayload(LoanMoneyPayload):
    pass


@strawberry.type(description="A new schedule from the outstanding balance; the old one stays readable.")
class RestructureLoanPayload(LoanMoneyPayload):
    pass



_common_errors = (
    e.InvalidInputError, e.UnknownLoanError, e.IllegalTransitionError, e.LoanClosedError, e.DateBeforeDisbursementError,
    e.DateAfterBusinessDateError, e.ReplayConflictError, e.AccountClosedError, e.CurrencyNotAllowedError,
    e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.HeaderAccountError,
)
_amount_errors = (e.WrongCurrencyError, e.AmountNotPositiveError, e.InvalidAmountError, e.AmountTooPreciseError, e.AmountOutOfRangeError)
money_errors = (*_common_errors, *_amount_errors, e.GenericError)
disburse_errors = (*_common_errors, e.OutsideProductRangeError, e.InvalidScheduleTermsError, e.GenericError)
waive_errors = (*_common_errors, *_amount_errors, e.NothingToWaiveError, e.GenericError)
recovery_errors = (*_common_errors, *_amount_errors, e.RecoveryExceedsWrittenOffError, e.GenericError)
reverse_errors = (*_common_errors, e.UnknownTransactionError, e.AlreadyReversedError, e.GenericError)
prepay_errors = (*_common_errors, *_amount_errors, e.RestructureNotAllowedError, e.GenericError)
restructure_errors = (
    *_common_errors, e.RestructureNotAllowedError, e.InvalidScheduleTermsError, e.InvalidAmountError, e.OutsideProductRangeError,
    e.GenericError,
)

DisburseLoanResult = e.result_union("DisburseLoanResult", DisburseLoanPayload, disburse_errors)
RecordRepaymentResult = e.result_union("RecordRepaymentResult", RecordRepaymentPayload, money_errors)
PayOffLoanResult = e.result_union("PayOffLoanResult", PayOffLoanPayload, money_errors)
PrepayLoanResult = e.result_union("PrepayLoanResult", PrepayLoanPayload, prepay_errors)
ChargeFeeResult = e.result_union("ChargeFeeResult", ChargeFeePayload, money_errors)
WaiveFeeResult = e.result_union("WaiveFeeResult", WaiveFeePayload, waive_errors)
WriteOffLoanResult = e.result_union("WriteOffLoanResult", WriteOffLoanPayload, money_errors)
RecordRecoveryResult = e.result_union("RecordRecoveryResult", RecordRecoveryPayload, recovery_errors)
ReverseRepaymentResult = e.result_union("ReverseRepaymentResult", ReverseRepaymentPayload, reverse_errors)
RestructureLoanResult = e.result_union("RestructureLoanResult", RestructureLoanPayload, restructure_errors)


@strawberry.enum(description="What a waiver forgives.")
class WaiverKind(enum.Enum):
    FEE = "FEE"
    PENALTY = "PENALTY"


def _loan_id() -> strawberry.ID:
    return strawberry.field(description="The loan's opaque id.")


def _day() -> dt.date:
    return strawberry.field(
        description="Business date: at most the loan's open business date (its last closed date + 1); an earlier date replays the loan."
    )


def _key() -> str | None:
    return strawberry.field(default=None, description="Replaying the same key with the same input returns the original transaction.")


@strawberry.input
class DisburseLoanInput:
    loan_id: strawberry.ID = _loan_id()
    effective_date: dt.date = strawberry.field(description="The disbursement date; the schedule is built from it.")
    idempotency_key: str | None = _key()


@strawberry.input(description="Money received from the borrower, allocated by the product's waterfall.")
class RecordRepaymentInput:
    loan_id: strawberry.ID = _loan_id()
    amount: Decimal = strawberry.field(description='Positive decimal string, e.g. "888.49".')
    currency: str = strawberry.field(description="Must be the loan's currency.")
    effective_date: dt.date = _day()
    idempotency_key: str | None = _key()


@strawberry.input(description="Settle the whole loan; see payoffQuote for the amount on a date.")
class PayOffLoanInput:
    loan_id: strawberry.ID = _loan_id()
    amount: Decimal
    currency: str
    effective_date: dt.date = _day()
    idempotency_key: str | None = _key()


@strawberry.input(description="A partial prepayment: what is due is paid first, the rest reduces principal and the loan is re-scheduled.")
class PrepayLoanInput:
    loan_id: strawberry.ID = _loan_id()
    amount: Decimal
    currency: str
    effective_date: dt.date = strawberry.field(description="The loan's open business date (prepayments are not backdated).")
    mode: PrepaymentModeEnum | None = strawberry.field(default=None, description="Default: the product's prepaymentMode.")  # type: ignore[valid-type]
    idempotency_key: str | None = _key()


@strawberry.input
class ChargeFeeInput:
    loan_id: strawberry.ID = _loan_id()
    amount: Decimal
    currency: str
    effective_date: dt.date = _day()
    reason: str | None = strawberry.field(default=None, description="What the fee is for; kept in the audit trail.")
    idempotency_key: str | None = _key()


@strawberry.input
class WaiveFeeInput:
    loan_id: strawberry.ID = _loan_id()
    amount: Decimal
    currency: str
    effective_date: dt.date = _day()
    reason: str = strawberry.field(description="Why; kept in the audit trail.")
    kind: WaiverKind = WaiverKind.FEE
    idempotency_key: str | None = _key()


@strawberry.input(description="Write off principal: all of it (omit amount) or part.")
class WriteOffLoanInput:
    loan_id: strawberry.ID = _loan_id()
    effective_date: dt.date = _day()
    reason: str = strawberry.field(description="Why; kept in the audit trail.")
    amount: Decimal | None = None
    currency: str | None = None
    idempotency_key: str | None = _key()


@strawberry.input(description="Cash received on a written-off loan: at most what was written off and not yet recovered.")
class RecordRecoveryInput:
    loan_id: strawberry.ID = _loan_id()
    amount: Decimal
    currency: str
    effective_date: dt.date
    idempotency_key: str | None = _key()


@strawberry.input(description="Undo a repayment (a bounced payment) or another reversible transaction; the loan is replayed without it.")
class ReverseRepaymentInput:
    loan_id: strawberry.ID = _loan_id()
    transaction_id: strawberry.ID
    effective_date: dt.date = strawberry.field(description="Business date of the reversal; not before the transaction it reverses.")
    reason: str = strawberry.field(description="Why; kept in the audit trail.")
    idempotency_key: str | None = _key()


@strawberry.input(description="展期 / 分期重组: a new schedule from the outstanding balance. Try it first with restructurePreview.")
class RestructureLoanInput:
    loan_id: strawberry.ID = _loan_id()
    effective_date: dt.date = strawberry.field(description="The loan's open business date.")
    reason: str = strawberry.field(description="Why; kept in the audit trail.")
    annual_rate: Decimal | None = None
    term_periods: int | None = None
    capitalise_arrears: bool = True
    idempotency_key: str | None = _key()


Command = Callable[[sa.Connection, Actor, uuid.UUID, "str | None"], MoneyResult]


async def run_money_command(
    info: Info, operation: str, loan_id_text: strawberry.ID, key_text: str | None, command: Command, payload: type,
    errors: tuple[type, ...], *, reason: str | None = None, reason_required: bool = False,
    ids: dict[uuid.UUID, str] | None = None, known: dict[str, object] | None = None,
) -> object:
    """Authorise, check the input, run `command(conn, actor, loan_id, key)` in one transaction, map the outcome."""
    ctx = info.context
    session = await ctx.authorize(operation)
    try:
        loan_id = input_id("Loan", loan_id_text, "loanId")
        key = input_key(key_text)
        actor = ctx.actor(reason=input_reason(reason, required=reason_required))
    except RefusedInput as refused:
        return refused.result

    try:
        result = await write(ctx.engine, lambda conn: command(conn, actor, loan_id, key))
    except ledger_errors.LedgerError as exc:
        return e.error_result(
            exc, errors, ids={loan_id: "Loan", **(ids or {})}, id_kind="LoanTransaction", fields={"date": "effectiveDate"},
            **{"loan_id": loan_id_text, **(known or {})},
        )
    session.loaders.clear()
    # The command hands back the loan and transaction rows as it left them: nothing to read again.
    return payload(
        loan=loan_type(result.loan), transaction=loan_transaction_type(result.transaction),
        allocation=domain_allocation(result.allocation, result.loan.currency),
        replayed=result.replayed, journal_entry_id=result.journal_entry_id,
    )


@strawberry.type
class MoneyMutation:
    @strawberry.mutation(description="Disburse an approved loan: Dr loans receivable, Cr bank (and fee income). Roles: ADMIN, FINANCE.")
    async def disburse_loan(self, info: Info, input: DisburseLoanInput) -> DisburseLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await run_money_command(
            info, "disburseLoan", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.disburse_loan(conn, actor, loan_id, input.effective_date, key),
            DisburseLoanPayload, disburse_errors,
        )

    @strawberry.mutation(description="Record a repayment, allocated by the product's waterfall. Roles: ADMIN, FINANCE, COLLECTOR.")
    async def record_repayment(self, info: Info, input: RecordRepaymentInput) -> RecordRepaymentResult:  # type: ignore[valid-type]  # noqa: A002
        return await run_money_command(
            info, "recordRepayment", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.record_repayment(conn, actor, loan_id, input.amount, input.currency, input.effective_date, key),
            RecordRepaymentPayload, money_errors,
        )

    @strawberry.mutation(description="Reverse a repayment (a bounced payment) or another reversible transaction. Roles: ADMIN, FINANCE.")
    async def reverse_repayment(
        self, info: Info, input: ReverseRepaymentInput  # noqa: A002
    ) -> ReverseRepaymentResult:  # type: ignore[valid-type]
        try:
            transaction_id = input_id("LoanTransaction", input.transaction_id, "transactionId")
        except RefusedInput as refused:
            await info.context.authorize("reverseRepayment")
            return refused.result
        return await run_money_command(
            info, "reverseRepayment", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.reverse_transaction(conn, actor, loan_id, transaction_id, input.effective_date, key),
            ReverseRepaymentPayload, reverse_errors, reason=input.reason, reason_required=True,
            ids={transaction_id: "LoanTransaction"}, known={"transaction_id": input.transaction_id},
        )

    @strawberry.mutation(description="Settle the whole loan (see payoffQuote). Roles: ADMIN, FINANCE.")
    async def pay_off_loan(self, info: Info, input: PayOffLoanInput) -> PayOffLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await run_money_command(
            info, "payOffLoan", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.pay_off_loan(conn, actor, loan_id, input.amount, input.currency, input.effective_date, key),
            PayOffLoanPayload, money_errors,
        )

    @strawberry.mutation(description="A partial prepayment that re-schedules the loan. Roles: ADMIN, FINANCE.")
    async def prepay_loan(self, info: Info, input: PrepayLoanInput) -> PrepayLoanResult:  # type: ignore[valid-type]  # noqa: A002
        mode = None if input.mode is None else input.mode.name
        return await run_money_command(
            info, "prepayLoan", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.prepay_loan(
                conn, actor, loan_id, input.amount, input.currency, input.effective_date, mode=mode, idempotency_key=key,
            ),
            PrepayLoanPayload, prepay_errors,
        )

    @strawberry.mutation(description="Charge a fee to a loan. Roles: ADMIN, FINANCE.")
    async def charge_fee(self, info: Info, input: ChargeFeeInput) -> ChargeFeeResult:  # type: ignore[valid-type]  # noqa: A002
        return await run_money_command(
            info, "chargeFee", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.charge_fee(conn, actor, loan_id, input.amount, input.currency, input.effective_date, key),
            ChargeFeePayload, money_errors, reason=input.reason,
        )

    @strawberry.mutation(description="Waive fees or penalties owed. Roles: ADMIN, FINANCE.")
    async def waive_fee(self, info: Info, input: WaiveFeeInput) -> WaiveFeeResult:  # type: ignore[valid-type]  # noqa: A002
        return await run_money_command(
            info, "waiveFee", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.waive_charge(
                conn, actor, loan_id, input.kind.value, input.amount, input.currency, input.effective_date, key,
            ),
            WaiveFeePayload, waive_errors, reason=input.reason, reason_required=True,
        )

    @strawberry.mutation(description="Write off a loan's principal, fully or in part. Roles: ADMIN, FINANCE.")
    async def write_off_loan(self, info: Info, input: WriteOffLoanInput) -> WriteOffLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await run_money_command(
            info, "writeOffLoan", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.write_off_loan(
                conn, actor, loan_id, input.effective_date, input.amount, input.currency, idempotency_key=key,
            ),
            WriteOffLoanPayload, money_errors, reason=input.reason, reason_required=True,
        )

    @strawberry.mutation(description="Record cash recovered after a write-off. Roles: ADMIN, FINANCE, COLLECTOR.")
    async def record_recovery(self, info: Info, input: RecordRecoveryInput) -> RecordRecoveryResult:  # type: ignore[valid-type]  # noqa: A002
        return await run_money_command(
            info, "recordRecovery", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.record_recovery(conn, actor, loan_id, input.amount, input.currency, input.effective_date, key),
            RecordRecoveryPayload, recovery_errors,
        )

    @strawberry.mutation(description="Restructure a loan onto a new schedule (展期 / 分期重组). Roles: ADMIN, FINANCE.")
    async def restructure_loan(
        self, info: Info, input: RestructureLoanInput  # noqa: A002
    ) -> RestructureLoanResult:  # type: ignore[valid-type]
        return await run_money_command(
            info, "restructureLoan", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: money.restructure_loan(
                conn, actor, loan_id, input.effective_date, annual_rate=input.annual_rate, term_periods=input.term_periods,
                capitalise_arrears=input.capitalise_arrears, idempotency_key=key,
            ),
            RestructureLoanPayload, restructure_errors, reason=input.reason, reason_required=True,
        )
