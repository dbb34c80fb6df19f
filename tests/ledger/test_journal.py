"""The journal on both databases: posting, balances, reversals, idempotency and bad input."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import sqlalchemy as sa

from ledger import errors, journal_rows, queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.unit_of_work import run_in_transaction
from tests.conftest import actor_for, new_tenant, open_usd_accounts

D = dt.date


def post(engine, actor, *legs, on=D(2026, 1, 5), **kw):
    draft = EntryDraft(on, tuple(legs), **kw)
    return run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))


def snapshot(engine, tenant_id):
    """Every row the tenant owns, so a refused command can be shown to have written nothing."""
    with engine.connect() as conn:
        return {
            name: sorted(map(tuple, conn.execute(sa.select(table).where(table.c.tenant_id == tenant_id)).all()), key=repr)
            for name, table in tables.metadata.tables.items()
            if "tenant_id" in table.c
        }


def net(engine, tenant_id, code, currency="CNY", as_of=None):
    with engine.connect() as conn:
        if as_of is not None:
            return queries.balance_as_of(conn, tenant_id, code, currency, as_of).net_minor
        return sum(b.net_minor for b in queries.current_balances(conn, tenant_id, code) if b.currency == currency)


def test_disbursement_with_deducted_fee_posts_exact_lines(engine, actor):
    post(engine, actor, debit("1100", "100000.00", "CNY"), credit("3100", "100000.00", "CNY"), description="capital")
    entry = post(
        engine, actor,
        debit("1200", "10000.00", "CNY"), credit("1100", "9800.00", "CNY"), credit("4200", "200.00", "CNY"),
        on=D(2026, 1, 6), description="disburse L-1", metadata={"loan_id": "L-1"},
    )
    with engine.connect() as conn:
        stored = queries.get_entry(conn, actor.tenant_id, entry.id)
    assert [(p.account_code, p.amount_minor) for p in stored.postings] == [("1200", 1000000), ("1100", -980000), ("4200", -20000)]
    assert stored.metadata == {"loan_id": "L-1"} and stored.actor == actor.name
    assert stored.recorded_at is not None and stored.effective_date == D(2026, 1, 6)
    assert net(engine, actor.tenant_id, "1100") == 9020000
    assert net(engine, actor.tenant_id, "4200") == -20000
    assert net(engine, actor.tenant_id, "1100", as_of=D(2026, 1, 5)) == 10000000
    assert net(engine, actor.tenant_id, "1100", as_of=D(2026, 1, 4)) == 0
    with engine.connect() as conn:
        tb = queries.trial_balance(conn, actor.tenant_id)
        tb_then = queries.trial_balance(conn, actor.tenant_id, D(2026, 1, 5))
    assert tb.balanced and tb.totals() == {"CNY": (10020000, 10020000)}
    assert tb_then.totals() == {"CNY": (10000000, 10000000)}


def test_balance_as_of_crosses_days_months_and_years(engine, actor):
    days = [D(2024, 12, 31), D(2025, 1, 1), D(2025, 2, 28), D(2025, 3, 1), D(2025, 3, 15), D(2026, 1, 1)]
    for i, day in enumerate(days, start=1):
        post(engine, actor, debit("1100", str(i), "CNY"), credit("3100", str(i), "CNY"), on=day)
    for probe in [D(2024, 12, 30), *days, D(2025, 3, 14), D(2025, 12, 31), D(2030, 1, 1)]:
        expected = sum(i * 100 for i, day in enumerate(days, start=1) if day <= probe)
        assert net(engine, actor.tenant_id, "1100", as_of=probe) == expected, probe


def test_backdated_entry_changes_history_only_from_its_date(engine, actor):
    post(engine, actor, debit("1100", "10", "CNY"), credit("3100", "10", "CNY"), on=D(2026, 2, 1))
    post(engine, actor, debit("1100", "5", "CNY"), credit("3100", "5", "CNY"), on=D(2026, 1, 1))
    assert net(engine, actor.tenant_id, "1100", as_of=D(2025, 12, 31)) == 0
    assert net(engine, actor.tenant_id, "1100", as_of=D(2026, 1, 31)) == 500
    assert net(engine, actor.tenant_id, "1100") == 1500


def test_multi_currency_entry_balances_per_currency(engine, actor):
    usd = open_usd_accounts(engine, actor)
    post(
        engine, actor,
        debit("1100", "700", "CNY"), credit("3100", "700", "CNY"),
        debit(usd["bank"], "100", "USD"), credit(usd["capital"], "100", "USD"),
    )
    assert net(engine, actor.tenant_id, usd["bank"], "USD") == 10000
    with engine.connect() as conn:
        assert queries.trial_balance(conn, actor.tenant_id).totals() == {"CNY": (70000, 70000), "USD": (10000, 10000)}


BAD = {
    "unbalanced": (lambda: (debit("1100", "10.00", "CNY"), credit("3100", "9.99", "CNY")), errors.UnbalancedEntry),
    "one posting": (lambda: (debit("1100", "10.00", "CNY"),), errors.TooFewPostings),
    "unknown account": (lambda: (debit("9999", "1", "CNY"), credit("3100", "1", "CNY")), errors.UnknownAccount),
    "float": (lambda: (debit("1100", 1.5, "CNY"), credit("3100", "1.5", "CNY")), errors.FloatAmountRefused),
    "too precise": (lambda: (debit("1100", "1.005", "CNY"), credit("3100", "1.005", "CNY")), errors.AmountTooPrecise),
    "too precise JPY": (lambda: (debit("1100", "1.5", "JPY"), credit("3100", "1.5", "JPY")), errors.AmountTooPrecise),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gets_a_typed_error_and_writes_nothing(engine, actor, case):
    post(engine, actor, debit("1100", "1", "CNY"), credit("3100", "1", "CNY"))
    before = snapshot(engine, actor.tenant_id)
    make_legs, error = BAD[case]
    with pytest.raises(error) as caught:
        post(engine, actor, *make_legs())
    assert caught.value.code == error.code and caught.value.message
    assert snapshot(engine, actor.tenant_id) == before


def test_an_account_closed_after_posting_refuses_the_next_posting(engine, actor):
    """On PostgreSQL posting checks drafts against a cached chart; the write itself re-checks it."""
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1160", "Old bank", "ASSET", parent_code="1000"))
    post(engine, actor, debit("1160", "1", "CNY"), credit("3100", "1", "CNY"))  # now cached
    post(engine, actor, debit("3100", "1", "CNY"), credit("1160", "1", "CNY"))
    run_in_transaction(engine, lambda c: service.close_account(c, actor, "1160"))
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.AccountClosed):
        post(engine, actor, debit("1160", "1", "CNY"), credit("3100", "1", "CNY"))
    assert snapshot(engine, actor.tenant_id) == before
    post(engine, actor, debit("1100", "1", "CNY"), credit("3100", "1", "CNY"))  # the rest of the chart still posts


def test_closed_account_and_currency_restrictions(engine, actor):
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1150", "USD bank", "ASSET", parent_code="1000", currencies=["USD"]))
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1160", "Old bank", "ASSET", parent_code="1000"))
    run_in_transaction(engine, lambda c: service.close_account(c, actor, "1160"))
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.CurrencyNotAllowed):
        post(engine, actor, debit("1150", "1", "CNY"), credit("3100", "1", "CNY"))
    with pytest.raises(errors.AccountClosed):
        post(engine, actor, debit("1160", "1", "CNY"), credit("3100", "1", "CNY"))
    assert snapshot(engine, actor.tenant_id) == before
    post(engine, actor, debit("1150", "1", "USD"), credit(open_usd_accounts(engine, actor)["capital"], "1", "USD"))
    with pytest.raises(errors.AccountNotEmpty):
        run_in_transaction(engine, lambda c: service.close_account(c, actor, "1150"))
    with pytest.raises(errors.AccountExists):
        run_in_transaction(engine, lambda c: service.open_account(c, actor, "1150", "again", "ASSET"))
    with pytest.raises(errors.InvalidAccount):
        run_in_transaction(engine, lambda c: service.open_account(c, actor, "1170", "mixed", "INCOME", parent_code="1000"))


def test_reversal_mirrors_links_and_happens_once(engine, actor):
    original = post(engine, actor, debit("1200", "500", "CNY"), credit("1100", "500", "CNY"), description="disburse")
    reversing_actor = actor_for(actor.tenant_id, "checker", reason="bounced")
    reversal = run_in_transaction(
        engine, lambda c: service.reverse_entry(c, reversing_actor, original.id, D(2026, 1, 7))
    )
    assert reversal.reverses_entry_id == original.id
    assert [(p.account_code, p.amount_minor) for p in reversal.postings] == [("1200", -50000), ("1100", 50000)]
    assert net(engine, actor.tenant_id, "1200") == 0
    assert net(engine, actor.tenant_id, "1200", as_of=D(2026, 1, 6)) == 50000
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.AlreadyReversed):
        run_in_transaction(engine, lambda c: service.reverse_entry(c, reversing_actor, original.id, D(2026, 1, 8)))
    with pytest.raises(errors.UnknownEntry):
        run_in_transaction(engine, lambda c: service.reverse_entry(c, reversing_actor, uuid.uuid4(), D(2026, 1, 8)))
    assert snapshot(engine, actor.tenant_id) == before
    with engine.connect() as conn:
        assert queries.reversal_of(conn, actor.tenant_id, original.id) == reversal.id


def test_idempotent_replay_returns_the_original_and_conflict_is_refused(engine, actor):
    legs = (debit("1100", "25.00", "CNY"), credit("3100", "25.00", "CNY"))
    first = post(engine, actor, *legs, idempotency_key="pay-1")
    before = snapshot(engine, actor.tenant_id)
    replay = post(engine, actor, *legs, idempotency_key="pay-1")
    assert replay.id == first.id and replay.postings == first.postings
    with pytest.raises(errors.IdempotencyConflict):
        post(engine, actor, debit("1100", "26.00", "CNY"), credit("3100", "26.00", "CNY"), idempotency_key="pay-1")
    assert snapshot(engine, actor.tenant_id) == before
    # Keys are per tenant: another lender may use the same key.
    other = actor_for(new_tenant(engine))
    assert post(engine, other, *legs, idempotency_key="pay-1").id != first.id


def test_no_function_reads_or_writes_across_tenants(engine, actor):
    entry = post(engine, actor, debit("1100", "9", "CNY"), credit("3100", "9", "CNY"))
    intruder = actor_for(new_tenant(engine))
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.CrossTenantReference):
        run_in_transaction(engine, lambda c: service.reverse_entry(c, intruder, entry.id, D(2026, 2, 1)))
    with engine.connect() as conn:
        assert queries.get_entry(conn, intruder.tenant_id, entry.id) is None
        assert queries.current_balances(conn, intruder.tenant_id, "1100") == []
        assert queries.list_entries(conn, intruder.tenant_id) == []
    assert snapshot(engine, actor.tenant_id) == before


def test_batch_is_all_or_nothing(engine, actor):
    good = EntryDraft(D(2026, 1, 5), (debit("1100", "1", "CNY"), credit("3100", "1", "CNY")))
    bad = EntryDraft(D(2026, 1, 5), (debit("1100", "1", "CNY"), credit("9999", "1", "CNY")))
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.UnknownAccount):
        run_in_transaction(engine, lambda c: service.post_entries(c, actor, [good] * 5 + [bad]))
    assert snapshot(engine, actor.tenant_id) == before
    posted = run_in_transaction(engine, lambda c: service.post_entries(c, actor, [good] * 50))
    assert len({e.id for e in posted}) == 50
    assert net(engine, actor.tenant_id, "1100") == 50 * 100


def test_list_entries_pages_newest_first(engine, actor):
    ids = [post(engine, actor, debit("1100", "1", "CNY"), credit("3100", "1", "CNY")).id for _ in range(5)]
    with engine.connect() as conn:
        first = queries.list_entries(conn, actor.tenant_id, limit=3)
        rest = queries.list_entries(conn, actor.tenant_id, limit=3, after=(first[-1].recorded_at, first[-1].id))
        only_capital = queries.list_entries(conn, actor.tenant_id, account_code="3100", limit=10)
    assert {e.id for e in first + rest} == set(ids) and len(first + rest) == 5
    assert len(only_capital) == 5


def test_default_chart_of_accounts(engine, actor):
    with engine.connect() as conn:
        chart = {a.code: a for a in queries.list_accounts(conn, actor.tenant_id)}
        roles = queries.account_roles(conn, actor.tenant_id)
    for role in ("bank", "loans_receivable", "interest_receivable", "fee_receivable", "penalty_receivable",
                 "allowance", "overpayments", "suspense", "interest_income", "fee_income", "penalty_income",
                 "write_off_expense", "recoveries", "capital"):
        assert role in roles
    assert chart["1100"].balance_slots > 1
    assert chart["2100"].normal_balance.value == "CREDIT"


def test_a_callers_audit_events_are_written_with_the_entry_and_sealed_or_not_at_all(engine, tenant_id):
    actor = actor_for(tenant_id)
    t = tables.audit_events
    loan_event = {"action": "loan.repayment", "entity_type": "loan", "entity_id": "L-1", "before": {"status": "ACTIVE"},
                  "after": {"status": "ACTIVE", "amount": 500}}
    day = dt.date(2026, 1, 5)
    good = EntryDraft(day, (debit("1100", "5.00", "CNY"), credit("1200", "5.00", "CNY")), "repayment", {"loan_id": "L-1"})
    entry = run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, good, events=[loan_event]))

    def events_of(entity_id: str) -> list[sa.Row]:
        with engine.connect() as conn:
            return conn.execute(sa.select(t).where(t.c.tenant_id == tenant_id, t.c.entity_id == entity_id)).all()

    (written,) = events_of("L-1")
    assert (written.action, written.actor, written.request_id) == ("loan.repayment", actor.name, actor.request_id)
    assert '"amount":500' in written.after and len(events_of(str(entry.id))) == 1
    with engine.connect() as conn:
        chained = conn.execute(
            sa.select(sa.func.count()).select_from(tables.audit_chain).where(
                tables.audit_chain.c.tenant_id == tenant_id, tables.audit_chain.c.event_id == written.id
            )
        ).scalar()
    assert chained == 1

    bad = EntryDraft(day, (debit("1100", "5.00", "CNY"), credit("1200", "4.00", "CNY")), "unbalanced", {})
    other = {**loan_event, "entity_id": "L-2"}
    with pytest.raises(errors.UnbalancedEntry):
        run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, bad, events=[other]))
    assert events_of("L-2") == []

    keyed = EntryDraft(day, good.postings, "repayment", {"loan_id": "L-3"}, idempotency_key=f"k-{uuid.uuid4().hex}")
    run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, keyed))
    replay_event = {**loan_event, "entity_id": "L-3"}
    replayed = run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, keyed, events=[replay_event]))
    assert replayed.idempotency_key == keyed.idempotency_key
    assert len(events_of("L-3")) == 1  # a replay writes no entry; the caller's event still is recorded


_event_text = st.text(max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    description=_event_text,
    key=st.none() | _event_text.filter(bool),
    reverses=st.none() | st.uuids(),
    legs=st.lists(st.tuples(_event_text.filter(bool), st.sampled_from(["CNY", "JPY"]), st.integers(-(10**15), 10**15)), min_size=1, max_size=5),
    day=st.dates(),
    digest=st.binary(min_size=32, max_size=32),
)
def test_the_hand_written_posted_event_body_is_canonical_json(description, key, reverses, legs, day, digest):
    """Each posted entry's audit event records its content hash and request: written by hand for speed, it must be
    exactly what canonical_json wrote before (the chain hashes the stored text, and verify reads it back)."""
    from ledger.model import Posting, canonical_json

    draft = EntryDraft(day, tuple(Posting(c, cur, a) for c, cur, a in legs), description, {}, key, reverses_entry_id=reverses)
    expected = canonical_json({
        "content_hash": digest.hex(), "effective_date": day.isoformat(), "description": description,
        "postings": [[c, cur, a] for c, cur, a in legs], "idempotency_key": key,
        "reverses": str(reverses) if reverses else None,
    })
    assert journal_rows.posted_event_body(draft, digest.hex()) == expected
