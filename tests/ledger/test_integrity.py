"""Posted history is immutable, and `loanbook verify` notices anything altered behind our back."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ledger import service
from ledger.model import EntryDraft, credit, debit

from ledger.sealing import (
    BackgroundSealer,
    seal_all_pending,
    seal_in_background,
    seal_pending,
    sealed_in_background,
    sealing_deferred,
)
from ledger.store import tables
from ledger.store.tables import metadata
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from loanbook.cli import main as cli_main
from tests.conftest import actor_for, new_tenant

both = pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)


def seed(engine):
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    drafts = [
        EntryDraft(dt.date(2026, 1, 5), (debit("1100", "1000", "CNY"), credit("3100", "1000", "CNY")), "capital"),
        EntryDraft(dt.date(2026, 1, 6), (debit("1200", "800", "CNY"), credit("1100", "780", "CNY"), credit("4200", "20", "CNY"))),
    ]
    entries = [run_in_transaction(engine, lambda c, d=d: service.post_entry(c, actor, d)) for d in drafts]
    return tenant_id, entries


def problems(engine):
    with engine.connect() as conn:
        return verify_books(conn).discrepancies


@both
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE postings SET amount_minor = amount_minor + 1",
        "DELETE FROM postings",
        "UPDATE journal_entries SET description = 'edited'",
        "DELETE FROM journal_entries",
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "UPDATE audit_chain SET hash = 'x'",
    ],
)
def test_database_refuses_to_change_posted_rows(fresh_engine, statement):
    seed(fresh_engine)
    with pytest.raises(sa.exc.DBAPIError, match="immutable"):
        with fresh_engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert problems(fresh_engine) == []


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_truncate_is_refused_on_postgresql(fresh_engine):
    seed(fresh_engine)
    with pytest.raises(sa.exc.DBAPIError, match="immutable"):
        with fresh_engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE postings CASCADE"))


def _behind_the_triggers_back(engine, statement):
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # disables triggers
            conn.execute(sa.text(statement))
        else:
            names = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all()
            sql = {n: conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": n}).scalar() for n in names}
            for name in names:
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
            conn.execute(sa.text(statement))
            for name in names:
                conn.execute(sa.text(sql[name]))


@both
def test_verify_catches_a_posting_altered_with_its_balances(fresh_engine, capsys, monkeypatch):
    _, entries = seed(fresh_engine)
    assert problems(fresh_engine) == []
    # A careful tamperer moves 1.00 and fixes the counters too; the content hash still gives it away.
    _behind_the_triggers_back(
        fresh_engine,
        f"UPDATE postings SET amount_minor = amount_minor + 100 WHERE entry_id = '{_id(fresh_engine, entries[1].id)}' AND line_no = 1",
    )
    found = problems(fresh_engine)
    assert any("does not balance" in p for p in found)
    assert any("altered after posting" in p for p in found)
    assert any("stored balance of 1200 CNY" in p for p in found)
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    assert cli_main(["verify"]) == 1
    out = capsys.readouterr().out
    assert "DISCREPANCY" in out and str(entries[1].id) in out


@both
def test_verify_catches_an_edited_audit_event(fresh_engine):
    seed(fresh_engine)
    _behind_the_triggers_back(fresh_engine, "UPDATE audit_events SET actor = 'mallory' WHERE action = 'account.opened'")
    assert any("does not match its hash" in p for p in problems(fresh_engine))


@both
def test_verify_catches_a_deleted_chain_link(fresh_engine):
    seed(fresh_engine)
    _behind_the_triggers_back(fresh_engine, "DELETE FROM audit_chain WHERE seq = 3")
    found = problems(fresh_engine)
    assert any("gap" in p for p in found)
    assert any("neither sealed nor waiting" in p for p in found)


@both
def test_verify_cli_is_clean_on_honest_books(fresh_engine, capsys, monkeypatch):
    seed(fresh_engine)
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    assert cli_main(["verify"]) == 0
    assert "clean" in capsys.readouterr().out


@both
def test_every_committed_event_is_sealed_after_commit(fresh_engine):
    tenant_id, _ = seed(fresh_engine)
    with fresh_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_unsealed")).scalar() == 0
        events = conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar()
        assert conn.execute(sa.text("SELECT max(seq) FROM audit_chain")).scalar() == events
    assert seal_pending(fresh_engine, tenant_id) == 0


def _queue_and_chain(engine):
    with engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT count(*) FROM audit_unsealed")).scalar(),
            conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar(),
            conn.execute(sa.text("SELECT count(*) FROM audit_chain")).scalar(),
        )


@both
def test_an_engine_sealed_in_background_commits_without_sealing_and_the_queue_keeps_the_events(fresh_engine):
    tenant_id, _ = seed(fresh_engine)
    seal_in_background(fresh_engine)  # ...but no sealer runs yet
    seed(fresh_engine)
    queued, events, chained = _queue_and_chain(fresh_engine)
    assert queued > 0 and chained == events - queued
    with fresh_engine.connect() as conn:  # awaiting the seal: pending, not discrepancies
        report = verify_books(conn)
    assert report.clean and report.pending_events == queued
    assert seal_all_pending(fresh_engine) == queued
    assert _queue_and_chain(fresh_engine) == (0, events, events)
    assert problems(fresh_engine) == []


@both
def test_deferred_sealing_queues_events_and_chains_them_when_the_block_ends(fresh_engine):
    seed(fresh_engine)
    with sealing_deferred(fresh_engine):
        seed(fresh_engine)
        seed(fresh_engine)
        queued, events, chained = _queue_and_chain(fresh_engine)
        assert queued > 0 and chained == events - queued
    assert _queue_and_chain(fresh_engine) == (0, events, events)
    assert not sealed_in_background(fresh_engine)  # the engine seals at commit again
    seed(fresh_engine)
    assert _queue_and_chain(fresh_engine)[0] == 0
    assert problems(fresh_engine) == []


@both
def test_the_background_sealer_chains_what_concurrent_writers_commit(fresh_engine):
    tenant_ids = [new_tenant(fresh_engine) for _ in range(2)]
    sealer = BackgroundSealer(fresh_engine, interval=dt.timedelta(milliseconds=5)).start()

    def writer(tenant_id):
        actor = actor_for(tenant_id)
        for i in range(15):
            draft = EntryDraft(dt.date(2026, 1, 5), (debit("1100", f"{i + 1}", "CNY"), credit("3100", f"{i + 1}", "CNY")))
            run_in_transaction(fresh_engine, lambda c, d=draft: service.post_entry(c, actor, d))

    threads = [threading.Thread(target=writer, args=(t,)) for t in tenant_ids for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sealer.stop()
    queued, events, chained = _queue_and_chain(fresh_engine)
    assert (queued, chained) == (0, events) and sealer.sealed >= 60
    assert problems(fresh_engine) == []
    # Stopped, the engine seals before returning again.
    seed(fresh_engine)
    assert _queue_and_chain(fresh_engine)[0] == 0


@both
def test_seal_follow_cli_seals_then_stops_on_a_signal(fresh_engine, monkeypatch, capsys):
    tenant_id, _ = seed(fresh_engine)
    seal_in_background(fresh_engine)
    seed(fresh_engine)
    queued = _queue_and_chain(fresh_engine)[0]
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    import loanbook.cli as cli

    handlers = {}
    monkeypatch.setattr(cli.signal, "signal", lambda signum, handler: handlers.setdefault(signum, handler))
    threading.Timer(0.3, lambda: handlers[cli.signal.SIGTERM](cli.signal.SIGTERM, None)).start()
    assert cli_main(["seal", "--follow", "--interval", "0.01"]) == 0
    assert f"sealed {queued} audit event(s)" in capsys.readouterr().out
    assert _queue_and_chain(fresh_engine)[0] == 0


@both
def test_migrations_match_the_table_definitions(fresh_engine):
    with fresh_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def _id(engine, entry_id):
    # SQLite stores UUIDs as 32 hex characters, PostgreSQL as uuid.
    return entry_id.hex if engine.dialect.name == "sqlite" else str(entry_id)


def test_the_background_sealer_outlives_a_dropped_connection(pg_url):
    """The server ends the sealer's session (a restart, say): the pass fails, is logged, and the next one seals."""
    from loanbook.db import make_engine

    engine = make_engine(sa.make_url(pg_url).update_query_dict({"application_name": "sealer-outlives"}).render_as_string(False))
    admin = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    sealer = BackgroundSealer(engine, interval=dt.timedelta(milliseconds=5)).start()
    try:
        tenant_id = new_tenant(engine)
        actor = actor_for(tenant_id)
        with admin.connect() as conn:  # every connection of the engine's pool, the sealer's among them
            ended = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sealer-outlives'"
            )).scalar()
        assert ended >= 1
        draft = EntryDraft(dt.date(2026, 1, 5), (debit("1100", "1", "CNY"), credit("3100", "1", "CNY")))
        run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _pending(engine, tenant_id):
            time.sleep(0.05)
        assert sealer._thread.is_alive()
        assert not _pending(engine, tenant_id)
    finally:
        sealer.stop()
        engine.dispose()
        admin.dispose()


