"""Loan applications: submit, then approve / reject (an approver; never the submitter), or withdraw."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Union

import strawberry
from strawberry.types import Info

from graphql_api import error_types as e
from graphql_api.idempotency import run_once
from graphql_api.inputs import RefusedInput, input_id, input_key, input_reason
from graphql_api.loan_types import Loan, loan_type
from graphql_api.threads import write
from ledger import errors as ledger_errors
from loans import applications
from loans.state import LoanStatus
from loans.store.repository import load_loan


@strawberry.input(description="A loan application under a product; the product's ranges and schedule rules apply.")
class SubmitLoanApplicationInput:
    borrower_id: strawberry.ID
    product_code: str = strawberry.field(description="The product's latest version is used and kept by the loan.")
    principal: Decimal
    annual_rate: Decimal = strawberry.field(description='Nominal annual rate as a fraction: "0.12" is 12 %.')
    term_periods: int
    disbursement_date: dt.date = strawberry.field(description="Expected; the schedule is built from the actual date at disbursement.")
    first_due_date: dt.date | None = None
    idempotency_key: str | None = strawberry.field(default=None, description="Replaying the same key with the same input returns the same loan.")


@strawberry.input
class ApproveLoanInput:
    loan_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RejectLoanInput:
    loan_id: strawberry.ID
    reason: str = strawberry.field(description="Why; kept on the loan and in the audit trail.")
    idempotency_key: str | None = None


@strawberry.input
class WithdrawLoanApplicationInput:
    loan_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


def _payload(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class LoanPayload:
        loan: Loan
        replayed: bool = strawberry.field(description="True when the idempotency key had already done this.")

    LoanPayload.__name__ = LoanPayload.__qualname__ = name
    return LoanPayload


SubmitLoanApplicationPayload = _payload("SubmitLoanApplicationPayload", "The new application, status APPLIED.")
ApproveLoanPayload = _payload("ApproveLoanPayload", "The loan, status APPROVED: finance may disburse it.")
RejectLoanPayload = _payload("RejectLoanPayload", "The loan, status REJECTED.")
WithdrawLoanApplicationPayload = _payload("WithdrawLoanApplicationPayload", "The loan, status WITHDRAWN.")

submit_errors = (
    e.InvalidInputError, e.UnknownBorrowerError, e.UnknownProductError, e.OutsideProductRangeError, e.InvalidScheduleTermsError,
    e.InvalidAmountError, e.AmountTooPreciseError, e.AmountOutOfRangeError, e.IdempotencyConflictError,
    e.TransactionRetriesExhaustedError, e.GenericError,
)
decision_errors = (
    e.InvalidInputError, e.UnknownLoanError, e.IllegalTransitionError, e.MakerCheckerViolationError, e.IdempotencyConflictError,
    e.TransactionRetriesExhaustedError, e.GenericError,
)


def _result(name: str, payload: type, errors: tuple[type, ...]) -> object:
    return Annotated[Union[(payload, *errors)], strawberry.union(name)]  # noqa: UP007


SubmitLoanApplicationResult = _result("SubmitLoanApplicationResult", SubmitLoanApplicationPayload, submit_errors)
ApproveLoanResult = _result("ApproveLoanResult", ApproveLoanPayload, decision_errors)
RejectLoanResult = _result("RejectLoanResult", RejectLoanPayload, decision_errors)
WithdrawLoanApplicationResult = _result("WithdrawLoanApplicationResult", WithdrawLoanApplicationPayload, decision_errors)


async def submit_loan_application(info: Info, data: SubmitLoanApplicationInput) -> SubmitLoanApplicationResult:  # type: ignore[valid-type]
    ctx = info.context
    session = await ctx.authorize("submitLoanApplication")
    try:
        borrower_id = input_id("Borrower", data.borrower_id, "borrowerId")
        key = input_key(data.idempotency_key)
    except RefusedInput as refused:
        return refused.result
    actor = ctx.actor()
    request = {
        "borrower": str(borrower_id), "product": data.product_code, "principal": str(data.principal),
        "rate": str(data.annual_rate), "term": data.term_periods, "disbursement": data.disbursement_date.isoformat(),
        "first_due": None if data.first_due_date is None else data.first_due_date.isoformat(),
    }

    def command(conn) -> dict:  # noqa: ANN001
        loan_id = applications.submit_application(
            conn, actor, borrower_id=borrower_id, product_code=data.product_code, principal=data.principal,
            annual_rate=data.annual_rate, term_periods=data.term_periods, disbursement_date=data.disbursement_date,
            first_due_date=data.first_due_date,
        )
        return {"loan": str(loan_id)}

    def work(conn):  # noqa: ANN001, ANN202
        result, replayed = run_once(conn, actor, key, "submitLoanApplication", request, command)
        return load_loan(conn, actor.tenant_id, uuid.UUID(str(result["loan"])), lock=False), replayed

    try:
        row, replayed = await write(ctx.engine, work)
    except ledger_errors.LedgerError as exc:
        return e.error_result(exc, submit_errors, ids={borrower_id: "Borrower"}, borrower_id=data.borrower_id)
    session.loaders.clear()
    return SubmitLoanApplicationPayload(loan=loan_type(row), replayed=replayed)


async def decide(
    info: Info, operation: str, loan_id_text: strawberry.ID, reason_text: str | None, key_text: str | None,
    decision: LoanStatus, payload: type, *, reason_required: bool = False,
) -> object:
    ctx = info.context
    session = await ctx.authorize(operation)
    try:
        loan_id = input_id("Loan", loan_id_text, "loanId")
        reason = input_reason(reason_text, required=reason_required)
        key = input_key(key_text)
    except RefusedInput as refused:
        return refused.result
    actor = ctx.actor(reason=reason)
    request = {"loan": str(loan_id), "decision": decision.value, "reason": reason}

    def work(conn):  # noqa: ANN001, ANN202
        command = lambda c: {"status": applications.decide_application(c, actor, loan_id, decision, reason).value}  # noqa: E731
        _, replayed = run_once(conn, actor, key, operation, request, command)
        return load_loan(conn, actor.tenant_id, loan_id, lock=False), replayed

    try:
        row, replayed = await write(ctx.engine, work)
    except ledger_errors.LedgerError as exc:
        return e.error_result(exc, decision_errors, ids={loan_id: "Loan"}, loan_id=loan_id_text)
    session.loaders.clear()
    return payload(loan=loan_type(row), replayed=replayed)


async def approve_loan(info: Info, data: ApproveLoanInput) -> ApproveLoanResult:  # type: ignore[valid-type]
    return await decide(info, "approveLoan", data.loan_id, data.reason, data.idempotency_key, LoanStatus.APPROVED, ApproveLoanPayload)


async def reject_loan(info: Info, data: RejectLoanInput) -> RejectLoanResult:  # type: ignore[valid-type]
    return await decide(
        info, "rejectLoan", data.loan_id, data.reason, data.idempotency_key, LoanStatus.REJECTED, RejectLoanPayload, reason_required=True,
    )


async def withdraw_loan_application(info: Info, data: WithdrawLoanApplicationInput) -> WithdrawLoanApplicationResult:  # type: ignore[valid-type]
    return await decide(
        info, "withdrawLoanApplication", data.loan_id, data.reason, data.idempotency_key, LoanStatus.WITHDRAWN,
        WithdrawLoanApplicationPayload,
    )
