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
    audit,
    borrowers,
    close_of_business,
    journal,
    loan_lifecycle,
    loan_money,
    loan_products,
    loan_queries,
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

    @strawberry.field(description="The audit log, newest first, filtered by entity, action, actor and date (UTC). Roles: ADMIN, AUDITOR.")
    async def audit_events(
        self,
        info: Info,
        first: int = audit.audit_page_size_default,
        after: str | None = None,
        entity_id: Annotated[strawberry.ID | None, strawberry.argument(description="A loan, borrower or journal entry id.")] = None,
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
    @strawberry.mutation(description="Post a balanced manual journal entry. Roles: ADMIN, FINANCE.")
    async def post_journal_entry(self, info: Info, input: journal.PostJournalEntryInput) -> journal.PostJournalEntryResult:  # noqa: A002
        return await journal.post_journal_entry(info, input)

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

    @strawberry.mutation(description="Restructure a loan onto a new schedule (展期 / 分期重组). Roles: ADMIN, FINANCE.")
    async def restructure_loan(
        self, info: Info, input: loan_money.RestructureLoanInput  # noqa: A002
    ) -> loan_money.RestructureLoanResult:  # type: ignore[valid-type]
        return await loan_money.restructure_loan(info, input)

    @strawberry.mutation(description="Close a business date for every active loan: accrue, age, penalise, classify, provision. Roles: ADMIN, FINANCE.")
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
