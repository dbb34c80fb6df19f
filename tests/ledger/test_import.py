"""Bulk import (ledger.service.import_entries): the checks of post_entries, one audit event per batch."""
from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import errors, journal_rows, queries, service
from ledger.ids import uuid7s
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.store.balances import balance_rows
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from tests.conftest import actor_for, new_tenant
from tests.ledger.test_integrity import _behind_the_triggers_back, _id

both = pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
day = dt.date(2026, 2, 3)


def lines(entry) -> list[tuple[str, str, int]]:
    return [(p.account_code, p.currency, p.amount_minor) for p in entry.postings]


def batch() -> list[EntryDraft]:
    return [
        EntryDraft(day, (debit("1100", "1000.00", "CNY"), credit("3100", "1000.00", "CNY")), "opening capital", {"row": 1}),
        EntryDraft(day, (debit("1200", "800.00", "CNY"), credit("1100", "780.00", "CNY"), credit("4200", "20.00", "CNY")),
                   "migrated loan L-1", {"loan_id": "L-1"}),
        EntryDraft(day + dt.timedelta(days=1), (debit("1100", "35.50", "CNY"), credit("1200", "35.50", "CNY")),
                   "migrated repayment L-1", {"loan_id": "L-1"}),
    ]


def counts(engine, tenant_id: int) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id)).scalar()
            for t in (tables.journal_entries, tables.postings, tables.audit_events)
        )


def test_an_import_posts_exact_lines_balances_and_one_chained_event_recording_every_entry(engine, tenant_id):
    actor = actor_for(tenant_id, "migration")
    events_before = counts(engine, tenant_id)[2]
    posted = run_in_transaction(engine, lambda c: service.import_entries(c, actor, batch(), reference="legacy-2026-02.csv"))

    assert [lines(e) for e in posted] == [
        [("1100", "CNY", 100000), ("3100", "CNY", -100000)],
        [("1200", "CNY", 80000), ("1100", "CNY", -78000), ("4200", "CNY", -2000)],
        [("1100", "CNY", 3550), ("1200", "CNY", -3550)],
    ]
    assert [e.id for e in posted] == sorted(e.id for e in posted) and all(e.id.version == 7 for e in posted)
    with engine.connect() as conn:
        for entry in posted:
            stored = queries.get_entry(conn, tenant_id, entry.id)
            assert (lines(stored), stored.description, stored.metadata, stored.actor, stored.content_hash) == (
                lines(entry), entry.description, entry.metadata, "migration", entry.content_hash
            )
        net = {code: sum(b.net_minor for b in queries.current_balances(conn, tenant_id, code)) for code in ("1100", "1200", "3100", "4200")}
        assert net == {"1100": 100000 - 78000 + 3550, "1200": 80000 - 3550, "3100": -100000, "4200": -2000}
        assert queries.balance_as_of(conn, tenant_id, "1200", "CNY", day).net_minor == 80000
        assert queries.trial_balance(conn, tenant_id).balanced
        t = tables.audit_events
        (event,) = conn.execute(sa.select(t).where(t.c.tenant_id == tenant_id, t.c.action == "journal_entries.imported")).all()
        chained = conn.execute(
            sa.select(sa.func.count()).select_from(tables.audit_chain).where(
                tables.audit_chain.c.tenant_id == tenant_id, tables.audit_chain.c.event_id == event.id
            )
        ).scalar()
        report = verify_books(conn, [tenant_id])
    after = json.loads(event.after)
    assert event.entity_type == "journal_batch" and event.actor == "migration" and chained == 1
    assert after == {"reference": "legacy-2026-02.csv", "postings": 7, "entries": [[str(e.id), e.content_hash] for e in posted]}
    assert counts(engine, tenant_id)[2] == events_before + 1  # one event for the batch, not one per entry
    assert report.clean, report.discrepancies


