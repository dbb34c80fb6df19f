"""ledger.service.post_standalone: one entry as a transaction of its own (one statement on PostgreSQL).

It must answer exactly as run_in_transaction(post_entry) does: the same rows, errors, replays and
audit trail, on both databases; and on PostgreSQL survive what its autocommit statement can meet.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import threading
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from ledger import errors, queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.store.transaction import HeldConnection, run_in_transaction
from ledger.verify import verify_books
from loanbook.db import make_engine
from tests.conftest import actor_for, new_tenant
from tests.ledger.test_journal import BAD, net, snapshot

D = dt.date


def draft(*legs, on=D(2026, 1, 5), **kw):
    return EntryDraft(on, tuple(legs), **kw)


def same(stored, posted):
    """Equal entries; SQLite hands timestamps back without their (UTC) zone."""
    if stored.recorded_at.tzinfo is None:
        stored = dataclasses.replace(stored, recorded_at=stored.recorded_at.replace(tzinfo=dt.timezone.utc))
    return stored == posted


def unsealed(engine, tenant_id):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(tables.audit_unsealed).where(tables.audit_unsealed.c.tenant_id == tenant_id)
        ).scalar_one()


def test_posts_the_rows_post_entry_posts_and_seals_its_event(engine):
    legs = (debit("1200", "10000.00", "CNY"), credit("1100", "9800.00", "CNY"), credit("4200", "200.00", "CNY"))
    both = []
    for road in ("transaction", "standalone"):
        actor = actor_for(new_tenant(engine), "clerk")
        entry_draft = draft(*legs, description="disburse L-1", metadata={"loan_id": "L-1"})
        if road == "standalone":
            entry = service.post_standalone(engine, actor, entry_draft)
        else:
            entry = run_in_transaction(engine, lambda c: service.post_entry(c, actor, entry_draft))
        with engine.connect() as conn:
            stored = queries.get_entry(conn, actor.tenant_id, entry.id)
            events = conn.execute(
                sa.select(tables.audit_events.c.action, tables.audit_events.c.entity_id)
                .where(tables.audit_events.c.tenant_id == actor.tenant_id, tables.audit_events.c.entity_type == "journal_entry")
            ).all()
            report = verify_books(conn, [actor.tenant_id])
        assert same(stored, entry)
        assert [(p.account_code, p.amount_minor) for p in stored.postings] == [("1200", 1000000), ("1100", -980000), ("4200", -20000)]
        assert events == [("journal_entry.posted", str(entry.id))]
        assert unsealed(engine, actor.tenant_id) == 0  # sealed before returning, as run_in_transaction does
        assert report.clean, report.discrepancies
        assert net(engine, actor.tenant_id, "1100") == -980000
        assert net(engine, actor.tenant_id, "4200", as_of=D(2026, 1, 5)) == -20000
        assert net(engine, actor.tenant_id, "4200", as_of=D(2026, 1, 4)) == 0
        both.append((stored.postings, stored.metadata, stored.description, stored.effective_date))
    assert both[0] == both[1]


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gets_the_same_typed_error_and_writes_nothing(engine, actor, case):
    service.post_standalone(engine, actor, draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY")))
    before = snapshot(engine, actor.tenant_id)
    make_legs, error = BAD[case]
    with pytest.raises(error) as caught:
        service.post_standalone(engine, actor, draft(*make_legs()))
    assert caught.value.code == error.code and caught.value.message
    assert snapshot(engine, actor.tenant_id) == before


def test_an_account_closed_after_it_was_cached_is_refused(engine, actor):
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1160", "Old bank", "ASSET", parent_code="1000"))
    service.post_standalone(engine, actor, draft(debit("1160", "1", "CNY"), credit("3100", "1", "CNY")))  # now cached
    service.post_standalone(engine, actor, draft(debit("3100", "1", "CNY"), credit("1160", "1", "CNY")))
    run_in_transaction(engine, lambda c: service.close_account(c, actor, "1160"))
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.AccountClosed):
        service.post_standalone(engine, actor, draft(debit("1160", "1", "CNY"), credit("3100", "1", "CNY")))
    assert snapshot(engine, actor.tenant_id) == before
    service.post_standalone(engine, actor, draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY")))


def test_a_process_reads_a_tenants_open_chart_once_and_new_accounts_when_first_named(pg_engine, monkeypatch):
    from ledger.store import journal

    actor = actor_for(new_tenant(pg_engine))
    run_in_transaction(pg_engine, lambda c: service.open_account(c, actor, "1160", "Old bank", "ASSET", parent_code="1000"))
    run_in_transaction(pg_engine, lambda c: service.close_account(c, actor, "1160"))
    reads = []
    real_read = journal._read_chart
    monkeypatch.setattr(journal, "_read_chart", lambda conn, statement, params: reads.append(params) or real_read(conn, statement, params))
    service.post_standalone(pg_engine, actor, draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY")))
    service.post_standalone(pg_engine, actor, draft(debit("1200", "1", "CNY"), credit("4100", "1", "CNY")))
    assert reads == [(actor.tenant_id, journal.chart_preload_accounts_max)]  # the whole chart, once
    with pg_engine.connect() as conn:
        cached = journal.accounts_for_posting(conn, actor.tenant_id, ["1100"])
        assert cached["1100"].status.value == "OPEN"
        chart = journal._chart_cache[(journal._database_key(pg_engine), actor.tenant_id)]
        assert "1160" not in chart and {"1100", "1200", "3100", "4100", "5100"} <= set(chart)

    run_in_transaction(pg_engine, lambda c: service.open_account(c, actor, "1170", "New bank", "ASSET", parent_code="1000"))
    service.post_standalone(pg_engine, actor, draft(debit("1170", "2", "CNY"), credit("3100", "2", "CNY")))
    assert reads[1:] == [(actor.tenant_id, ["1170"])]  # opened after the chart was read: read when first named
    with pytest.raises(errors.AccountClosed):
        service.post_standalone(pg_engine, actor, draft(debit("1160", "1", "CNY"), credit("3100", "1", "CNY")))
    assert net(pg_engine, actor.tenant_id, "1170") == 200


def test_a_replayed_key_returns_the_original_on_either_road_and_a_changed_request_is_refused(engine, actor):
    legs = (debit("1100", "25.00", "CNY"), credit("3100", "25.00", "CNY"))
    first = service.post_standalone(engine, actor, draft(*legs, idempotency_key="pay-1"))
    before = snapshot(engine, actor.tenant_id)
    assert same(service.post_standalone(engine, actor, draft(*legs, idempotency_key="pay-1")), first)
    assert run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft(*legs, idempotency_key="pay-1"))).id == first.id
    with pytest.raises(errors.IdempotencyConflict):
        service.post_standalone(engine, actor, draft(debit("1100", "26.00", "CNY"), credit("3100", "26.00", "CNY"), idempotency_key="pay-1"))
    assert snapshot(engine, actor.tenant_id) == before
    keyed = run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft(*legs, idempotency_key="pay-2")))
    assert service.post_standalone(engine, actor, draft(*legs, idempotency_key="pay-2")).id == keyed.id


def test_a_reversal_goes_through_the_transaction_and_happens_once(engine, actor):
    original = service.post_standalone(engine, actor, draft(debit("1200", "500", "CNY"), credit("1100", "500", "CNY")))
    reversal = service.post_standalone(
        engine, actor, draft(credit("1200", "500", "CNY"), debit("1100", "500", "CNY"), on=D(2026, 1, 7), reverses_entry_id=original.id)
    )
    assert reversal.reverses_entry_id == original.id
    assert net(engine, actor.tenant_id, "1200") == 0
    with pytest.raises(errors.AlreadyReversed):
        service.post_standalone(
            engine, actor, draft(credit("1200", "500", "CNY"), debit("1100", "500", "CNY"), reverses_entry_id=original.id)
        )
    with pytest.raises(errors.UnknownEntry):
        service.post_standalone(
            engine, actor, draft(credit("1200", "5", "CNY"), debit("1100", "5", "CNY"), reverses_entry_id=uuid.uuid4())
        )


def test_the_same_key_sent_at_once_from_eight_connections_is_posted_once(pg_engine):
    tenant_id = new_tenant(pg_engine)
    keyed = draft(debit("1100", "7", "CNY"), credit("3100", "7", "CNY"), idempotency_key="same-key")
    ids, failures, start = [], [], threading.Barrier(8)

    def worker(i):
        try:
            start.wait()
            ids.append(service.post_standalone(pg_engine, actor_for(tenant_id, f"clerk-{i}"), keyed).id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not failures, failures[:3]
    assert len(ids) == 8 and len(set(ids)) == 1
    assert net(pg_engine, tenant_id, "1100") == 700
    with pg_engine.connect() as conn:
        assert verify_books(conn, [tenant_id]).clean
    assert unsealed(pg_engine, tenant_id) == 0


def test_a_connection_lost_after_the_statement_committed_is_retried_and_answers_the_posted_entry(pg_engine, monkeypatch):
    """The statement may commit and its answer never arrive: the retry writes nothing and finds the entry."""
    tenant_id = new_tenant(pg_engine)
    actor = actor_for(tenant_id)
    real_write, calls = service.write_standalone, []

    def write_then_lose_the_connection(engine, pooled, *args):
        calls.append(real_write(engine, pooled, *args))
        if len(calls) == 1:
            pooled.driver_connection.close()  # the server went away before the answer arrived
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return calls[-1]

    monkeypatch.setattr(service, "write_standalone", write_then_lose_the_connection)
    entry = service.post_standalone(pg_engine, actor, draft(debit("1100", "3", "CNY"), credit("3100", "3", "CNY")))
    assert calls == [True, False]  # the first run committed; the second found the entry's id taken
    with pg_engine.connect() as conn:
        assert [e.id for e in queries.list_entries(conn, tenant_id)] == [entry.id]
        assert verify_books(conn, [tenant_id]).clean
    assert net(pg_engine, tenant_id, "1100") == 300
    assert unsealed(pg_engine, tenant_id) == 0


def test_a_connection_lost_before_the_statement_ran_is_retried(pg_engine, monkeypatch):
    tenant_id = new_tenant(pg_engine)
    actor = actor_for(tenant_id)
    real_write, calls = service.write_standalone, []

    def lose_the_connection_first(engine, pooled, *args):
        calls.append(len(calls))
        if len(calls) == 1:
            pooled.driver_connection.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real_write(engine, pooled, *args)

    monkeypatch.setattr(service, "write_standalone", lose_the_connection_first)
    entry = service.post_standalone(pg_engine, actor, draft(debit("1100", "4", "CNY"), credit("3100", "4", "CNY")))
    assert calls == [0, 1]
    with pg_engine.connect() as conn:
        assert [e.id for e in queries.list_entries(conn, tenant_id)] == [entry.id]


def test_a_pooled_connection_the_server_dropped_is_replaced_and_the_entry_posted_once(pg_url):
    """The server ended the pooled connection's session (a restart, an idle timeout): the first write
    fails on it, the pool drops it, and the retry posts on a fresh one."""
    engine = make_engine(pg_url, pool_size=1)
    admin = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    try:
        tenant_id = new_tenant(engine)
        actor = actor_for(tenant_id)
        service.post_standalone(engine, actor, draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY")))
        with engine.connect() as conn:  # the pool's one connection
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            conn.rollback()
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        entry = service.post_standalone(engine, actor, draft(debit("1100", "2", "CNY"), credit("3100", "2", "CNY")))
        with engine.connect() as conn:
            listed = queries.list_entries(conn, tenant_id)
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
        assert len(listed) == 2 and entry.id in {e.id for e in listed}
        assert net(engine, tenant_id, "1100") == 300
    finally:
        engine.dispose()
        admin.dispose()


def test_a_held_connection_posts_every_entry_on_one_backend_and_goes_back_to_the_pool_as_it_came(pg_url):
    engine = make_engine(pg_url, pool_size=1)
    try:
        tenant_id = new_tenant(engine)
        with HeldConnection(engine) as held:
            backend = held.pooled().driver_connection.info.backend_pid
            for amount in ("1", "2", "3"):
                service.post_standalone(engine, actor_for(tenant_id), draft(debit("1100", amount, "CNY"), credit("3100", amount, "CNY")), held=held)
            assert held.pooled().driver_connection.info.backend_pid == backend
            assert engine.pool.checkedout() == 1 and engine.pool.overflow() == 0  # sealed on it too: one connection in all
        assert engine.pool.checkedout() == 0 and unsealed(engine, tenant_id) == 0
        with engine.connect() as conn:  # the same connection, back in SQLAlchemy's hands: transactions work
            assert conn.connection.driver_connection.autocommit is False
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == backend
            conn.execute(sa.text("CREATE TEMPORARY TABLE scratch (x int)"))
            conn.rollback()
            assert conn.execute(sa.text("SELECT to_regclass('pg_temp.scratch')")).scalar() is None
        assert net(engine, tenant_id, "1100") == 600
    finally:
        engine.dispose()


def test_a_statement_deallocated_on_the_connection_is_prepared_again(pg_engine):
    tenant_id = new_tenant(pg_engine)
    with HeldConnection(pg_engine) as held:
        service.post_standalone(pg_engine, actor_for(tenant_id), draft(debit("1100", "5", "CNY"), credit("3100", "5", "CNY")), held=held)
        held.pooled().driver_connection.execute("DEALLOCATE ALL")
        service.post_standalone(pg_engine, actor_for(tenant_id), draft(debit("1100", "6", "CNY"), credit("3100", "6", "CNY")), held=held)
    assert net(pg_engine, tenant_id, "1100") == 1100
    with pg_engine.connect() as conn:
        assert verify_books(conn, [tenant_id]).clean


def test_a_held_connection_the_server_dropped_is_replaced_and_the_entry_posted_once(pg_url):
    engine = make_engine(pg_url, pool_size=1)
    admin = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    try:
        tenant_id = new_tenant(engine)
        with HeldConnection(engine) as held:
            service.post_standalone(engine, actor_for(tenant_id), draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY")), held=held)
            backend = held.pooled().driver_connection.info.backend_pid
            with admin.connect() as conn:
                assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
            entry = service.post_standalone(
                engine, actor_for(tenant_id), draft(debit("1100", "2", "CNY"), credit("3100", "2", "CNY")), held=held
            )
            assert held.pooled().driver_connection.info.backend_pid != backend
        assert engine.pool.checkedout() == 0
        with engine.connect() as conn:
            assert entry.id in {e.id for e in queries.list_entries(conn, tenant_id)}
        assert net(engine, tenant_id, "1100") == 300
    finally:
        engine.dispose()
        admin.dispose()


def test_a_held_connection_dropped_without_close_goes_back_to_the_pool_out_of_autocommit(pg_url):
    engine = make_engine(pg_url, pool_size=1)
    try:
        tenant_id = new_tenant(engine)
        held = HeldConnection(engine)
        service.post_standalone(engine, actor_for(tenant_id), draft(debit("1100", "1", "CNY"), credit("3100", "1", "CNY")), held=held)
        backend = held.pooled().driver_connection.info.backend_pid
        del held
        gc.collect()  # the pool takes the connection back from the garbage collector
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == backend
            assert conn.connection.driver_connection.autocommit is False
            conn.execute(sa.text("CREATE TEMPORARY TABLE scratch (x int)"))
            conn.rollback()  # a transaction again: the table is gone
            assert conn.execute(sa.text("SELECT to_regclass('pg_temp.scratch')")).scalar() is None
    finally:
        engine.dispose()
