"""The chart of accounts from the API: openAccount and closeAccount (finance's and admins').

Every change writes its audit event in the same transaction (ledger.service); a replay under the same
idempotency key returns the account as it is now.
"""
from __future__ import annotations

from typing import Annotated, Union

import sqlalchemy as sa
import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_key, input_reason
from graphql_api.core.threads import write
from graphql_api.ledger.types import Account, AccountTypeEnum
from ledger import errors as ledger_errors
from ledger import service as ledger_service
from ledger.model import AccountType
from ledger.queries import load_accounts


@strawberry.input(description="Open an account in your chart. Codes are 1-40 letters, digits, . _ -; a child has its parent's type.")
class OpenAccountInput:
    code: str
    name: str
    type: AccountTypeEnum  # type: ignore[valid-type]
    parent_code: str | None = None
    currencies: list[str] | None = strawberry.field(default=None, description="Only these ISO 4217 currencies may post; null for any.")
    balance_slots: int = strawberry.field(
        default=1, description="Counter rows (1-64) for a hot account that many transactions post to at once, like a bank account."
    )
    is_header: bool = strawberry.field(
        default=False, description="A header groups child accounts and takes no postings; only a header may be a parent."
    )
    idempotency_key: str | None = None


@strawberry.input(description="Close an account whose balance is zero in every currency; closed accounts refuse postings.")
class CloseAccountInput:
    code: str
    reason: str | None = strawberry.field(default=None, description="Why; kept in the audit trail.")
    idempotency_key: str | None = None


@strawberry.type(description="The account is OPEN.")
class OpenAccountPayload:
    account: Account
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this; nothing new was written.")


@strawberry.type(description="The account is CLOSED.")
class CloseAccountPayload:
    account: Account
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this; nothing new was written.")


account_errors = (
    e.InvalidInputError, e.InvalidAccountError, e.AccountExistsError, e.UnknownAccountError, e.AccountClosedError,
    e.AccountNotEmptyError, e.UnknownCurrencyError, e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.GenericError,
)
OpenAccountResult = Annotated[Union[(OpenAccountPayload, *account_errors)], strawberry.union("OpenAccountResult")]  # noqa: UP007
CloseAccountResult = Annotated[Union[(CloseAccountPayload, *account_errors)], strawberry.union("CloseAccountResult")]  # noqa: UP007


async def _account_command(info, session, actor, key, operation, request, command, payload):  # type: ignore[no-untyped-def]
    def work(conn: sa.Connection):  # type: ignore[no-untyped-def]
        result, replayed = run_once(conn, actor, key, operation, request, command)
        return load_accounts(conn, actor.tenant_id, [result["account"]])[result["account"]], replayed

    try:
        account, replayed = await write(info.context.engine, work)
    except ledger_errors.LedgerError as exc:
        return e.error_result(exc, account_errors, fields={"balance_slots": "balanceSlots", "parent_code": "parentCode"})
    session.loaders.clear()
    return payload(account=Account(account=account), replayed=replayed)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Open an account in your chart of accounts. Roles: ADMIN, FINANCE.")
    async def open_account(self, info: Info, input: OpenAccountInput) -> OpenAccountResult:  # type: ignore[valid-type]  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("openAccount")
        try:
            key = input_key(input.idempotency_key)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor()
        account_type = AccountType[input.type.name]
        request = {
            "code": input.code, "name": input.name, "type": account_type.value, "parent_code": input.parent_code,
            "currencies": None if input.currencies is None else sorted(set(input.currencies)), "balance_slots": input.balance_slots,
            **({"is_header": True} if input.is_header else {}),
        }

        def command(conn: sa.Connection) -> dict:
            account = ledger_service.open_account(
                conn, actor, input.code, input.name, account_type, parent_code=input.parent_code, currencies=input.currencies,
                balance_slots=input.balance_slots, is_header=input.is_header,
            )
            return {"account": account.code}

        return await _account_command(info, session, actor, key, "openAccount", request, command, OpenAccountPayload)

    @strawberry.mutation(description="Close an account whose balance is zero in every currency. Roles: ADMIN, FINANCE.")
    async def close_account(self, info: Info, input: CloseAccountInput) -> CloseAccountResult:  # type: ignore[valid-type]  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("closeAccount")
        try:
            key = input_key(input.idempotency_key)
            actor = ctx.actor(reason=input_reason(input.reason))
        except RefusedInput as refused:
            return refused.result

        def command(conn: sa.Connection) -> dict:
            return {"account": ledger_service.close_account(conn, actor, input.code).code}

        return await _account_command(info, session, actor, key, "closeAccount", {"code": input.code}, command, CloseAccountPayload)