@pytest.mark.parametrize(
    "bad, error",
    [
        (EntryDraft(day, (debit("1100", "5.00", "CNY"), credit("1200", "4.00", "CNY")), "unbalanced"), errors.UnbalancedEntry),
        (EntryDraft(day, (debit("1100", "5.00", "CNY"), credit("9999", "5.00", "CNY")), "unknown"), errors.UnknownAccount),
        (EntryDraft(day, (debit("1100", "5", "JPY"), credit("1200", "5", "JPY")), "wrong currency"), errors.CurrencyNotAllowed),
    ],
)
def test_one_bad_entry_refuses_the_whole_import_and_writes_nothing(engine, tenant_id, bad, error):
    actor = actor_for(tenant_id)
    if error is errors.CurrencyNotAllowed:
        run_in_transaction(engine, lambda c: service.open_account(c, actor, "1190", "CNY bank", "ASSET", currencies=["CNY"]))
        bad = EntryDraft(day, (debit("1190", "5", "JPY"), credit("1100", "5", "JPY")), "wrong currency")
    before = counts(engine, tenant_id)
    with pytest.raises(error):
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, [*batch(), bad]))
    assert counts(engine, tenant_id) == before


def test_an_import_refuses_a_closed_account_and_a_too_long_reference(engine, tenant_id):
    actor = actor_for(tenant_id)
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1150", "Old bank", "ASSET"))
    run_in_transaction(engine, lambda c: service.close_account(c, actor, "1150"))
    before = counts(engine, tenant_id)
    closed = EntryDraft(day, (debit("1150", "5.00", "CNY"), credit("1100", "5.00", "CNY")), "closed")
    with pytest.raises(errors.AccountClosed):
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, [closed]))
    with pytest.raises(errors.InvalidEntry):
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, batch(), reference="x" * 201))
    assert counts(engine, tenant_id) == before


def test_an_import_replays_by_idempotency_key_and_refuses_a_changed_request(engine, tenant_id):
    actor = actor_for(tenant_id)
    run = uuid.uuid4().hex
    keyed = [EntryDraft(d.effective_date, d.postings, d.description, d.metadata, f"{run}-{n}") for n, d in enumerate(batch())]
    first = run_in_transaction(engine, lambda c: service.import_entries(c, actor, keyed))
    before = counts(engine, tenant_id)
    extra = EntryDraft(day, (debit("1100", "1.00", "CNY"), credit("3100", "1.00", "CNY")), "new", {}, f"{run}-new")
    again = run_in_transaction(engine, lambda c: service.import_entries(c, actor, [*keyed, extra]))
    assert [e.id for e in again[:3]] == [e.id for e in first] and again[3].id not in {e.id for e in first}
    assert counts(engine, tenant_id) == (before[0] + 1, before[1] + 2, before[2] + 1)  # only the new entry, one event
    changed = EntryDraft(day, (debit("1100", "2.00", "CNY"), credit("3100", "2.00", "CNY")), "new", {}, f"{run}-new")
    with pytest.raises(errors.IdempotencyConflict):
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, [changed]))
    # An imported entry is reversed like any other, once.
    run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, first[1].id, day))
    with pytest.raises(errors.AlreadyReversed):
        run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, first[1].id, day))


@both
def test_verify_catches_an_imported_posting_altered_behind_the_triggers_back(fresh_engine):
    tenant_id = new_tenant(fresh_engine)
    posted = run_in_transaction(fresh_engine, lambda c: service.import_entries(c, actor_for(tenant_id), batch()))
    with fresh_engine.connect() as conn:
        assert verify_books(conn).clean
    # The tamperer keeps the entry balanced and even rewrites its content hash to match; the chained
    # batch event still holds the hash the entry was imported with.
    from ledger.model import EntryDraft as Draft, Posting, content_hash, request_hash

    target = posted[2]
    forged = Draft(target.effective_date, (Posting("1100", "CNY", 3650), Posting("1200", "CNY", -3650)),
                   target.description, target.metadata)
    forged_hash = content_hash(target.id, request_hash(forged), target.actor)
    entry_id = _id(fresh_engine, target.id)
    _behind_the_triggers_back(fresh_engine, f"UPDATE postings SET amount_minor = 3650 WHERE entry_id = '{entry_id}' AND line_no = 1")
    _behind_the_triggers_back(fresh_engine, f"UPDATE postings SET amount_minor = -3650 WHERE entry_id = '{entry_id}' AND line_no = 2")
    _behind_the_triggers_back(fresh_engine, f"UPDATE journal_entries SET content_hash = '{forged_hash}' WHERE id = '{entry_id}'")
    with fresh_engine.connect() as conn:
        found = verify_books(conn).discrepancies
    assert any(str(target.id) in p and "differs from what its sealed audit event recorded" in p for p in found)


