"""Many connections posting to the same accounts: no lost update, no deadlock reaches the caller."""
from __future__ import annotations

import collections
import datetime as dt
import random
import threading

import pytest

from ledger import errors, queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.sealing import seal_pending
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from tests.conftest import actor_for, new_tenant

threads_count = 8


def run_threads(target, count=threads_count):
    failures = []

    def guarded(i):
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    workers = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert not failures, failures[:3]


@pytest.mark.parametrize("entries_per_thread", [200])
def test_concurrent_posting_over_a_hot_account_is_exact(pg_engine, entries_per_thread):
    engine = pg_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    shared = [f"12{n:02d}" for n in range(50, 54)]
    for code in shared:
        run_in_transaction(engine, lambda c, code=code: service.open_account(c, actor, code, f"Loan book {code}", "ASSET", parent_code="1000"))
    expected = collections.Counter()
    lock = threading.Lock()

    def worker(i):
        rng = random.Random(i)
        mine = collections.Counter()
        for n in range(entries_per_thread):
            cents = rng.randint(1, 1_000_000)
            account = rng.choice(shared)
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 60))
            legs = [debit(account, _fmt(cents), "CNY"), credit("1100", _fmt(cents), "CNY")]
            if n % 3 == 0:  # a three-leg entry touching a second shared account
                fee = rng.randint(1, 999)
                legs = [debit(account, _fmt(cents + fee), "CNY"), credit("1100", _fmt(cents), "CNY"), credit(shared[0], _fmt(fee), "CNY")]
                mine[shared[0]] -= fee
                mine[account] += cents + fee
            else:
                mine[account] += cents
            mine["1100"] -= cents
            draft = EntryDraft(day, tuple(legs), f"t{i}-{n}")
            clerk = actor_for(tenant_id, f"clerk-{i}")
            run_in_transaction(engine, lambda c: service.post_entry(c, clerk, draft))
        with lock:
            expected.update(mine)

    run_threads(worker)
    with engine.connect() as conn:
        for code in ["1100", *shared]:
            balances = queries.current_balances(conn, tenant_id, code)
            assert sum(b.net_minor for b in balances) == expected[code], code
            assert queries.balance_as_of(conn, tenant_id, code, "CNY", dt.date(2027, 1, 1)).net_minor == expected[code]
        assert queries.trial_balance(conn, tenant_id).balanced
        report = verify_books(conn, [tenant_id])
    assert report.clean, report.discrepancies[:5]
    assert report.entries == threads_count * entries_per_thread


def _fmt(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def test_racing_reversals_and_replays_resolve_to_one_entry(engine):
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    target = run_in_transaction(
        engine,
        lambda c: service.post_entry(c, actor, EntryDraft(dt.date(2026, 1, 5), (debit("1100", "5", "CNY"), credit("3100", "5", "CNY")))),
    )
    outcomes = collections.Counter()
    replay_ids = set()
    lock = threading.Lock()
    draft = EntryDraft(dt.date(2026, 1, 6), (debit("1100", "7", "CNY"), credit("3100", "7", "CNY")), idempotency_key="same-key")

    def worker(i):
        try:
            run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, target.id, dt.date(2026, 1, 6)))
            result = "reversed"
        except errors.AlreadyReversed:
            result = "already"
        entry = run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
        with lock:
            outcomes[result] += 1
            replay_ids.add(entry.id)

    run_threads(worker, count=6)
    assert outcomes == {"reversed": 1, "already": 5}
    assert len(replay_ids) == 1
    with engine.connect() as conn:
        assert sum(b.net_minor for b in queries.current_balances(conn, tenant_id, "1100")) == 700
        assert verify_books(conn, [tenant_id]).clean


def test_a_posting_racing_an_account_close_waits_and_is_refused(pg_engine):
    """The posting's snapshot sees the account open; the close commits while the posting waits: refused."""
    engine = pg_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1161", "Old bank", "ASSET", parent_code="1000"))
    draft = EntryDraft(dt.date(2026, 1, 5), (debit("1161", "5", "CNY"), credit("3100", "5", "CNY")))
    for legs in ((debit("1161", "1", "CNY"), credit("3100", "1", "CNY")), (credit("1161", "1", "CNY"), debit("3100", "1", "CNY"))):
        run_in_transaction(engine, lambda c, legs=legs: service.post_entry(c, actor, EntryDraft(dt.date(2026, 1, 5), legs)))
    closing = engine.connect()
    transaction = closing.begin()
    service.close_account(closing, actor, "1161")  # holds the account and balance rows until it commits
    outcome = []

    def post():
        try:
            run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
            outcome.append("posted")
        except errors.AccountClosed:
            outcome.append("refused")

    poster = threading.Thread(target=post)
    poster.start()
    poster.join(timeout=1.0)
    assert poster.is_alive()  # waiting for the close
    transaction.commit()
    closing.close()
    poster.join(timeout=60)
    assert outcome == ["refused"]
    seal_pending(engine, tenant_id)  # the close ran outside run_in_transaction, which would have sealed it
    with engine.connect() as conn:
        assert queries.current_balances(conn, tenant_id, "1161") == [] or all(
            b.net_minor == 0 for b in queries.current_balances(conn, tenant_id, "1161")
        )
        assert verify_books(conn, [tenant_id]).clean


def test_a_close_waits_for_a_posting_in_flight_and_then_sees_its_balance(pg_engine):
    engine = pg_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1162", "Old bank", "ASSET", parent_code="1000"))
    posting = engine.connect()
    transaction = posting.begin()
    service.post_entry(posting, actor, EntryDraft(dt.date(2026, 1, 5), (debit("1162", "5", "CNY"), credit("3100", "5", "CNY"))))
    outcome = []

    def close():
        try:
            run_in_transaction(engine, lambda c: service.close_account(c, actor, "1162"))
            outcome.append("closed")
        except errors.AccountNotEmpty:
            outcome.append("not empty")

    closer = threading.Thread(target=close)
    closer.start()
    closer.join(timeout=1.0)
    assert closer.is_alive()  # waiting for the posting's transaction
    transaction.commit()
    posting.close()
    closer.join(timeout=60)
    assert outcome == ["not empty"]
    seal_pending(engine, tenant_id)
    with engine.connect() as conn:
        assert verify_books(conn, [tenant_id]).clean
