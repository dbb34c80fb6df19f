"""`loanbook verify` while clients post: one snapshot, events awaiting the sealer counted as pending.

An entry and its audit event commit together; the sealer chains the event moments later. Seen in
between, the event is pending sealing, which is no discrepancy: verify reports how many, checks
the entry against the content hash its queued event records, and exits 1 only for real ones.
"""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.sealing import BackgroundSealer, seal_pending
from ledger.store import tables
from ledger.unit_of_work import read_connection, run_in_transaction
from ledger.verify import verify_books
from loanbook.cli import main as cli_main
from tests.conftest import actor_for, new_tenant

both = pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)


def _draft(n: int, **extra: object) -> EntryDraft:
    amount = f"{n}.00"
    return EntryDraft(dt.date(2026, 1, 5), (debit("1200", amount, "CNY"), credit("1100", amount, "CNY")), f"row {n}", **extra)


def _slug(engine: sa.Engine, tenant_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(tables.tenants.c.slug).where(tables.tenants.c.id == tenant_id)).scalar_one()


def _queued(engine: sa.Engine, tenant_id: int) -> int:
    with engine.connect() as conn:
        q = tables.audit_unsealed
        return conn.execute(sa.select(sa.func.count()).select_from(q).where(q.c.tenant_id == tenant_id)).scalar_one()


def _post_unsealed(engine: sa.Engine, tenant_id: int) -> None:
    """Three entries and an import batch of two, committed and left on the sealer's queue."""
    actor = actor_for(tenant_id)
    for n in (1, 2, 3):
        run_in_transaction(engine, lambda c, n=n: service.post_entry(c, actor, _draft(n)), seal=False)
    run_in_transaction(engine, lambda c: service.import_entries(c, actor, [_draft(4), _draft(5)], reference="test"), seal=False)


def _behind_the_triggers_back(engine: sa.Engine, statement: str) -> None:
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
def test_events_awaiting_the_sealer_are_counted_as_pending_and_verify_exits_0(fresh_engine, capsys, monkeypatch):
    tenant_id = new_tenant(fresh_engine)
    seal_pending(fresh_engine, tenant_id)
    _post_unsealed(fresh_engine, tenant_id)
    queued = _queued(fresh_engine, tenant_id)
    assert queued == 4  # three entries' events and the batch's one
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    assert cli_main(["verify", "--no-seal", "--tenant", _slug(fresh_engine, tenant_id)]) == 0
    out = capsys.readouterr().out
    assert f"{queued} audit events pending sealing" in out
    assert "DISCREPANCY" not in out and out.rstrip().endswith("clean")
    with read_connection(fresh_engine) as conn:
        report = verify_books(conn, [tenant_id])
    assert report.clean and report.pending_events == queued and report.entries == 5
    # Sealed, nothing is pending and the line is gone.
    assert cli_main(["verify", "--tenant", _slug(fresh_engine, tenant_id)]) == 0
    out = capsys.readouterr().out
    assert "pending sealing" not in out and _queued(fresh_engine, tenant_id) == 0


@both
def test_a_tampered_entry_is_a_discrepancy_while_its_event_is_pending(fresh_engine, capsys, monkeypatch):
    tenant_id = new_tenant(fresh_engine)
    _post_unsealed(fresh_engine, tenant_id)
    _behind_the_triggers_back(fresh_engine, f"UPDATE journal_entries SET description = 'edited' WHERE tenant_id = {tenant_id} "
                                            "AND description = 'row 2'")
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    assert cli_main(["verify", "--no-seal", "--tenant", _slug(fresh_engine, tenant_id)]) == 1
    out = capsys.readouterr().out
    assert "4 audit events pending sealing" in out
    discrepancies = [line for line in out.splitlines() if line.startswith("DISCREPANCY")]
    assert len(discrepancies) == 2, out
    assert "was altered after posting" in discrepancies[0]
    assert "differs from what its audit event (pending sealing) recorded" in discrepancies[1]


@both
def test_an_event_dropped_from_the_queue_is_a_discrepancy(fresh_engine, capsys, monkeypatch):
    tenant_id = new_tenant(fresh_engine)
    _post_unsealed(fresh_engine, tenant_id)
    _behind_the_triggers_back(fresh_engine, f"DELETE FROM audit_unsealed WHERE tenant_id = {tenant_id}")
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    assert cli_main(["verify", "--no-seal", "--tenant", _slug(fresh_engine, tenant_id)]) == 1
    out = capsys.readouterr().out
    assert "neither sealed nor waiting to be sealed" in out
    assert "has no audit event recording it, sealed or pending sealing" in out


@both
def test_verify_while_clients_post_and_the_sealer_runs_is_clean(fresh_engine):
    """Writers commit and a background sealer chains behind them; every verification meanwhile is clean."""
    tenant_id = new_tenant(fresh_engine)
    actor = actor_for(tenant_id)
    stop = threading.Event()
    posted: list[int] = []
    failures: list[BaseException] = []

    def client(offset: int) -> None:
        n = offset
        try:
            while not stop.is_set() and n < offset + 400:
                run_in_transaction(fresh_engine, lambda c, n=n: service.post_entry(c, actor, _draft(n + 1)), seal=False)
                posted.append(n)
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    sealer = BackgroundSealer(fresh_engine).start()
    clients = [threading.Thread(target=client, args=(k * 1000,)) for k in range(2)]
    for thread in clients:
        thread.start()
    reports = []
    try:
        deadline = time.monotonic() + 20
        while len(reports) < 3 and time.monotonic() < deadline:
            with read_connection(fresh_engine) as conn:
                reports.append(verify_books(conn, [tenant_id]))
    finally:
        stop.set()
        for thread in clients:
            thread.join()
        sealer.stop()
    assert not failures and posted
    assert len(reports) == 3 and all(report.clean for report in reports), [r.discrepancies[:3] for r in reports]
    seal_pending(fresh_engine, tenant_id)
    with read_connection(fresh_engine) as conn:
        final = verify_books(conn, [tenant_id])
    assert final.clean and final.pending_events == 0 and final.entries == len(posted)
