"""Invariants under any sequence of valid entries and reversals (hypothesis)."""
from __future__ import annotations

import collections
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import queries, service
from ledger.model import EntryDraft, Posting, validate_draft
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from tests.conftest import actor_for, new_tenant

# Accounts of every type that accept any currency (the default chart's accept the functional one alone).
accounts_by_parent = {"1000": ["1150", "1250", "1260", "1270"], "2000": ["2150", "2250"], "3000": ["3150"],
                      "4000": ["4150", "4250"], "5000": ["5150"]}
account_types = {"1000": "ASSET", "2000": "LIABILITY", "3000": "EQUITY", "4000": "INCOME", "5000": "EXPENSE"}
codes = [code for children in accounts_by_parent.values() for code in children]
currencies = ["CNY", "JPY", "KWD"]
days = st.dates(min_value=dt.date(2024, 11, 1), max_value=dt.date(2026, 3, 31))


@st.composite
def balanced_entry(draw):
    currency = draw(st.sampled_from(currencies))
    debits = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=3))
    total = sum(debits)
    # Split the same total over 1-3 credit legs, every leg non-zero.
    cuts = sorted(draw(st.sets(st.integers(1, total - 1), max_size=min(2, total - 1)))) if total > 1 else []
    credits = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
    legs = [Posting(draw(st.sampled_from(codes)), currency, d) for d in debits]
    legs += [Posting(draw(st.sampled_from(codes)), currency, -c) for c in credits]
    return EntryDraft(draw(days), tuple(draw(st.permutations(legs))), "prop")


operations = st.lists(
    st.one_of(
        st.tuples(st.just("post"), balanced_entry()),
        st.tuples(st.just("batch"), st.lists(balanced_entry(), min_size=1, max_size=4)),
        st.tuples(st.just("reverse"), st.integers(0, 50), days),
        st.tuples(st.just("import"), st.lists(balanced_entry(), min_size=1, max_size=4)),
    ),
    min_size=1,
    max_size=25,
)


def check_invariants(engine, ops):
    tenant_id = new_tenant(engine, "prop")
    actor = actor_for(tenant_id)

    def open_accounts(conn):
        for parent, children in accounts_by_parent.items():
            for code in children:
                service.open_account(conn, actor, code, f"any currency {code}", account_types[parent], parent_code=parent)

    run_in_transaction(engine, open_accounts)
    posted, reversed_ids = [], set()
    movements = []  # (code, currency, day, amount) of everything that should be in the books
    for op in ops:
        if op[0] == "post":
            draft = op[1]
            validate_draft(draft)
            entry = run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
            posted.append(entry)
            movements += [(p.account_code, p.currency, draft.effective_date, p.amount_minor) for p in draft.postings]
        elif op[0] in ("batch", "import"):
            drafts = op[1]
            post = service.post_entries if op[0] == "batch" else service.import_entries
            posted += run_in_transaction(engine, lambda c: post(c, actor, drafts))
            movements += [(p.account_code, p.currency, d.effective_date, p.amount_minor) for d in drafts for p in d.postings]
        elif posted:
            target = posted[op[1] % len(posted)]
            if target.id in reversed_ids or target.reverses_entry_id is not None:
                continue
            entry = run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, target.id, op[2]))
            reversed_ids.add(target.id)
            movements += [(p.account_code, p.currency, op[2], p.amount_minor) for p in entry.postings]
    with engine.connect() as conn:
        tb = queries.trial_balance(conn, tenant_id)
        assert tb.balanced
        for currency, (d, c) in tb.totals().items():
            assert d == c
        expected = collections.Counter()
        for code, currency, _, amount in movements:
            expected[(code, currency)] += amount
        for code in codes:
            for b in queries.current_balances(conn, tenant_id, code):
                assert b.net_minor == expected[(code, b.currency)]
        probe = min((m[2] for m in movements), default=dt.date(2025, 1, 1)) + dt.timedelta(days=200)
        for code in codes[:4]:
            for currency in currencies:
                want = sum(a for c, cur, d, a in movements if c == code and cur == currency and d <= probe)
                assert queries.balance_as_of(conn, tenant_id, code, currency, probe).net_minor == want
        assert queries.trial_balance(conn, tenant_id, probe).balanced
        report = verify_books(conn, [tenant_id])
    assert report.clean, report.discrepancies


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_any_sequence_keeps_books_balanced_and_counters_exact(request, db):
    from loanbook.db import make_engine

    engine = make_engine(request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url"))

    @settings(
        max_examples=25 if db == "sqlite" else 15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(operations)
    def run(ops):
        check_invariants(engine, ops)

    try:
        run()
    finally:
        engine.dispose()
