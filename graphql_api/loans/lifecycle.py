"""Loan applications: submit, then approve / reject (an approver; never the submitter), or withdraw."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_id, input_key, input_reason
from graphql_api.loans.types import Loan, loan_type
from graphql_api.core.threads import write
from ledger import errors as ledger_errors
from loans import applications
from loans.queries import loan_row
from loans.state import LoanStatus


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


@strawberry.type(description="The new application, status APPLIED.")
class SubmitLoanApplicationPayload:
    loan: Loan
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this.")


@strawberry.type(description="The loan, status APPROVED: finance may disburse it.")
class ApproveLoanPayload:
    loan: Loan
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this.")


@strawberry.type(description="The loan, status REJECTED.")
class RejectLoanPayload:
    loan: Loan
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this.")


@strawberry.type(description="The loan, status WITHDRAWN.")
class WithdrawLoanApplicationPayload:
    loan: Loan
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this.")



submit_errors = (
    e.InvalidInputError, e.UnknownBorrowerError, e.UnknownProductError, e.OutsideProductRangeError, e.InvalidScheduleTermsError,
    e.InvalidAmountError, e.AmountTooPreciseError, e.AmountOutOfRangeError, e.IdempotencyConflictError,
    e.TransactionRetriesExhaustedError, e.GenericError,
)
decision_errors = (
    e.InvalidInputError, e.UnknownLoanError, e.IllegalTransitionError, e.MakerCheckerViolationError, e.IdempotencyConflictError,
    e.TransactionRetriesExhaustedError, e.GenericError,
)


SubmitLoanApplicationResult = e.result_union("SubmitLoanApplicationResult", SubmitLoanApplicationPayload, submit_errors)
ApproveLoanResult = e.result_union("ApproveLoanResult", ApproveLoanPayload, decision_errors)
RejectLoanResult = e.result_union("RejectLoanResult", RejectLoanPayload, decision_errors)
WithdrawLoanApplicationResult = e.result_union("WithdrawLoanApplicationResult", WithdrawLoanApplicationPayload, decision_errors)


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
        return loan_row(conn, actor.tenant_id, loan_id), replayed

    try:
        row, replayed = await write(ctx.engine, work)
    except ledger_errors.LedgerError as exc:
        return e.error_result(exc, decision_errors, ids={loan_id: "Loan"}, loan_id=loan_id_text)
    session.loaders.clear()
    return payload(loan=loan_type(row), replayed=replayed)


@strawberry.type
class ApplicationMutation:
    @strawberry.mutation(description="Apply for a loan under a product. Roles: ADMIN, LOAN_OFFICER.")
    async def submit_loan_application(
        self, info: Info, input: SubmitLoanApplicationInput  # noqa: A002
    ) -> SubmitLoanApplicationResult:  # type: ignore[valid-type]
        ctx = info.context
        session = await ctx.authorize("submitLoanApplication")
        try:
            borrower_id = input_id("Borrower", input.borrower_id, "borrowerId")
            key = input_key(input.idempotency_key)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor()
        request = {
            "borrower": str(borrower_id), "product": input.product_code, "principal": str(input.principal),
            "rate": str(input.annual_rate), "term": input.term_periods, "disbursement": input.disbursement_date.isoformat(),
            "first_due": None if input.first_due_date is None else input.first_due_date.isoformat(),
        }

        def command(conn) -> dict:  # noqa: ANN001
            loan_id = applications.submit_application(
                conn, actor, borrower_id=borrower_id, product_code=input.product_code, principal=input.principal,
                annual_rate=input.annual_rate, term_periods=input.term_periods, disbursement_date=input.disbursement_date,
                first_due_date=input.first_due_date,
            )
            return {"loan": str(loan_id)}

        def work(conn):  # noqa: ANN001, ANN202
            result, replayed = run_once(conn, actor, key, "submitLoanApplication", request, command)
            return loan_row(conn, actor.tenant_id, uuid.UUID(str(result["loan"]))), replayed

        try:
            row, replayed = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, submit_errors, ids={borrower_id: "Borrower"}, borrower_id=input.borrower_id)
        session.loaders.clear()
        return SubmitLoanApplicationPayload(loan=loan_type(row), replayed=replayed)

    @strawberry.mutation(description="Approve an application; never by its submitter (MAKER_CHECKER_VIOLATION). Roles: ADMIN, APPROVER.")
    async def approve_loan(self, info: Info, input: ApproveLoanInput) -> ApproveLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await decide(info, "approveLoan", input.loan_id, input.reason, input.idempotency_key, LoanStatus.APPROVED, ApproveLoanPayload)

    @strawberry.mutation(description="Reject an application or an approved, undisbursed loan. Roles: ADMIN, APPROVER.")
    async def reject_loan(self, info: Info, input: RejectLoanInput) -> RejectLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await decide(
            info, "rejectLoan", input.loan_id, input.reason, input.idempotency_key, LoanStatus.REJECTED, RejectLoanPayload, reason_required=True,
        )

    @strawberry.mutation(description="Withdraw an application (the borrower changed their mind). Roles: ADMIN, LOAN_OFFICER.")
    async def withdraw_loan_application(
        self, info: Info, input: WithdrawLoanApplicationInput  # noqa: A002
    ) -> WithdrawLoanApplicationResult:  # type: ignore[valid-type]
        return await decide(
            info, "withdrawLoanApplication", input.loan_id, input.reason, input.idempotency_key, LoanStatus.WITHDRAWN,
            WithdrawLoanApplicationPayload,
        )
