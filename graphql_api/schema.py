"""The loanbook GraphQL schema: the domains' root types merged into one Query and one Mutation, limits and error masking.

`schema` is built at import (no engine, no settings: those arrive in the request context), so
`python -m graphql_api.print_schema` and the SDL freshness test need no database.
"""
from __future__ import annotations

import logging
from decimal import Decimal

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql_api.core.documents import ReuseValidatedDocuments
from graphql_api.core.error_types import all_error_types
from graphql_api.core.errors import MaskUnexpectedErrors, RefuseNulCharacters, database_unavailable, should_mask_error
from graphql_api.core.execution import PlainFieldExecutor
from graphql_api.core.root import CoreQuery
from graphql_api.core.scalars import DecimalScalar
from graphql_api.core.strings import install_string_checks
from graphql_api.identity import IdentityMutation, IdentityQuery
from graphql_api.ledger import LedgerMutation, LedgerQuery
from graphql_api.loans import LoansMutation, LoansQuery
from graphql_api.reconciliation import ReconciliationMutation, ReconciliationQuery
from graphql_api.reports import ReportsQuery
from graphql_api.schedules import ScheduleQuery

log = logging.getLogger("loanbook.graphql")

# The deepest legitimate query (entries > edges > node > postings > account > balances > balance > amount)
# is 8 levels; beyond 12 is a query built to hurt.
query_depth_max = 12
aliases_max = 30
tokens_max = 3000


# Root fields appear in the SDL in this order: the domains' own, each in its modules' order.
@strawberry.type
class Query(CoreQuery, LedgerQuery, ScheduleQuery, LoansQuery, IdentityQuery, ReconciliationQuery, ReportsQuery):
    pass


@strawberry.type
class Mutation(LedgerMutation, LoansMutation, IdentityMutation, ReconciliationMutation):
    pass


class LoanbookSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are the client's business; only what gets masked deserves a traceback in our log.
        # The database out of reach is an outage, not a bug: one line, no traceback (the unit of work
        # logged each reconnect attempt).
        for error in errors:
            if database_unavailable(error):
                log.warning("database unavailable: answered SERVICE_UNAVAILABLE (503) to a GraphQL operation")
            elif should_mask_error(error):
                log.error("unexpected error in GraphQL operation", exc_info=error.original_error or error)
            else:
                log.debug("GraphQL client error: %s", error.message)


# The rules of strawberry's QueryDepthLimiter and MaxAliasesLimiter, built once rather than once per request,
# so every request validates against the same rules (graphql_api.core.documents caches what passed them).
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
# Every String and ID argument, at any depth of its input, is checked (length, NUL, lone surrogates)
# before its resolver runs: fields added to any domain are covered as they are merged in.
install_string_checks(schema._schema)
