"""Close of business catching up: every pending date in order, the same books as day by day, resumable."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger import queries
from ledger.unit_of_work import run_in_transaction
from loans import cob_catch_up, money
from loans.cob_catch_up import pending_dates, run_close_of_business_through
from loans.errors import CobOutOfOrder
from tests.conftest import actor_for
from tests.loans.conftest import D, apply, check_books, cob


def disbursed(book, on=D(2026, 1, 15)):
    engine, tenant_id, *_ = book
    loan_id = apply(book, start=on)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, actor_for(tenant_id, "finance"), loan_id, on))
    return loan_id


def balances(engine, tenant_id):
    with engine.connect() as conn:
        return {(line.account.code, line.currency): (line.debit_minor, line.credit_minor)
                for line in queries.trial_balance(conn, tenant_id).lines}


def test_catching_up_closes_every_pending_date_in_order_with_the_books_of_day_by_day(book, engine, cipher):
    _, tenant_id, *_ = book
    disbursed(book)
    seen = []
    summaries = run_close_of_business_through(
        engine, tenant_id, D(2026, 3, 1), on_date=lambda i, n, s: seen.append((i, n, s.business_date)),
    )
    # From the day after disbursement, when nothing was closed before.
    assert [s.business_date for s in summaries] == [D(2026, 1, 16) + dt.timedelta(days=n) for n in range(45)]
    assert seen[0] == (1, 45, D(2026, 1, 16)) and seen[-1] == (45, 45, D(2026, 3, 1))
    assert all(s.loans_processed == 1 for s in summaries)
    with engine.connect() as conn:
        assert pending_dates(conn, tenant_id, D(2026, 3, 1)) == []
        assert pending_dates(conn, tenant_id, D(2026, 3, 3)) == [D(2026, 3, 2), D(2026, 3, 3)]
    assert run_close_of_business_through(engine, tenant_id, D(2026, 3, 1)) == []  # idempotent
    caught_up = balances(engine, tenant_id)
    check_books(engine, tenant_id)

    # The same loan closed one date at a time gives the same trial balance, to the minor unit.
    from tests.loans.conftest import book as make_book
    other = make_book.__wrapped__(engine, cipher)
    disbursed(other)
    cob(engine, other[1], D(2026, 1, 16), D(2026, 3, 1))
    assert balances(engine, other[1]) == caught_up and caught_up


def test_a_catch_up_in_worker_processes_gives_the_books_of_one_process(pg_engine, cipher):
    # Worker processes close batches on PostgreSQL only.
    from loanbook.db import worker_engine
    from tests.loans.conftest import book as make_book

    engine = pg_engine
    book = make_book.__wrapped__(engine, cipher)
    tenant_id = book[1]
    for _ in range(5):
        disbursed(book)
    # Three batches a date, closed by one set of two processes for all 36 dates.
    summaries = run_close_of_business_through(
        engine, tenant_id, D(2026, 2, 20), batch_size=2, workers=2, engine_factory=worker_engine,
    )
    assert len(summaries) == 36 and all(s.loans_processed == 5 for s in summaries)
    check_books(engine, tenant_id)
    other = make_book.__wrapped__(engine, cipher)
    for _ in range(5):
        disbursed(other)
    cob(engine, other[1], D(2026, 1, 16), D(2026, 2, 20))
    assert balances(engine, other[1]) == balances(engine, tenant_id)


def test_an_interrupted_catch_up_resumes_at_the_date_it_was_closing(book, engine):
    _, tenant_id, *_ = book
    for _ in range(3):
        disbursed(book)

    def stop_on_the_third_date(done, total):
        with engine.connect() as conn:
            started = conn.execute(sa.text("SELECT count(*) FROM cob_runs WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
        if started == 3 and done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_close_of_business_through(engine, tenant_id, D(2026, 1, 25), batch_size=1, progress=stop_on_the_third_date)
    with engine.connect() as conn:
        assert cob_catch_up.last_closed(conn, tenant_id) == (D(2026, 1, 18), False)
        assert pending_dates(conn, tenant_id, D(2026, 1, 25))[0] == D(2026, 1, 18)
    resumed = run_close_of_business_through(engine, tenant_id, D(2026, 1, 25))
    assert resumed[0].business_date == D(2026, 1, 18) and resumed[0].resumed and resumed[0].loans_processed == 2
    assert [s.business_date for s in resumed][-1] == D(2026, 1, 25) and len(resumed) == 8
    check_books(engine, tenant_id)


def test_a_mistyped_year_is_refused_before_anything_closes(book, engine):
    _, tenant_id, *_ = book
    disbursed(book)
    with pytest.raises(CobOutOfOrder, match="at most 3660"):
        run_close_of_business_through(engine, tenant_id, D(8026, 1, 1))
    with engine.connect() as conn:
        assert cob_catch_up.last_closed(conn, tenant_id) is None


def test_the_cli_catches_up_through_a_date_and_says_so(book, engine, monkeypatch, capsys):
    from ledger.store import tables
    from loanbook.cli import main as cli_main

    _, tenant_id, *_ = book
    disbursed(book)
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tables.tenants.c.slug).where(tables.tenants.c.id == tenant_id)).scalar()
    assert cli_main(["cob", "--through", "2026-01-20", "--tenant", slug, "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{slug}: closed 2026-01-16 (1/5): 1 loans" in out
    assert f"{slug}: closed 5 business date(s), 2026-01-16 to 2026-01-20" in out
    assert cli_main(["cob", "--through", "2026-01-20", "--tenant", slug]) == 0
    assert "already closed; nothing changed" in capsys.readouterr().out
