"""`loanbook backup` / `loanbook restore`: a loan book restored into a fresh database is the same books.

The lender disburses 10,000.00, closes five business dates and takes two repayments; the backup is
restored into a new database, which then answers the same trial balance, the same audit chain head
and a clean `loanbook verify`. A restore over a database that holds tables is refused and changes
nothing; a backup never overwrites a file.
"""
from __future__ import annotations

import base64
import datetime as dt
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import queries, service
from ledger.digest import audit_digest
from ledger.model import EntryDraft, credit, debit
from ledger.sealing import seal_pending
from ledger.store.tables import journal_entries
from ledger.unit_of_work import run_in_transaction
from loanbook.backup import backup_database
from loanbook.cli import main as cli_main
from loanbook.db import make_engine, scratch_database
from loans import money
from loans.pii import FieldCipher
from tests.conftest import actor_for, new_tenant, pg_admin_url
from tests.loans.conftest import apply, cob

both = pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
D = dt.date


def url_of(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@contextmanager
def empty_database(engine: sa.Engine, tmp_path: Path):
    """A new, empty database on the same backend as `engine`."""
    if engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    with scratch_database(pg_admin_url, f"loanbook_restore_{uuid.uuid4().hex[:12]}") as url:
        yield url


def the_books(url: str, tenant_id: int):
    """What must survive a restore: the trial balance, the chain head and the count of entries."""
    engine = make_engine(url)
    try:
        seal_pending(engine, tenant_id)
        with engine.connect() as conn:
            tb = queries.trial_balance(conn, tenant_id)
            digest = audit_digest(conn, tenant_id)
            entries = conn.execute(sa.select(sa.func.count()).select_from(journal_entries)
                                   .where(journal_entries.c.tenant_id == tenant_id)).scalar_one()
        return [(l.account.code, l.currency, l.debit_minor, l.credit_minor) for l in tb.lines], tb.balanced, digest.text, entries
    finally:
        engine.dispose()


@pytest.fixture
def lender(fresh_engine):
    from tests.loans.conftest import book as book_fixture

    cipher = FieldCipher(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"k" * 32)))
    book = book_fixture.__wrapped__(fresh_engine, cipher)
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 15), D(2026, 1, 19))
    for n, amount in enumerate(("300.00", "125.50")):
        run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, amount, "CNY", D(2026, 1, 20),
                                                                    idempotency_key=f"bank-0120-{n}"))
    return engine, tenant_id


@both
def test_a_restored_backup_has_the_same_trial_balance_and_chain_head(lender, tmp_path, capsys, monkeypatch):
    engine, tenant_id = lender
    before = the_books(url_of(engine), tenant_id)
    assert before[1] and before[3] > 5  # balanced; disbursement, accruals and repayments posted
    backup = tmp_path / "books.backup"
    assert cli_main(["backup", "--output", str(backup), "--database-url", url_of(engine)]) == 0
    assert f"to {backup}" in capsys.readouterr().out
    with empty_database(engine, tmp_path) as target:
        assert cli_main(["restore", str(backup), "--database-url", target]) == 0
        assert "restored" in capsys.readouterr().out
        assert the_books(target, tenant_id) == before
        monkeypatch.setenv("LOANBOOK_DATABASE_URL", target)
        assert cli_main(["verify", "--digest", before[2]]) == 0
        out = capsys.readouterr().out
        assert "the history up to it is unchanged" in out and out.rstrip().endswith("clean")


@both
def test_a_restore_over_books_is_refused_and_changes_nothing(lender, tmp_path, capsys):
    engine, tenant_id = lender
    backup = tmp_path / "books.backup"
    assert cli_main(["backup", "--output", str(backup), "--database-url", url_of(engine)]) == 0
    before = the_books(url_of(engine), tenant_id)
    capsys.readouterr()
    assert cli_main(["restore", str(backup), "--database-url", url_of(engine)]) == 1
    assert capsys.readouterr().err.startswith("error: RESTORE_TARGET_NOT_EMPTY: ")
    assert the_books(url_of(engine), tenant_id) == before
    # A second backup to the same file is refused: the first one stays as it was.
    size = backup.stat().st_size
    assert cli_main(["backup", "--output", str(backup), "--database-url", url_of(engine)]) == 1
    assert capsys.readouterr().err.startswith("error: BACKUP_FAILED: ")
    assert backup.stat().st_size == size


@both
def test_a_file_that_is_no_backup_of_this_backend_is_refused_before_anything_is_written(fresh_engine, tmp_path, capsys):
    other = tmp_path / "other.backup"
    other.write_bytes(b"PGDMP" if fresh_engine.dialect.name == "sqlite" else b"SQLite format 3\x00")
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("opening balances\n")
    with empty_database(fresh_engine, tmp_path) as target:
        for file in (other, not_a_backup, tmp_path / "missing.backup"):
            assert cli_main(["restore", str(file), "--database-url", target]) == 1
            assert capsys.readouterr().err.startswith("error: BACKUP_UNREADABLE: ")
        engine = make_engine(target)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        engine.dispose()


@both
def test_a_backup_taken_while_entries_post_restores_to_balanced_verified_books(fresh_engine, tmp_path, monkeypatch):
    """The backup is one snapshot: entries posting meanwhile are in it whole or not at all."""
    engine = fresh_engine
    tenant_id = new_tenant(engine)
    stop, posted = threading.Event(), []

    def post_meanwhile():
        while not stop.is_set():
            draft = EntryDraft(D(2026, 1, 5), (debit("1100", "10.00", "CNY"), credit("3100", "10.00", "CNY")), "capital", {})
            posted.append(run_in_transaction(engine, lambda c: service.post_entry(c, actor_for(tenant_id), draft)).id)

    writer = threading.Thread(target=post_meanwhile)
    writer.start()
    try:
        while len(posted) < 3:
            time.sleep(0.01)
        backup_database(url_of(engine), tmp_path / "live.backup")
        after_backup = len(posted) + 2  # the writer keeps going after the snapshot
        while len(posted) < after_backup:
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join(30)
    with empty_database(engine, tmp_path) as target:
        assert cli_main(["restore", str(tmp_path / "live.backup"), "--database-url", target]) == 0
        lines, balanced, _, entries = the_books(target, tenant_id)
        assert balanced and 3 <= entries < len(posted)
        assert dict(((code, side), amount) for code, _, d, c in lines for side, amount in (("dr", d), ("cr", c)) if amount) == {
            ("1100", "dr"): 1000 * entries, ("3100", "cr"): 1000 * entries}
        monkeypatch.setenv("LOANBOOK_DATABASE_URL", target)
        assert cli_main(["verify"]) == 0


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_a_restore_into_a_database_not_there_yet_creates_it(lender, tmp_path, capsys):
    engine, tenant_id = lender
    before = the_books(url_of(engine), tenant_id)
    backup = tmp_path / "books.backup"
    assert cli_main(["backup", "--output", str(backup), "--database-url", url_of(engine)]) == 0
    name = f"loanbook_restore_{uuid.uuid4().hex[:12]}"
    target = sa.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        assert cli_main(["restore", str(backup), "--database-url", target]) == 0
        assert the_books(target, tenant_id) == before
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
