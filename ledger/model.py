"""The pure ledger model: accounts, postings, entries. No database, no web.

Data is dumb and immutable (frozen dataclasses, tuples); behaviour is functions over it.
A posting's `amount_minor` is signed: debits are positive, credits negative, so an entry balances
when its postings sum to zero in every currency.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger import errors
from ledger.money import currency_exponent, format_amount, to_minor

postings_per_entry_max = 1000
description_length_max = 500
metadata_bytes_max = 8192
idempotency_key_length_max = 200
account_code_length_max = 40


class AccountType(str, enum.Enum):
    ASSET = "ASSET"
    LIABILITY = "LIABILITY"
    EQUITY = "EQUITY"
    INCOME = "INCOME"
    EXPENSE = "EXPENSE"


class NormalBalance(str, enum.Enum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class AccountStatus(str, enum.Enum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


def normal_balance_of(account_type: AccountType) -> NormalBalance:
    if account_type in (AccountType.ASSET, AccountType.EXPENSE):
        return NormalBalance.DEBIT
    return NormalBalance.CREDIT


@dataclass(frozen=True, slots=True)
class Account:
    tenant_id: int
    code: str
    name: str
    type: AccountType
    normal_balance: NormalBalance
    parent_code: str | None = None
    status: AccountStatus = AccountStatus.OPEN
    # None means any currency; otherwise only these ISO codes may be posted.
    currencies: tuple[str, ...] | None = None
    # More than one slot spreads a hot account's balance over rows summed on read (see README).
    balance_slots: int = 1
    # A header groups child accounts (1000 Assets over 1100 Bank): it is a heading of the chart, and
    # its figures are its children's, so it takes no postings of its own.
    is_header: bool = False

    def allows(self, currency: str) -> bool:
        return self.currencies is None or currency in self.currencies


@dataclass(frozen=True, slots=True)
class Posting:
    account_code: str
    currency: str
    amount_minor: int  # debit > 0, credit < 0

    @property
    def is_debit(self) -> bool:
        return self.amount_minor > 0


def debit(account_code: str, amount: object, currency: str) -> Posting:
    """A debit leg; `amount` is a positive decimal string, int or Decimal (never float)."""
    return Posting(account_code, currency, _positive_minor(amount, currency))


def credit(account_code: str, amount: object, currency: str) -> Posting:
    """A credit leg; `amount` is a positive decimal string, int or Decimal (never float)."""
    return Posting(account_code, currency, -_positive_minor(amount, currency))


def _positive_minor(amount: object, currency: str) -> int:
    minor = to_minor(amount, currency)
    if minor <= 0:
        raise errors.InvalidAmount(f"posting amount must be positive, got {amount}; use debit or credit for the side")
    return minor


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """What a caller asks to post. Validated by `validate_draft`; hashed by `request_hash`."""

    effective_date: dt.date
    postings: tuple[Posting, ...]
    description: str = ""
    metadata: Mapping[str, object] = field(default_factory=dict)
    idempotency_key: str | None = None
    reverses_entry_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PostedEntry:
    tenant_id: int
    id: uuid.UUID
    effective_date: dt.date
    recorded_at: dt.datetime
    description: str
    metadata: Mapping[str, object]
    actor: str
    postings: tuple[Posting, ...]
    idempotency_key: str | None
    reverses_entry_id: uuid.UUID | None
    content_hash: str


def validate_draft(draft: EntryDraft) -> str:
    """Raise the typed error for the first problem a user could have caused.

    Returns the metadata's canonical JSON, which posting stores and hashes (computed once).
    """
    if not isinstance(draft.effective_date, dt.date) or isinstance(draft.effective_date, dt.datetime):
        raise errors.InvalidEntry("effective_date must be a date (the business date), not a timestamp")
    if len(draft.postings) < 2:
        raise errors.TooFewPostings(f"an entry needs at least two postings, got {len(draft.postings)}")
    if len(draft.postings) > postings_per_entry_max:
        raise errors.TooManyPostings(f"an entry may have at most {postings_per_entry_max} postings")
    if len(draft.description) > description_length_max:
        raise errors.InvalidEntry(f"description is longer than {description_length_max} characters")
    if draft.idempotency_key is not None and not 0 < len(draft.idempotency_key) <= idempotency_key_length_max:
        raise errors.InvalidEntry(f"idempotency key must be 1 to {idempotency_key_length_max} characters")
    refuse_unstorable("description", draft.description)
    if draft.idempotency_key is not None:
        refuse_unstorable("idempotency_key", draft.idempotency_key)
    if isinstance(draft.metadata, Mapping):  # before canonical_metadata, which cannot even measure a lone surrogate
        for key, value in draft.metadata.items():
            if isinstance(key, str):
                refuse_unstorable("a metadata key", key, field="metadata")
            if isinstance(value, str):
                refuse_unstorable(f"metadata {key!r}", value, field="metadata")
    metadata_text = canonical_metadata(draft.metadata)
    totals: dict[str, int] = {}
    for posting in draft.postings:
        if not isinstance(posting.amount_minor, int) or isinstance(posting.amount_minor, bool):
            raise errors.InvalidAmount("posting amounts are integer minor units; build postings with debit()/credit()")
        if posting.amount_minor == 0:
            raise errors.InvalidAmount(f"posting to {posting.account_code} has a zero amount")
        refuse_unstorable("account", posting.account_code)
        currency_exponent(posting.currency)
        totals[posting.currency] = totals.get(posting.currency, 0) + posting.amount_minor
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        described = ", ".join(f"{c} debits exceed credits by {format_amount(t, c)}" for c, t in sorted(unbalanced.items()))
        raise errors.UnbalancedEntry(f"entry does not balance: {described}", imbalance=unbalanced)
    return metadata_text


def check_accounts(
    draft: EntryDraft, accounts: Mapping[str, Account], children_of: Callable[[str], Sequence[str]] | None = None
) -> None:
    """Every posting's account exists in the tenant, is open, is not a header and accepts the currency.

    `children_of(code)` names a header's open child accounts for the error message (a read the
    caller supplies; it runs only when a posting names a header).
    """
    for posting in draft.postings:
        account = accounts.get(posting.account_code)
        if account is None:
            raise errors.UnknownAccount(f"no account with code {posting.account_code!r}", account=posting.account_code)
        if account.status is not AccountStatus.OPEN:
            raise errors.AccountClosed(f"account {account.code} ({account.name}) is closed", account=account.code)
        if account.is_header:
            raise header_account_error(account, children_of(account.code) if children_of else ())
        if not account.allows(posting.currency):
            allowed = ", ".join(account.currencies or ())
            raise errors.CurrencyNotAllowed(
                f"account {account.code} accepts {allowed}, not {posting.currency}", account=account.code
            )


def header_account_error(account: Account, children: Sequence[str]) -> errors.HeaderAccount:
    """The typed refusal of a posting to a header account, naming the child accounts to post to instead."""
    if children:
        hint = f"post to one of its child accounts: {', '.join(children)}"
    else:
        hint = "open a child account under it and post there"
    return errors.HeaderAccount(
        f"account {account.code} ({account.name}) is a header account and takes no postings; {hint}",
        account=account.code, children=list(children),
    )


def reversal_postings(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """The exact mirror of an entry's postings."""
    return tuple(Posting(p.account_code, p.currency, -p.amount_minor) for p in postings)


