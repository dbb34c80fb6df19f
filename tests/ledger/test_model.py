"""The pure model: entries must balance per currency before anything touches a database."""
import datetime as dt
import uuid

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import errors
from ledger.audit import AuditEvent, canonical_event, canonical_event_reference, chain_hash, genesis_hash
from ledger.model import (
    Account,
    AccountStatus,
    AccountType,
    EntryDraft,
    NormalBalance,
    Posting,
    check_accounts,
    canonical_json,
    canonical_metadata,
    content_hash,
    credit,
    debit,
    normal_balance_of,
    request_hash,
    reversal_postings,
    validate_draft,
)

day = dt.date(2026, 3, 1)


def draft(*postings, **kw):
    return EntryDraft(day, tuple(postings), **kw)


def test_debits_positive_credits_negative():
    assert debit("1100", "10.00", "CNY") == Posting("1100", "CNY", 1000)
    assert credit("4100", "10.00", "CNY") == Posting("4100", "CNY", -1000)


@pytest.mark.parametrize("amount", ["0", "-1.00", "0.00"])
def test_zero_or_negative_leg_amounts_are_refused(amount):
    with pytest.raises(errors.InvalidAmount):
        debit("1100", amount, "CNY")


def test_balanced_multi_leg_entry_is_valid():
    validate_draft(draft(debit("1200", "10000", "CNY"), credit("1100", "9800", "CNY"), credit("4200", "200", "CNY")))


def test_unbalanced_entry_names_the_difference():
    with pytest.raises(errors.UnbalancedEntry, match="CNY debits exceed credits by 0.01"):
        validate_draft(draft(debit("1100", "100.01", "CNY"), credit("3100", "100.00", "CNY")))


def test_balance_is_per_currency():
    mixed = draft(
        debit("1100", "100", "CNY"), credit("3100", "100", "USD"), debit("1100", "100", "USD"), credit("3100", "100", "CNY")
    )
    validate_draft(mixed)
    with pytest.raises(errors.UnbalancedEntry):
        validate_draft(draft(debit("1100", "100", "CNY"), credit("3100", "100", "USD")))


def test_one_posting_is_not_an_entry():
    with pytest.raises(errors.TooFewPostings):
        validate_draft(draft(debit("1100", "1", "CNY")))


def test_too_many_postings_is_refused():
    legs = [debit("1100", "1", "CNY")] * 600 + [credit("3100", "1", "CNY")] * 600
    with pytest.raises(errors.TooManyPostings):
        validate_draft(draft(*legs))


def test_a_datetime_is_not_a_business_date():
    with pytest.raises(errors.InvalidEntry):
        validate_draft(EntryDraft(dt.datetime(2026, 1, 1, 12), (debit("1", "1", "CNY"), credit("2", "1", "CNY"))))


def test_float_in_metadata_is_refused():
    with pytest.raises(errors.FloatAmountRefused):
        validate_draft(draft(debit("1", "1", "CNY"), credit("2", "1", "CNY"), metadata={"rate": 0.1}))


def test_raw_float_minor_units_are_refused():
    with pytest.raises(errors.InvalidAmount):
        validate_draft(draft(Posting("1", "CNY", 1.0), Posting("2", "CNY", -1.0)))  # type: ignore[arg-type]


def test_account_checks():
    open_cny = Account(1, "1100", "Bank", AccountType.ASSET, NormalBalance.DEBIT, currencies=("CNY",))
    closed = Account(1, "3100", "Capital", AccountType.EQUITY, NormalBalance.CREDIT, status=AccountStatus.CLOSED)
    entry = draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY"))
    with pytest.raises(errors.AccountClosed):
        check_accounts(entry, {"1100": open_cny, "3100": closed})
    with pytest.raises(errors.UnknownAccount):
        check_accounts(entry, {"1100": open_cny})
    usd = draft(debit("1100", "1", "USD"), credit("3100", "1", "USD"))
    with pytest.raises(errors.CurrencyNotAllowed):
        check_accounts(usd, {"1100": open_cny, "3100": closed})


def test_normal_balances():
    assert normal_balance_of(AccountType.ASSET) is NormalBalance.DEBIT
    assert normal_balance_of(AccountType.EXPENSE) is NormalBalance.DEBIT
    for kind in (AccountType.LIABILITY, AccountType.EQUITY, AccountType.INCOME):
        assert normal_balance_of(kind) is NormalBalance.CREDIT


def test_reversal_is_the_exact_mirror():
    legs = (debit("1100", "5.00", "CNY"), credit("4100", "5.00", "CNY"))
    assert reversal_postings(legs) == (credit("1100", "5.00", "CNY"), debit("4100", "5.00", "CNY"))


