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
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from graphql_api import journal, schedule_preview
from graphql_api.error_types import all_error_types
from graphql_api.errors import MaskUnexpectedErrors, should_mask_error
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


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Post a balanced manual journal entry. Roles: ADMIN, FINANCE.")
    async def post_journal_entry(self, info: Info, input: journal.PostJournalEntryInput) -> journal.PostJournalEntryResult:  # noqa: A002
        return await journal.post_journal_entry(info, input)

    @strawberry.mutation(description="Post the exact mirror of an entry, linked to it; an entry is reversed once. Roles: ADMIN, FINANCE.")
    async def reverse_journal_entry(self, info: Info, input: journal.ReverseJournalEntryInput) -> journal.ReverseJournalEntryResult:  # noqa: A002
        return await journal.reverse_journal_entry(info, input)


class LoanbookSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are the client's business; only what gets masked deserves a traceback in our log.
        for error in errors:
            if should_mask_error(error):
                log.error("unexpected error in GraphQL operation", exc_info=error.original_error or error)
            else:
                log.debug("GraphQL client error: %s", error.message)


schema = LoanbookSchema(
    query=Query,
    mutation=Mutation,
    types=list(all_error_types),
    config=StrawberryConfig(scalar_map={Decimal: DecimalScalar}),
    extensions=[
        lambda: QueryDepthLimiter(max_depth=query_depth_max),
        lambda: MaxAliasesLimiter(max_alias_count=aliases_max),
        lambda: MaxTokensLimiter(max_token_count=tokens_max),
        MaskUnexpectedErrors,
    ],
)
