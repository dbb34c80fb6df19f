"""Digests and tampering: rows changed behind the application's back (triggers off) are named.

One fresh database per backend; each tampering gets a tenant of its own and is checked by the
same calls `loanbook verify` makes, scoped to that tenant.
"""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from ledger import service
from ledger.audit import chain_hash, genesis_hash
from ledger.digest import audit_digest, parse_digest, verify_digest
from ledger.model import EntryDraft, credit, debit
from ledger.sealing import seal_pending
from ledger.store.sealer import event_from_row
from ledger.store.tables import audit_chain, audit_events, tenants
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from loanbook.cli import main as cli_main
from loans import money
from loans.pii import FieldCipher
from loans.verify import verify_subledger
from tests.conftest import actor_for
from tests.ledger.test_integrity import _behind_the_triggers_back, _id, seed
from tests.loans.conftest import apply

both = pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
D = dt.date


def problems(engine, tenant_id):
    with engine.connect() as conn:
        return verify_books(conn, [tenant_id]).discrepancies + verify_subledger(conn, tenant_id)


def digest_of(engine, tenant_id):
    seal_pending(engine, tenant_id)
    with engine.connect() as conn:
        return audit_digest(conn, tenant_id)


def digest_problems(engine, tenant_id, digest):
    with engine.connect() as conn:
        return verify_digest(conn, tenant_id, digest.seq, digest.hash)


def event_at(engine, tenant_id, seq):
    with engine.connect() as conn:
        event_id = conn.execute(
            sa.select(audit_chain.c.event_id).where(audit_chain.c.tenant_id == tenant_id, audit_chain.c.seq == seq)
        ).scalar_one()
    return event_id


def test_a_digest_parses_only_as_seq_colon_hash():
    assert parse_digest(" 12:" + "a" * 64) == (12, "a" * 64)
    for bad in ("12", "x:" + "a" * 64, "12:" + "g" * 64, "12:abc"):
        with pytest.raises(Exception, match="SEQ:HASH"):
            parse_digest(bad)


@both
def test_every_tampering_behind_the_applications_back_is_named(fresh_engine):
    engine = fresh_engine
    cases = {}

    def tenant_with_entries():
        tenant_id, entries = seed(engine)
        return tenant_id, entries, digest_of(engine, tenant_id)

    # journal entries, postings (edited, deleted, inserted), balance counters
    t, entries, digest = tenant_with_entries()
    e = _id(engine, entries[1].id)
    _behind_the_triggers_back(engine, f"UPDATE journal_entries SET description = 'edited' WHERE tenant_id = {t} AND id = '{e}'")
    cases["entry edited"] = (t, digest, str(entries[1].id), "altered after posting")
    t, entries, digest = tenant_with_entries()
    e = _id(engine, entries[1].id)
    _behind_the_triggers_back(engine, f"DELETE FROM postings WHERE tenant_id = {t} AND entry_id = '{e}' AND line_no = 3")
    cases["posting deleted"] = (t, digest, str(entries[1].id), "does not balance")
    t, entries, digest = tenant_with_entries()
    e = _id(engine, entries[0].id)
    _behind_the_triggers_back(engine, "INSERT INTO postings (tenant_id, entry_id, line_no, account_code, currency, amount_minor,"
                              f" effective_date) VALUES ({t}, '{e}', 3, '1100', 'CNY', 500, '2026-01-05')")
    cases["posting inserted"] = (t, digest, str(entries[0].id), "does not balance")
    t, entries, digest = tenant_with_entries()
    _behind_the_triggers_back(engine, f"UPDATE account_balances SET debit_minor = debit_minor + 1 WHERE tenant_id = {t} AND account_code = '1100'")
    cases["balance edited"] = (t, digest, "stored balance of 1100 CNY", "postings sum to")
    # audit events: edited, deleted, inserted
    t, entries, digest = tenant_with_entries()
    edited = _id(engine, event_at(engine, t, 2))
    _behind_the_triggers_back(engine, f"UPDATE audit_events SET actor = 'mallory' WHERE tenant_id = {t} AND id = '{edited}'")
    cases["event edited"] = (t, digest, "seq 2", "does not match its hash")
    t, entries, digest = tenant_with_entries()
    deleted = _id(engine, event_at(engine, t, 3))
    _behind_the_triggers_back(engine, f"DELETE FROM audit_events WHERE tenant_id = {t} AND id = '{deleted}'")
    cases["event deleted"] = (t, digest, "seq 3", "missing event")
    t, entries, digest = tenant_with_entries()
    _behind_the_triggers_back(
        engine, "INSERT INTO audit_events (tenant_id, id, occurred_at, actor, action, entity_type, entity_id)"
        f" VALUES ({t}, '{_id(engine, entries[0].id)}', '2026-01-07 00:00:00', 'mallory', 'loan.approved', 'loan', 'x')",
    )
    cases["event inserted"] = (t, digest, str(entries[0].id), "neither sealed nor waiting")

    for name, (tenant_id, digest, named, wording) in cases.items():
        found = problems(engine, tenant_id)
        assert any(named in p and wording in p for p in found), (name, found)
    for name in ("event edited", "event deleted"):
        tenant_id, digest, named, _ = cases[name]
        assert any(named in p for p in digest_problems(engine, tenant_id, digest)), name
    for name in ("entry edited", "posting deleted", "balance edited"):  # the audit trail itself is intact
        tenant_id, digest, _, _ = cases[name]
        assert digest_problems(engine, tenant_id, digest) == []