def _pending(engine, tenant_id):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(tables.audit_unsealed).where(tables.audit_unsealed.c.tenant_id == tenant_id)
        ).scalar()


def test_a_connection_lost_while_sealing_after_commit_returns_the_committed_entry(pg_url, monkeypatch, caplog):
    """The work committed; the seal that follows fails: the caller gets its answer, the event waits on the queue."""
    from ledger import unit_of_work
    from loanbook.db import make_engine

    engine = make_engine(pg_url, pool_size=1)
    try:
        tenant_id = new_tenant(engine)
        actor = actor_for(tenant_id)

        def lose_the_connection(conn, tenant_id, event_ids):
            raise sa.exc.OperationalError("SELECT pg_try_advisory_lock", {}, Exception("server closed the connection"))

        seal_pending(engine, tenant_id)
        monkeypatch.setattr(unit_of_work, "seal_committed", lose_the_connection)
        # Opening an account records an event that is sealed after commit (a posting may seal in its statement).
        account = run_in_transaction(engine, lambda conn: service.open_account(conn, actor, "1150", "Petty cash", "ASSET"))
        assert account.code == "1150" and _pending(engine, tenant_id) == 1
        assert "sealing after commit failed" in caplog.text
        monkeypatch.undo()
        seal_pending(engine, tenant_id)
        assert _pending(engine, tenant_id) == 0 and problems(engine) == []
    finally:
        engine.dispose()
