"""GraphQL object types for the ledger. Each wraps an immutable domain value.

Nested fields load through the request's DataLoaders (`info.context.session.loaders`), so a page
of entries with their accounts and balances costs a constant number of statements.
"""
from __future__ import annotations

import datetime as dt
import enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.core.scalars import encode_id, utc
from graphql_api.core.types import Money, as_mirror, mirror_enum, money
from ledger import model as ledger_model
from ledger.queries import Balance, TrialBalance as LedgerTrialBalance

AccountTypeEnum = mirror_enum(ledger_model.AccountType)
NormalBalanceEnum = mirror_enum(
    ledger_model.NormalBalance, "The side on which the account's balance is normally carried: DEBIT for assets and expenses."
)
AccountStatusEnum = mirror_enum(ledger_model.AccountStatus)


@strawberry.enum(description="The side of a posting.")
class Side(enum.Enum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


@strawberry.type(description="An account's balance in one currency.")
class AccountBalance:
    account: strawberry.Private[ledger_model.Account]
    totals: strawberry.Private[Balance]

    @strawberry.field
    def currency(self) -> str:
        return self.totals.currency

    @strawberry.field(description="Sum of all debits posted.")
    def debits(self) -> Money:
        return money(self.totals.debit_minor, self.totals.currency)

    @strawberry.field(description="Sum of all credits posted.")
    def credits(self) -> Money:
        return money(self.totals.credit_minor, self.totals.currency)

    @strawberry.field(
        description="Balance on the account's normal side: debits - credits for DEBIT accounts, "
        "credits - debits for CREDIT accounts; negative means the account is on its other side."
    )
    def balance(self) -> Money:
        net = self.totals.net_minor
        if self.account.normal_balance is ledger_model.NormalBalance.CREDIT:
            net = -net
        return money(net, self.totals.currency)


@strawberry.type(description="An account in the tenant's chart of accounts.")
class Account:
    account: strawberry.Private[ledger_model.Account]

    @strawberry.field
    def code(self) -> str:
        return self.account.code

    @strawberry.field
    def name(self) -> str:
        return self.account.name

    @strawberry.field
    def type(self) -> AccountTypeEnum:  # type: ignore[valid-type]
        return as_mirror(AccountTypeEnum, self.account.type)

    @strawberry.field
    def normal_balance(self) -> NormalBalanceEnum:  # type: ignore[valid-type]
        return as_mirror(NormalBalanceEnum, self.account.normal_balance)

    @strawberry.field
    def status(self) -> AccountStatusEnum:  # type: ignore[valid-type]
        return as_mirror(AccountStatusEnum, self.account.status)

    @strawberry.field
    def parent_code(self) -> str | None:
        return self.account.parent_code

    @strawberry.field
    async def parent(self, info: Info) -> Account | None:
        if self.account.parent_code is None:
            return None
        parent = await info.context.session.loaders.account.load(self.account.parent_code)
        return None if parent is None else Account(account=parent)

    @strawberry.field(description="A header groups child accounts and takes no postings (HEADER_ACCOUNT); its children carry the figures.")
    def is_header(self) -> bool:
        return self.account.is_header

    @strawberry.field(description="Currencies the account accepts; null means any currency.")
    def currencies(self) -> list[str] | None:
        return None if self.account.currencies is None else list(self.account.currencies)

    @strawberry.field(description="Balance per currency: current, or of postings effective on or before `asOf`.")
    async def balances(self, info: Info, as_of: dt.date | None = None) -> list[AccountBalance]:
        totals = await info.context.session.loaders.balances.load((self.account.code, as_of))
        return [AccountBalance(account=self.account, totals=t) for t in totals]


@strawberry.type(description="One leg of a journal entry.")
class Posting:
    line_no: int = strawberry.field(description="1-based position in the entry.")
    posting: strawberry.Private[ledger_model.Posting]

    @strawberry.field
    def account_code(self) -> str:
        return self.posting.account_code

    @strawberry.field
    async def account(self, info: Info) -> Account:
        account = await info.context.session.loaders.account.load(self.posting.account_code)
        assert account is not None, f"posting to unknown account {self.posting.account_code}"
        return Account(account=account)

    @strawberry.field
    def side(self) -> Side:
        return Side.DEBIT if self.posting.is_debit else Side.CREDIT

    @strawberry.field(description="Always positive; `side` says debit or credit.")
    def amount(self) -> Money:
        return money(abs(self.posting.amount_minor), self.posting.currency)


@strawberry.type(description="A posted, immutable journal entry. Corrections are reversing entries.")
class JournalEntry:
    entry: strawberry.Private[ledger_model.PostedEntry]

    @strawberry.field(description="Opaque id; pass it back as is.")
    def id(self) -> strawberry.ID:
        return encode_id("JournalEntry", self.entry.id)

    @strawberry.field(description="The business date the entry is effective on.")
    def effective_date(self) -> dt.date:
        return self.entry.effective_date

    @strawberry.field(description="When the entry was recorded (UTC).")
    def recorded_at(self) -> dt.datetime:
        return utc(self.entry.recorded_at)

    @strawberry.field
    def description(self) -> str:
        return self.entry.description

    @strawberry.field(description="Free-form metadata: an object of strings, integers, booleans and nulls.")
    def metadata(self) -> JSON:
        return dict(self.entry.metadata)

    @strawberry.field(description="Who posted it (the token's actor name).")
    def actor(self) -> str:
        return self.entry.actor

    @strawberry.field
    def idempotency_key(self) -> str | None:
        return self.entry.idempotency_key

    @strawberry.field(description="SHA-256 of the entry's content, as recorded in the audit chain.")
    def content_hash(self) -> str:
        return self.entry.content_hash

    @strawberry.field
    def postings(self) -> list[Posting]:
        return [Posting(line_no=i, posting=p) for i, p in enumerate(self.entry.postings, start=1)]

    @strawberry.field(description="The entry this one reverses, if it is a reversal.")
    async def reverses(self, info: Info) -> JournalEntry | None:
        if self.entry.reverses_entry_id is None:
            return None
        original = await info.context.session.loaders.entry.load(self.entry.reverses_entry_id)
        return None if original is None else JournalEntry(entry=original)

    @strawberry.field(description="The entry that reverses this one, if it has been reversed.")
    async def reversed_by(self, info: Info) -> JournalEntry | None:
        loaders = info.context.session.loaders
        reversal_id = await loaders.reversal_id.load(self.entry.id)
        if reversal_id is None:
            return None
        reversal = await loaders.entry.load(reversal_id)
        return None if reversal is None else JournalEntry(entry=reversal)


@strawberry.type(description="An account's balance in one currency, on its debit or its credit side.")
class TrialBalanceLine:
    account: Account
    currency: str
    debit: Money
    credit: Money


@strawberry.type
class TrialBalanceTotal:
    currency: str
    debit: Money
    credit: Money


@strawberry.type(description="Every account's balance per currency; debits equal credits in each currency.")
class TrialBalance:
    as_of: dt.date | None = strawberry.field(description="Null means current balances.")
    lines: list[TrialBalanceLine]
    totals: list[TrialBalanceTotal]
    balanced: bool


def trial_balance_type(tb: LedgerTrialBalance) -> TrialBalance:
    lines = [
        TrialBalanceLine(
            account=Account(account=line.account), currency=line.currency,
            debit=money(line.debit_minor, line.currency), credit=money(line.credit_minor, line.currency),
        )
        for line in tb.lines
    ]
    totals = [
        TrialBalanceTotal(currency=c, debit=money(d, c), credit=money(k, c)) for c, (d, k) in sorted(tb.totals().items())
    ]
    return TrialBalance(as_of=tb.as_of, lines=lines, totals=totals, balanced=tb.balanced)