def _tenant_with_an_old_bank(engine):
    """A fresh tenant with an open account 1150 to close; (tenant id, actor)."""
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1150", "Old bank", "ASSET"))
    return tenant_id, actor


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_an_account_cannot_close_under_an_import_that_holds_it(fresh_engine):
    engine = fresh_engine
    tenant_id, actor = _tenant_with_an_old_bank(engine)
    importing = engine.connect()
    importing.begin()
    service.import_entries(importing, actor, [EntryDraft(day, (debit("1150", "5.00", "CNY"), credit("3100", "5.00", "CNY")), "x")])
    outcome: list[object] = []

    def close() -> None:
        try:
            outcome.append(run_in_transaction(engine, lambda c: service.close_account(c, actor_for(tenant_id), "1150")))
        except Exception as exc:  # noqa: BLE001 - the outcome is the assertion
            outcome.append(exc)

    closer = threading.Thread(target=close)
    closer.start()
    closer.join(0.5)
    assert outcome == []  # waits on the import's FOR SHARE lock instead of reading a zero balance
    importing.commit()
    importing.close()
    closer.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], errors.AccountNotEmpty)


def test_uuid7s_are_version_7_unique_and_strictly_increasing_across_calls_and_milliseconds():
    first = uuid7s(5000)  # more than the 4,096 a millisecond's counter holds
    second = uuid7s(3)
    ids = first + second
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    stamp = ids[0].int >> 80
    now_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    assert abs(stamp - now_ms) < 60_000
    # Made without UUID.__init__'s checks, they are UUIDs in every way that can be observed.
    import pickle

    for made in (ids[0], ids[-1]):
        plain = uuid.UUID(int=made.int)
        assert (made, hash(made), str(made), made.bytes, made.hex, made.is_safe) == (
            plain, hash(plain), str(plain), plain.bytes, plain.hex, plain.is_safe)
        assert pickle.loads(pickle.dumps(made)) == plain and uuid.UUID(str(made)) == made


movement = st.tuples(
    st.sampled_from(["1100", "1200", "4100"]), st.sampled_from(["CNY", "USD"]),
    st.dates(dt.date(2025, 11, 25), dt.date(2026, 2, 3)), st.integers(-10**12, 10**12).filter(bool),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(movement, max_size=40), st.integers(1, 8))
def test_balance_rows_equal_a_plain_sum_per_key(movements, slots_1100):
    slots = {"1100": slots_1100, "1200": 1, "4100": 3}
    rows = balance_rows(movements, slots)
    current: dict = {}
    periods: dict = {}
    for code, currency, when, amount in movements:
        d, c = (amount, 0) if amount > 0 else (0, -amount)
        for totals, key in (
            (current, (code, currency)),
            (periods, (code, currency, "D", when)),
            (periods, (code, currency, "M", when.replace(day=1))),
            (periods, (code, currency, "Y", when.replace(month=1, day=1))),
        ):
            old = totals.get(key, (0, 0))
            totals[key] = (old[0] + d, old[1] + c)
    assert {(code, cur): (d, c) for code, cur, _slot, d, c in rows.current} == current
    assert {(code, cur, g, start): (d, c) for code, cur, g, start, _slot, d, c in rows.periods} == periods
    assert rows.current == sorted(rows.current) and rows.periods == sorted(rows.periods)  # the lock order
    assert len(rows.current) == len(current) and len(rows.periods) == len(periods)  # one row per key: one slot per batch
    assert all(slot < slots[code] for code, _cur, slot, _d, _c in rows.current)
    named = balance_rows(movements, slots, pick=11)  # a connection's own pick: the same slot every time
    assert all(slot == 11 % slots[code] for code, _cur, slot, _d, _c in named.current)
    assert [r[:2] + r[3:] for r in named.current] == [r[:2] + r[3:] for r in rows.current]  # the same totals