def unstorable_character(text: str) -> str | None:
    """What `text` holds that no text column stores, or None: NUL (PostgreSQL refuses it in text and
    JSON) or a lone UTF-16 surrogate (no character at all: UTF-8 cannot encode it)."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii() and any("\ud800" <= ch <= "\udfff" for ch in text):
        return "a lone UTF-16 surrogate"
    return None


def refuse_unstorable(what: str, text: str, *, field: str | None = None) -> None:
    """INVALID_ENTRY before the database: left in, the character failed the statement that carried it."""
    found = unstorable_character(text)
    if found is not None:
        raise errors.InvalidEntry(f"{what} holds {found}, which cannot be stored", field=field or what)


def canonical_metadata(metadata: Mapping[str, object]) -> str:
    """Canonical JSON of entry metadata (flat: strings, integers, booleans, null); floats are refused here too.

    Written out by hand, as canonical_json would write it (a property test holds the two equal):
    every posted entry pays for it, and the general encoder costs several times as much.
    """
    if not isinstance(metadata, Mapping):
        raise errors.InvalidEntry("metadata must be a mapping of names to values")
    if not all(isinstance(key, str) for key in metadata):
        raise errors.InvalidEntry("metadata keys must be strings")
    members = []
    for key, value in sorted(metadata.items()):
        if value is None:
            text = "null"
        elif value is True or value is False:
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = _json_string(value)
        elif isinstance(value, float):
            raise errors.FloatAmountRefused(f"metadata {key!r} is a float; send decimals as strings")
        elif isinstance(value, int):
            text = int.__repr__(value)
        else:
            raise errors.InvalidEntry(f"metadata {key!r} must be a string, integer, boolean or null")
        members.append(f"{_json_string(key)}:{text}")
    text = "{" + ",".join(members) + "}"
    if len(text.encode()) > metadata_bytes_max:
        raise errors.InvalidEntry(f"metadata is larger than {metadata_bytes_max} bytes")
    return text


# One encoder for the process: json.dumps with non-default options builds a new one per call, and
# every posted entry is serialised several times (request hash, content hash, audit event).
_canonical_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: object) -> str:
    return _canonical_encoder.encode(value)


def request_hash(draft: EntryDraft, metadata_text: str | None = None) -> str:
    """SHA-256 of what the caller asked for, so a replayed idempotency key can be compared.

    The canonical JSON of {description, effective_date, metadata, postings, reverses}, written out
    by hand in sorted-key order because every posted entry pays for it (tests hold it equal to
    canonical_json of the same object). `metadata_text` is canonical_metadata(draft.metadata).
    """
    if metadata_text is None:
        metadata_text = canonical_json(dict(draft.metadata))
    postings = ",".join(
        f"[{_json_string(p.account_code)},{_json_string(p.currency)},{int(p.amount_minor)}]" for p in draft.postings
    )
    reverses = f'"{draft.reverses_entry_id}"' if draft.reverses_entry_id else "null"
    body = (
        f'{{"description":{_json_string(draft.description)},"effective_date":"{draft.effective_date.isoformat()}",'
        f'"metadata":{metadata_text},"postings":[{postings}],"reverses":{reverses}}}'
    )
    return hashlib.sha256(body.encode()).hexdigest()


def content_hash(entry_id: uuid.UUID | str, request_digest: str, actor: str) -> str:
    """SHA-256 of a posted entry's content; recorded in its (hash-chained) audit event.

    `loanbook verify` recomputes it from the stored rows, so a posting altered behind the database's
    back no longer matches the chained record of what was posted. The text is canonical_json of
    {"actor", "id", "request"}, written out by hand (the keys are already in sorted order).
    """
    body = f'{{"actor":{_json_string(actor)},"id":"{entry_id}","request":"{request_digest}"}}'
    return hashlib.sha256(body.encode()).hexdigest()


# The string encoder JSONEncoder(ensure_ascii=False) itself uses (the C one where available).
_json_string = json.encoder.encode_basestring


def json_text(value: str | None) -> str:
    """A string (or null) as canonical_json writes it: for JSON written out by hand."""
    return "null" if value is None else _json_string(value)