def test_request_hash_changes_with_any_field():
    base = draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY"), description="x", idempotency_key="k")
    variants = [
        draft(debit("1100", "2", "CNY"), credit("3100", "2", "CNY"), description="x"),
        draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY"), description="y"),
        draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY"), description="x", metadata={"loan": "L1"}),
        EntryDraft(day + dt.timedelta(days=1), base.postings, "x"),
    ]
    assert len({request_hash(base)} | {request_hash(v) for v in variants}) == 5
    # The key itself is not part of what was asked for: a replay compares the request only.
    assert request_hash(base) == request_hash(draft(*base.postings, description="x"))
    entry_id = uuid.uuid4()
    assert content_hash(entry_id, request_hash(base), "a") != content_hash(entry_id, request_hash(base), "b")


_text = st.text(max_size=30)
_scalar = st.none() | st.booleans() | st.integers(-(10**18), 10**18) | _text


@given(
    description=_text,
    metadata=st.dictionaries(_text, _scalar, max_size=4),
    legs=st.lists(st.tuples(_text.filter(bool), st.sampled_from(["CNY", "JPY", "KWD"]), st.integers(-(10**15), 10**15)), min_size=1, max_size=5),
    reverses=st.none() | st.uuids(),
    actor=_text,
    day=st.dates(),
)
def test_hand_written_hashes_equal_canonical_json_of_the_same_object(description, metadata, legs, reverses, actor, day):
    """request_hash and content_hash write their JSON by hand for speed: it must be canonical_json's."""
    entry = EntryDraft(day, tuple(Posting(c, cur, a) for c, cur, a in legs), description, metadata, reverses_entry_id=reverses)
    reference = {
        "effective_date": day.isoformat(), "description": description, "metadata": dict(metadata),
        "postings": [[c, cur, a] for c, cur, a in legs], "reverses": str(reverses) if reverses else None,
    }
    digest = hashlib.sha256(canonical_json(reference).encode()).hexdigest()
    assert request_hash(entry) == digest == request_hash(entry, canonical_json(dict(metadata)))
    entry_id = uuid.uuid4()
    expected = hashlib.sha256(canonical_json({"id": str(entry_id), "actor": actor, "request": digest}).encode()).hexdigest()
    assert content_hash(entry_id, digest, actor) == expected


@given(metadata=st.dictionaries(st.text(max_size=30), _scalar | st.integers(), max_size=8))
def test_hand_written_metadata_json_equals_canonical_json(metadata):
    """Stored entries' request hashes were computed over canonical_json of their metadata: the hand-written
    encoder must write every flat mapping exactly as it did (any text, very large integers, booleans)."""
    assert canonical_metadata(metadata) == canonical_json(metadata)


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({1: "a", "b": "c"}, errors.InvalidEntry),
        ({"rate": 0.1, "a": 1}, errors.FloatAmountRefused),
        ({"nested": {"a": 1}}, errors.InvalidEntry),
        ({"list": [1]}, errors.InvalidEntry),
        ({"big": "x" * 9000}, errors.InvalidEntry),
        (["not", "a", "mapping"], errors.InvalidEntry),
    ],
)
def test_metadata_that_is_not_a_flat_mapping_is_refused(metadata, error):
    with pytest.raises(error):
        canonical_metadata(metadata)


@given(
    texts=st.lists(st.none() | _text, min_size=5, max_size=5),
    required=st.lists(_text, min_size=4, max_size=4),
    tenant=st.integers(1, 2**31 - 1),
    moment=st.datetimes(timezones=st.just(dt.timezone.utc)),
    event_id=st.uuids(),
)
def test_hand_written_canonical_event_equals_canonical_json(texts, required, tenant, moment, event_id):
    before, after, reason, request_id, _ = texts
    actor, action, entity_type, entity_id = required
    event = AuditEvent(tenant, event_id, moment, actor, action, entity_type, entity_id, before, after, reason, request_id)
    assert canonical_event(event) == canonical_event_reference(event)


def test_chain_hash_covers_every_field():
    event = AuditEvent(1, uuid.uuid4(), dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "alice", "x", "e", "1", None, "{}", None, None)
    first = chain_hash(genesis_hash, event)
    assert len(first) == 64
    assert chain_hash(first, event) != first
    naive = AuditEvent(*[getattr(event, f) for f in event.__slots__][:2], dt.datetime(2026, 1, 1), *[getattr(event, f) for f in event.__slots__][3:])
    assert chain_hash(genesis_hash, naive) == first  # naive timestamps are UTC
    assert chain_hash(genesis_hash, AuditEvent(*[getattr(event, f) for f in event.__slots__][:3], "mallory", *[getattr(event, f) for f in event.__slots__][4:])) != first