@both
def test_a_chain_rewritten_whole_passes_its_own_check_but_not_the_digest(fresh_engine):
    engine = fresh_engine
    tenant_id, _ = seed(engine)
    digest = digest_of(engine, tenant_id)
    assert digest.seq > 3 and digest_problems(engine, tenant_id, digest) == []
    edited = _id(engine, event_at(engine, tenant_id, 2))
    _behind_the_triggers_back(engine, f"UPDATE audit_events SET reason = 'rewritten' WHERE tenant_id = {tenant_id} AND id = '{edited}'")
    # The tamperer recomputes every link and the head, so the chain agrees with itself again.
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_chain.c.seq, audit_events)
            .select_from(audit_chain.join(audit_events, sa.and_(
                audit_events.c.tenant_id == audit_chain.c.tenant_id, audit_events.c.id == audit_chain.c.event_id)))
            .where(audit_chain.c.tenant_id == tenant_id).order_by(audit_chain.c.seq)
        ).all()
    previous, fixes = genesis_hash, []
    for row in rows:
        new = chain_hash(previous, event_from_row(row))
        fixes.append(f"UPDATE audit_chain SET prev_hash = '{previous}', hash = '{new}' WHERE tenant_id = {tenant_id} AND seq = {row.seq}")
        previous = new
    fixes.append(f"UPDATE audit_chain_heads SET last_hash = '{previous}' WHERE tenant_id = {tenant_id}")
    for statement in fixes:
        _behind_the_triggers_back(engine, statement)
    assert problems(engine, tenant_id) == []  # only the digest handed out earlier can tell
    (problem,) = digest_problems(engine, tenant_id, digest)
    assert f"up to seq {digest.seq} was rewritten" in problem


@both
def test_a_loan_edited_behind_the_back_is_named_and_the_cli_proves_a_digest(fresh_engine, capsys, monkeypatch):
    from tests.loans.conftest import book as book_fixture  # noqa: F401

    engine = fresh_engine
    cipher = FieldCipher(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"k" * 32)))
    lender = book_fixture.__wrapped__(engine, cipher)
    _, tenant_id, officer, _, _ = lender
    loan_id = apply(lender)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tenants.c.slug).where(tenants.c.id == tenant_id)).scalar_one()
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert cli_main(["audit", "digest", "--tenant", slug]) == 0
    first, sealed, tenant_line = capsys.readouterr().out.splitlines()[:3]
    seq, digest_hash = parse_digest(first)
    assert sealed.startswith("sealed at ") and tenant_line == f"tenant {slug}"
    assert cli_main(["verify", "--tenant", slug, "--digest", first]) == 0
    assert "unchanged" in capsys.readouterr().out
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "100.00", "CNY", D(2026, 1, 16)))
    assert cli_main(["verify", "--tenant", slug, "--digest", first]) == 0  # later history does not matter
    capsys.readouterr()
    _behind_the_triggers_back(engine, f"UPDATE loans SET principal = principal - 100 WHERE tenant_id = {tenant_id}")
    edited = _id(engine, event_at(engine, tenant_id, 2))
    _behind_the_triggers_back(engine, f"UPDATE audit_events SET actor = 'mallory' WHERE tenant_id = {tenant_id} AND id = '{edited}'")
    assert cli_main(["verify", "--tenant", slug, "--digest", first]) == 1
    out = capsys.readouterr().out
    assert f"digest {seq}:{digest_hash[:12]}...: audit event seq 2" in out
    assert f"loan {loan_id}" in out
