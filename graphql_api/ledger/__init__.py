"""The ledger's API: accounts, journal entries, trial balance, manual entry requests (maker-checker),
the chart of accounts' administration, the audit log and period close. One Query and one Mutation, merged from its modules."""
from __future__ import annotations

import strawberry

from graphql_api.ledger.accounts import AccountMutation
from graphql_api.ledger.audit import AuditQuery
from graphql_api.ledger.journal import JournalMutation, JournalQuery
from graphql_api.ledger.journal_requests import JournalEntryRequestMutation, JournalEntryRequestQuery
from graphql_api.ledger.periods import PeriodMutation, PeriodQuery


@strawberry.type
class LedgerQuery(JournalQuery, JournalEntryRequestQuery, AuditQuery, PeriodQuery):
    pass


@strawberry.type
class LedgerMutation(JournalMutation, JournalEntryRequestMutation, AccountMutation, PeriodMutation):
    pass