@settings(max_examples=100, deadline=None)
@given(
    entries=st.lists(st.tuples(st.uuids(), st.binary(min_size=32, max_size=32)), max_size=20),
    postings=st.integers(0, 10**9),
    reference=st.text(max_size=200),
)
def test_the_hand_written_batch_event_body_is_canonical_json(entries, postings, reference):
    from ledger.model import canonical_json

    ids, digests = [str(i) for i, _ in entries], [d.hex() for _, d in entries]
    expected = canonical_json({"reference": reference or None, "entries": [[i, d] for i, d in zip(ids, digests)], "postings": postings})
    assert journal_rows.batch_event_body(ids, digests, postings, reference) == expected


def test_a_bad_entry_deep_in_a_large_import_ends_the_copy_and_writes_nothing(engine, tenant_id):
    """On PostgreSQL most drafts are checked while their rows stream: the rows already sent go too."""
    actor = actor_for(tenant_id)
    good = [EntryDraft(day, (debit("1100", f"{n + 1}.00", "CNY"), credit("3100", f"{n + 1}.00", "CNY")), f"row {n}", {"row": n})
            for n in range(3000)]
    bad_cases = [
        (EntryDraft(day, (debit("1100", "5.00", "CNY"),), "one posting"), errors.TooFewPostings),
        (EntryDraft(day, (debit("1100", "5.00", "CNY"), credit("9999", "5.00", "CNY")), "unknown"), errors.UnknownAccount),
        (EntryDraft(day, (debit("1100", "5.00", "CNY"), credit("3100", "5.00", "CNY")), "float", {"rate": 0.5}),
         errors.FloatAmountRefused),
    ]
    before = counts(engine, tenant_id)
    for bad, error in bad_cases:
        with pytest.raises(error):
            run_in_transaction(engine, lambda c: service.import_entries(c, actor, [*good[:2500], bad, *good[2500:]]))
    assert counts(engine, tenant_id) == before
    with engine.connect() as conn:
        assert verify_books(conn).clean


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_an_import_reads_the_chart_afresh_when_an_account_changed_behind_the_process_cache(fresh_engine):
    """Another process closed an account this process has cached as open: the import's lock sees it."""
    engine = fresh_engine
    tenant_id, actor = _tenant_with_an_old_bank(engine)
    to_old_bank = EntryDraft(day, (debit("1150", "5.00", "CNY"), credit("3100", "5.00", "CNY")), "x")
    back = EntryDraft(day, (debit("3100", "5.00", "CNY"), credit("1150", "5.00", "CNY")), "y")
    run_in_transaction(engine, lambda c: service.import_entries(c, actor, [to_old_bank, back]))  # 1150 is cached now
    # What another process's close_account leaves (its balance is zero): this process's cache is not told.
    with engine.begin() as conn:
        conn.execute(sa.update(tables.accounts).where(tables.accounts.c.tenant_id == tenant_id,
                                                      tables.accounts.c.code == "1150").values(status="CLOSED"))
    before = counts(engine, tenant_id)
    with pytest.raises(errors.AccountClosed):
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, [to_old_bank]))
    assert counts(engine, tenant_id) == before


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_a_failed_counter_statement_fails_the_import_whole_after_the_callers_work_ran(fresh_engine, monkeypatch):
    from ledger.store import bulk

    engine = fresh_engine
    tenant_id = new_tenant(engine)
    before = counts(engine, tenant_id)
    monkeypatch.setattr(bulk, "_counters_sql", "SELECT 1 / 0")
    with pytest.raises(sa.exc.DBAPIError, match="division by zero"):
        run_in_transaction(engine, lambda c: service.import_entries(c, actor_for(tenant_id), batch()))
    monkeypatch.undo()
    assert counts(engine, tenant_id) == before

    def failing() -> None:
        raise RuntimeError("the caller's work failed")

    with engine.begin() as conn:  # the statement still ends before the caller's error comes back
        with pytest.raises(RuntimeError, match="caller's work"):
            bulk.move_counters(conn, tenant_id, balance_rows([("1100", "CNY", day, 5), ("3100", "CNY", day, -5)], {"1100": 8, "3100": 1}), failing)
        conn.exec_driver_sql("SELECT 1")  # the connection is usable: no statement is still running on it
        conn.rollback()
    assert counts(engine, tenant_id) == before
