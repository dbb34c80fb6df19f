"""The loanbook GraphQL schema: root fields, limits and error masking.

`schema` is built at import (no engine, no settings: those arrive in the request context), so
`python -m graphql_api.print_schema` and the SDL freshness test need no database.
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from importlib import metadata as package_metadata
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from graphql_api import (
    administration,
    audit,
    borrowers,
    close_of_business,
    journal,
    journal_requests,
    loan_lifecycle,
    loan_money,
    loan_products,
    loan_queries,
    policy,
    receipts,
    schedule_preview,
)
from graphql_api.error_types import all_error_types
from graphql_api.borrowers import Borrower
from graphql_api.loan_products import LoanProduct
from graphql_api.loan_types import Loan, LoanStatusEnum
from graphql_api.documents import ReuseValidatedDocuments
from graphql_api.errors import MaskUnexpectedErrors, RefuseNulCharacters, should_mask_error
from graphql_api.execution import PlainFieldExecutor
from graphql_api.scalars import DecimalScalar
from graphql_api.threads import read
from graphql_api.types import Account, Connection, Health, JournalEntry, Me, TrialBalance

log = logging.getLogger("loanbook.graphql")

# The deepest legitimate query (entries > edges > node > postings > account > balances > balance > amount)
# is 8 levels; beyond 12 is a query built to hurt.
query_depth_max = 12
aliases_max = 30
tokens_max = 3000


def database_reachable(conn) -> bool:
    return conn.exec_driver_sql("SELECT 1").scalar() == 1


def package_version() -> str:
    try:
        return package_metadata.version("loanbook")
    except package_metadata.PackageNotFoundError:
        return "unknown"


@strawberry.type
class Query:
    @strawberry.field(description="Liveness and database reachability; needs no token.")
    async def health(self, info: Info) -> Health:
        try:
            ok = await read(info.context.engine, database_reachable)
        except Exception:  # an outage is a health answer, not an error
            log.exception("health check could not reach the database")
            ok = False
        return Health(status="ok" if ok else "unavailable", database="ok" if ok else "unreachable", version=package_version())

    @strawberry.field(description="The caller: tenant, role, actor name and permitted operations.")
    async def me(self, info: Info) -> Me:
        session = await info.context.authorize("me")
        return Me(principal=session.principal)

    @strawberry.field(description="The chart of accounts, ordered by code.")
    async def accounts(
        self, info: Info, first: int = journal.accounts_page_size_default, after: str | None = None
    ) -> Connection[Account]:
        return await journal.accounts(info, first, after)

    @strawberry.field(description="One account by code; null if your chart has no such account.")
    async def account(self, info: Info, code: str) -> Account | None:
        return await journal.account(info, code)

    @strawberry.field(description="Balances of every account per currency; current, or as of a business date.")
    async def trial_balance(self, info: Info, as_of: dt.date | None = None) -> TrialBalance:
        return await journal.trial_balance_as_of(info, as_of)

    @strawberry.field(description="Journal entries, newest recorded first. `first` is at most 100.")
    async def journal_entries(
        self,
        info: Info,
        first: int = journal.entries_page_size_default,
        after: str | None = None,
        account_code: Annotated[str | None, strawberry.argument(description="Only entries with a posting to this account.")] = None,
        date_from: Annotated[dt.date | None, strawberry.argument(description="Effective on or after.")] = None,
        date_to: Annotated[dt.date | None, strawberry.argument(description="Effective on or before.")] = None,
    ) -> Connection[JournalEntry]:
        return await journal.journal_entries(info, first, after, account_code, date_from, date_to)

    @strawberry.field(description="One journal entry by id; null if your books have no such entry.")
    async def journal_entry(self, info: Info, id: strawberry.ID) -> JournalEntry | None:  # noqa: A002
        return await journal.journal_entry(info, id)

    @strawberry.field(
        description="Manual journal entry requests (maker-checker), newest first; `status: PENDING` is the checkers' queue. "
        "`first` is at most 100. Roles: ADMIN, FINANCE, AUDITOR."
    )
    async def journal_entry_requests(
        self,
        info: Info,
        status: journal_requests.JournalEntryRequestStatus | None = None,  # type: ignore[valid-type]
        first: int = journal_requests.requests_page_size_default,
        after: str | None = None,
    ) -> Connection[journal_requests.JournalEntryRequest]:
        wanted = None if status is None else journal_requests.RequestStatus[status.name]
        return await journal_requests.journal_entry_requests(info, wanted, first, after)

    @strawberry.field(description="One manual journal entry request; null if your books have none with this id. Roles: ADMIN, FINANCE, AUDITOR.")
    async def journal_entry_request(self, info: Info, id: strawberry.ID) -> journal_requests.JournalEntryRequest | None:  # noqa: A002
        return await journal_requests.journal_entry_request(info, id)

    @strawberry.field(description="An amortization schedule for proposed terms, with the all-in annualised rate. Nothing is stored.")
    async def preview_schedule(self, info: Info, input: schedule_preview.ScheduleInput) -> schedule_preview.Schedule:  # noqa: A002
        return await schedule_preview.preview_schedule(info, input)

    @strawberry.field(description="Borrowers, newest first; sensitive fields always masked here. `first` is at most 100.")
    async def borrowers(
        self,
        info: Info,
        first: int = borrowers.borrowers_page_size_default,
        after: str | None = None,
        national_id: Annotated[str | None, strawberry.argument(description="Exact match (spaces and case ignored).")] = None,
    ) -> Connection[Borrower]:
        return await borrowers.borrowers(info, first, after, national_id)

    @strawberry.field(
        description="One borrower; null if your books have none with this id. Roles ADMIN, LOAN_OFFICER and COLLECTOR see "
        "national ID, phone and bank account unmasked (unless `masked`), and each such read is written to the audit log."
    )
    async def borrower(
        self,
        info: Info,
        id: strawberry.ID,  # noqa: A002
        masked: Annotated[bool, strawberry.argument(description="Ask for masked values even if your role may see them.")] = False,
        reason: Annotated[str | None, strawberry.argument(description="Why you need the unmasked values; kept in the audit log.")] = None,
    ) -> Borrower | None:
        return await borrowers.borrower(info, id, masked, reason)

    @strawberry.field(description="Loan products by code; each code's latest version unless `allVersions`.")
    async def loan_products(
        self,
        info: Info,
        first: int = loan_products.products_page_size_default,
        after: str | None = None,
        code: str | None = None,
        all_versions: bool = False,
    ) -> Connection[LoanProduct]:
        return await loan_products.loan_products(info, first, after, code, all_versions)

    @strawberry.field(description="One product by code: its latest version, or `version`.")
    async def loan_product(self, info: Info, code: str, version: int | None = None) -> LoanProduct | None:
        return await loan_products.loan_product(info, code, version)

    @strawberry.field(description="Loans, newest application first. `first` is at most 100.")
    async def loans(
        self,
        info: Info,
        status: LoanStatusEnum | None = None,  # type: ignore[valid-type]
        borrower_id: strawberry.ID | None = None,
        first: int = loan_queries.loans_page_size_default,
        after: str | None = None,
    ) -> Connection[Loan]:
        return await loan_queries.loans(info, status, borrower_id, first, after)

    @strawberry.field(description="One loan with its schedule, balances and transactions; null if your books have no such loan.")
    async def loan(self, info: Info, id: strawberry.ID) -> Loan | None:  # noqa: A002
        return await loan_queries.loan(info, id)

    @strawberry.field(description="A loan's statement as of a date: each installment paid, outstanding or overdue, and its history.")
    async def loan_statement(self, info: Info, loan_id: strawberry.ID, as_of: dt.date) -> loan_queries.LoanStatement | None:
        return await loan_queries.loan_statement(info, loan_id, as_of)

    @strawberry.field(description="What settles a loan on a date (at most its open business date). Nothing is written.")
    async def payoff_quote(self, info: Info, loan_id: strawberry.ID, date: dt.date) -> loan_queries.PayoffQuoteResult:
        return await loan_queries.payoff_quote(info, loan_id, date)

    @strawberry.field(description="The schedule a restructure would give. Nothing is written.")
    async def restructure_preview(
        self, info: Info, input: loan_queries.RestructurePreviewInput  # noqa: A002
    ) -> loan_queries.RestructurePreviewResult:
        return await loan_queries.restructure_preview(info, input)

    @strawberry.field(description="The active portfolio per currency as of a date: outstanding, PAR30/PAR90, buckets, classes, provisions.")
    async def portfolio(self, info: Info, as_of: dt.date) -> list[loan_queries.Portfolio]:
        return await loan_queries.portfolio(info, as_of)

    @strawberry.field(
        description="Unidentified receipts (money in suspense that names no loan), newest first; `status: UNAPPLIED` is the "
        "queue to apply. `first` is at most 100."
    )
    async def unidentified_receipts(
        self,
        info: Info,
        status: receipts.UnidentifiedReceiptStatus | None = None,  # type: ignore[valid-type]
        first: int = receipts.receipts_page_size_default,
        after: str | None = None,
    ) -> Connection[receipts.UnidentifiedReceipt]:
        wanted = None if status is None else receipts.ReceiptStatus[status.name]
        return await receipts.unidentified_receipts(info, wanted, first, after)

    @strawberry.field(description="One unidentified receipt; null if your books have none with this id.")
    async def unidentified_receipt(self, info: Info, id: strawberry.ID) -> receipts.UnidentifiedReceipt | None:  # noqa: A002
        return await receipts.unidentified_receipt(info, id)

    @strawberry.field(description="Your five-tier classification boundaries (days past due) and provision rates.")
    async def classification_policy(self, info: Info) -> policy.ClassificationPolicyType:
        return await policy.classification_policy(info)

    @strawberry.field(description="Your tenant's API tokens (never their secrets), oldest first; active ones unless `includeRevoked`. Roles: ADMIN.")
    async def api_tokens(
        self, info: Info, first: int = administration.tokens_page_size_default, after: str | None = None,
        include_revoked: bool = False,
    ) -> Connection[administration.ApiTokenType]:
        return await administration.api_tokens(info, first, after, include_revoked)

    @strawberry.field(description="One close of business run (a background job); null if your books have none with this id. Roles: ADMIN, FINANCE, AUDITOR.")
    async def close_of_business_run(self, info: Info, id: strawberry.ID) -> close_of_business.CloseOfBusinessRun | None:  # noqa: A002
        return await close_of_business.close_of_business_run(info, id)

    @strawberry.field(description="Close of business runs, newest requested first. `first` is at most 100. Roles: ADMIN, FINANCE, AUDITOR.")
    async def close_of_business_runs(
        self, info: Info, first: int = close_of_business.runs_page_size_default, after: str | None = None
    ) -> Connection[close_of_business.CloseOfBusinessRun]:
        return await close_of_business.close_of_business_runs(info, first, after)

    @strawberry.field(description="The audit log, newest first, filtered by entity, action, actor and date (UTC). Roles: ADMIN, AUDITOR.")
    async def audit_events(
        self,
        info: Info,
        first: int = audit.audit_page_size_default,
        after: str | None = None,
        entity_id: Annotated[strawberry.ID | None, strawberry.argument(description="A loan, borrower, journal entry or journal entry request id.")] = None,
        entity_type: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> Connection[audit.AuditEvent]:
        return await audit.audit_events(info, first, after, entity_id, entity_type, action, actor, date_from, date_to)

    @strawberry.field(
        description="Recompute your books from stored rows: audit hash chain, entries, balances, loan sub-ledger = GL. Roles: ADMIN, AUDITOR."
    )
    async def verify_audit(self, info: Info) -> audit.AuditVerification:
        return await audit.verify_audit(info)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Submit a balanced manual journal entry for a second person's check (maker-checker): it is validated now "
        "and posts when approved with approveJournalEntry. Roles: ADMIN, FINANCE."
    )
    async def post_journal_entry(self, info: Info, input: journal.PostJournalEntryInput) -> journal.PostJournalEntryResult:  # noqa: A002
        return await journal.post_journal_entry(info, input)

    @strawberry.mutation(
        description="Approve a pending manual entry and post it; never by its maker (MAKER_CHECKER_VIOLATION). Roles: ADMIN, FINANCE."
    )
    async def approve_journal_entry(
        self, info: Info, input: journal_requests.ApproveJournalEntryInput  # noqa: A002
    ) -> journal_requests.ApproveJournalEntryResult:
        return await journal_requests.approve_journal_entry(info, input)

    @strawberry.mutation(description="Reject a pending manual entry with a reason; never by its maker. Roles: ADMIN, FINANCE.")
    async def reject_journal_entry(
        self, info: Info, input: journal_requests.RejectJournalEntryInput  # noqa: A002
    ) -> journal_requests.RejectJournalEntryResult:
        return await journal_requests.reject_journal_entry(info, input)

    @strawberry.mutation(description="Withdraw your own pending manual entry; only its maker may. Roles: ADMIN, FINANCE.")
    async def cancel_journal_entry(
        self, info: Info, input: journal_requests.CancelJournalEntryInput  # noqa: A002
    ) -> journal_requests.CancelJournalEntryResult:
        return await journal_requests.cancel_journal_entry(info, input)

    @strawberry.mutation(description="Post the exact mirror of an entry, linked to it; an entry is reversed once. Roles: ADMIN, FINANCE.")
    async def reverse_journal_entry(self, info: Info, input: journal.ReverseJournalEntryInput) -> journal.ReverseJournalEntryResult:  # noqa: A002
        return await journal.reverse_journal_entry(info, input)

    @strawberry.mutation(description="A borrower; sensitive fields are encrypted at rest. Roles: ADMIN, LOAN_OFFICER.")
    async def create_borrower(self, info: Info, input: borrowers.CreateBorrowerInput) -> borrowers.CreateBorrowerResult:  # noqa: A002
        return await borrowers.create_borrower(info, input)

    @strawberry.mutation(description="A loan product, or the next version of a code. Roles: ADMIN, FINANCE.")
    async def create_loan_product(
        self, info: Info, input: loan_products.CreateLoanProductInput  # noqa: A002
    ) -> loan_products.CreateLoanProductResult:
        return await loan_products.create_loan_product(info, input)

    @strawberry.mutation(description="Apply for a loan under a product. Roles: ADMIN, LOAN_OFFICER.")
    async def submit_loan_application(
        self, info: Info, input: loan_lifecycle.SubmitLoanApplicationInput  # noqa: A002
    ) -> loan_lifecycle.SubmitLoanApplicationResult:  # type: ignore[valid-type]
        return await loan_lifecycle.submit_loan_application(info, input)

    @strawberry.mutation(description="Approve an application; never by its submitter (MAKER_CHECKER_VIOLATION). Roles: ADMIN, APPROVER.")
    async def approve_loan(self, info: Info, input: loan_lifecycle.ApproveLoanInput) -> loan_lifecycle.ApproveLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_lifecycle.approve_loan(info, input)

    @strawberry.mutation(description="Reject an application or an approved, undisbursed loan. Roles: ADMIN, APPROVER.")
    async def reject_loan(self, info: Info, input: loan_lifecycle.RejectLoanInput) -> loan_lifecycle.RejectLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_lifecycle.reject_loan(info, input)

    @strawberry.mutation(description="Withdraw an application (the borrower changed their mind). Roles: ADMIN, LOAN_OFFICER.")
    async def withdraw_loan_application(
        self, info: Info, input: loan_lifecycle.WithdrawLoanApplicationInput  # noqa: A002
    ) -> loan_lifecycle.WithdrawLoanApplicationResult:  # type: ignore[valid-type]
        return await loan_lifecycle.withdraw_loan_application(info, input)

    @strawberry.mutation(description="Disburse an approved loan: Dr loans receivable, Cr bank (and fee income). Roles: ADMIN, FINANCE.")
    async def disburse_loan(self, info: Info, input: loan_money.DisburseLoanInput) -> loan_money.DisburseLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.disburse_loan(info, input)

    @strawberry.mutation(description="Record a repayment, allocated by the product's waterfall. Roles: ADMIN, FINANCE, COLLECTOR.")
    async def record_repayment(self, info: Info, input: loan_money.RecordRepaymentInput) -> loan_money.RecordRepaymentResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.record_repayment(info, input)

    @strawberry.mutation(description="Reverse a repayment (a bounced payment) or another reversible transaction. Roles: ADMIN, FINANCE.")
    async def reverse_repayment(
        self, info: Info, input: loan_money.ReverseRepaymentInput  # noqa: A002
    ) -> loan_money.ReverseRepaymentResult:  # type: ignore[valid-type]
        return await loan_money.reverse_repayment(info, input)

    @strawberry.mutation(description="Settle the whole loan (see payoffQuote). Roles: ADMIN, FINANCE.")
    async def pay_off_loan(self, info: Info, input: loan_money.PayOffLoanInput) -> loan_money.PayOffLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.pay_off_loan(info, input)

    @strawberry.mutation(description="A partial prepayment that re-schedules the loan. Roles: ADMIN, FINANCE.")
    async def prepay_loan(self, info: Info, input: loan_money.PrepayLoanInput) -> loan_money.PrepayLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.prepay_loan(info, input)

    @strawberry.mutation(description="Charge a fee to a loan. Roles: ADMIN, FINANCE.")
    async def charge_fee(self, info: Info, input: loan_money.ChargeFeeInput) -> loan_money.ChargeFeeResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.charge_fee(info, input)

    @strawberry.mutation(description="Waive fees or penalties owed. Roles: ADMIN, FINANCE.")
    async def waive_fee(self, info: Info, input: loan_money.WaiveFeeInput) -> loan_money.WaiveFeeResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.waive_fee(info, input)

    @strawberry.mutation(description="Write off a loan's principal, fully or in part. Roles: ADMIN, FINANCE.")
    async def write_off_loan(self, info: Info, input: loan_money.WriteOffLoanInput) -> loan_money.WriteOffLoanResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.write_off_loan(info, input)

    @strawberry.mutation(description="Record cash recovered after a write-off. Roles: ADMIN, FINANCE, COLLECTOR.")
    async def record_recovery(self, info: Info, input: loan_money.RecordRecoveryInput) -> loan_money.RecordRecoveryResult:  # type: ignore[valid-type]  # noqa: A002
        return await loan_money.record_recovery(info, input)

    @strawberry.mutation(
        description="Book money that names no loan into suspense (Dr bank, Cr suspense) until it is applied. Roles: ADMIN, FINANCE."
    )
    async def receive_unidentified_receipt(
        self, info: Info, input: receipts.ReceiveUnidentifiedReceiptInput  # noqa: A002
    ) -> receipts.ReceiveUnidentifiedReceiptResult:  # type: ignore[valid-type]
        return await receipts.receive_unidentified_receipt(info, input)

    @strawberry.mutation(
        description="Apply an unidentified receipt to a loan as a repayment out of suspense; reverseRepayment undoes it and "
        "returns the money to suspense. Roles: ADMIN, FINANCE."
    )
    async def apply_unidentified_receipt(
        self, info: Info, input: receipts.ApplyUnidentifiedReceiptInput  # noqa: A002
    ) -> receipts.ApplyUnidentifiedReceiptResult:  # type: ignore[valid-type]
        return await receipts.apply_unidentified_receipt(info, input)

    @strawberry.mutation(
        description="Change the five-tier classification boundaries and provision rates, from the next close of business. "
        "Roles: ADMIN, FINANCE."
    )
    async def set_classification_policy(
        self, info: Info, input: policy.SetClassificationPolicyInput  # noqa: A002
    ) -> policy.SetClassificationPolicyResult:  # type: ignore[valid-type]
        return await policy.set_classification_policy(info, input)

    @strawberry.mutation(description="Open an account in your chart of accounts. Roles: ADMIN, FINANCE.")
    async def open_account(self, info: Info, input: administration.OpenAccountInput) -> administration.OpenAccountResult:  # type: ignore[valid-type]  # noqa: A002
        return await administration.open_account(info, input)

    @strawberry.mutation(description="Close an account whose balance is zero in every currency. Roles: ADMIN, FINANCE.")
    async def close_account(self, info: Info, input: administration.CloseAccountInput) -> administration.CloseAccountResult:  # type: ignore[valid-type]  # noqa: A002
        return await administration.close_account(info, input)

    @strawberry.mutation(description="Issue an API token for someone at your company; the secret is in the payload, once. Roles: ADMIN.")
    async def create_api_token(
        self, info: Info, input: administration.CreateApiTokenInput  # noqa: A002
    ) -> administration.CreateApiTokenResult:  # type: ignore[valid-type]
        return await administration.create_api_token(info, input)

    @strawberry.mutation(description="Revoke an API token; requests with it are refused from then on. Roles: ADMIN.")
    async def revoke_api_token(
        self, info: Info, input: administration.RevokeApiTokenInput  # noqa: A002
    ) -> administration.RevokeApiTokenResult:  # type: ignore[valid-type]
        return await administration.revoke_api_token(info, input)

    @strawberry.mutation(description="Restructure a loan onto a new schedule (展期 / 分期重组). Roles: ADMIN, FINANCE.")
    async def restructure_loan(
        self, info: Info, input: loan_money.RestructureLoanInput  # noqa: A002
    ) -> loan_money.RestructureLoanResult:  # type: ignore[valid-type]
        return await loan_money.restructure_loan(info, input)

    @strawberry.mutation(
        description="Close a business date for every active loan (accrue, age, penalise, classify, provision) as a background run. "
        "Answers when the run has finished unless `wait: false`, then at once with the run to poll. Roles: ADMIN, FINANCE."
    )
    async def run_close_of_business(
        self, info: Info, input: close_of_business.RunCloseOfBusinessInput  # noqa: A002
    ) -> close_of_business.RunCloseOfBusinessResult:
        return await close_of_business.run_close_of_business_mutation(info, input)


class LoanbookSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are the client's business; only what gets masked deserves a traceback in our log.
        for error in errors:
            if should_mask_error(error):
                log.error("unexpected error in GraphQL operation", exc_info=error.original_error or error)
            else:
                log.debug("GraphQL client error: %s", error.message)


# The rules of strawberry's QueryDepthLimiter and MaxAliasesLimiter, built once rather than once per request,
# so every request validates against the same rules (graphql_api.documents caches what passed them).
document_rules = (depth_rule(query_depth_max, None, None), aliases_rule(aliases_max), RefuseNulCharacters)

schema = LoanbookSchema(
    query=Query,
    mutation=Mutation,
    types=list(all_error_types),
    config=StrawberryConfig(scalar_map={Decimal: DecimalScalar}),
    execution_context_class=PlainFieldExecutor,
    extensions=[
        lambda: MaxTokensLimiter(max_token_count=tokens_max),
        lambda: AddValidationRules(list(document_rules)),
        ReuseValidatedDocuments,
        MaskUnexpectedErrors,
    ],
)
