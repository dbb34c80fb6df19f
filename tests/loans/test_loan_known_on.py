"""A loan's statement as known on a moment: what the books said then, before a backdated repayment.

The loan is the fixture's: 10,000.00 at 12 % over 12 months from 15 January 2026, installment 888.49
(100.00 interest + 788.49 principal). Closed through 25 February with installment 1 unpaid: 10 days
of round(788.49 x 0.05 %) = 0.39 penalty (3.90) and the 50.00 late fee. Then a repayment of 888.49
dated 15 February is recorded: replayed, the loan was never late.
"""
from __future__ import annotations

import datetime as dt

import pytest

from ledger.unit_of_work import run_in_transaction
from loans import errors, money
from loans.portfolio import statement
from tests.loans.conftest import apply, check_books, cob

D = dt.date


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def fresh(actor):
    """The actor acting now (the fixture's actors carry the moment they were made)."""
    return actor.__class__(actor.tenant_id, actor.name, now())


def late_then_backdated(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 25))
    before = now()
    officer = fresh(officer)
    late = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    return loan_id, before, late


def test_a_backdated_repayment_is_absent_before_it_was_recorded_and_present_after(book):
    engine, tenant_id, _, _, _ = book
    loan_id, before, late = late_then_backdated(book)
    after = now()
    with engine.connect() as conn:
        then = statement(conn, tenant_id, loan_id, D(2026, 2, 25), known_on=before)
        later = statement(conn, tenant_id, loan_id, D(2026, 2, 25), known_on=after)
        today = statement(conn, tenant_id, loan_id, D(2026, 2, 25))
    # As known before it was recorded: installment 1 ten days overdue, penalty and late fee owed.
    assert late.transaction_id not in {t.id for t in then.transactions}
    assert [(s.status, s.paid, s.outstanding) for s in then.installments[:2]] == [("OVERDUE", 0, 88849), ("DUE", 0, 88849)]
    assert (then.state.principal, then.state.penalty, then.state.fee) == (1000000, 390, 5000)
    # As known after: paid on its due date, nothing late.
    assert late.transaction_id in {t.id for t in later.transactions}
    assert [(s.status, s.paid, s.outstanding) for s in later.installments[:2]] == [("PAID", 88849, 0), ("DUE", 0, 88849)]
    assert (later.state.principal, later.state.penalty, later.state.fee) == (921151, 0, 0)
    assert later.transactions_total == then.transactions_total + 1
    # Known on now is the statement without knownOn.
    assert later.state == today.state and later.installments == today.installments
    assert [t.id for t in later.transactions] == [t.id for t in today.transactions]
    check_books(engine, tenant_id)


def test_a_moment_before_the_loan_existed_knows_no_loan_and_one_before_disbursement_no_schedule(book):
    engine, tenant_id, officer, approver, borrower = book
    early = now()
    loan_id = apply((engine, tenant_id, fresh(officer), approver, borrower))
    approved = now()
    run_in_transaction(engine, lambda c: money.disburse_loan(c, fresh(officer), loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 1, 20))
    with engine.connect() as conn:
        with pytest.raises(errors.UnknownLoan):
            statement(conn, tenant_id, loan_id, D(2026, 1, 20), known_on=early)
        undisbursed = statement(conn, tenant_id, loan_id, D(2026, 1, 20), known_on=approved)
        disbursed = statement(conn, tenant_id, loan_id, D(2026, 1, 20), known_on=now())
    assert undisbursed.state is None and undisbursed.installments == () and undisbursed.transactions_total == 0
    assert disbursed.state.principal == 1000000 and len(disbursed.installments) == 12


def test_report_loan_statement_prints_the_statement_as_known_on_a_moment(book, monkeypatch, capsys):
    import csv
    import io

    import sqlalchemy as sa

    from ledger.store.tables import tenants
    from loanbook.cli import main as cli_main

    engine, tenant_id, _, _, _ = book
    loan_id, before, late = late_then_backdated(book)
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tenants.c.slug).where(tenants.c.id == tenant_id)).scalar()
    args = ["report", "loan-statement", "--tenant", slug, "--loan", str(loan_id), "--as-of", "2026-02-25"]

    def rows(*extra):
        assert cli_main(args + list(extra)) == 0
        return list(csv.reader(io.StringIO(capsys.readouterr().out)))

    then = rows("--known-on", before.isoformat())
    assert then[0] == ["section", "ref", "date", "kind", "amount", "principal", "interest", "fee", "penalty", "paid",
                       "outstanding", "recorded_at"]
    by_section = {}
    for row in then[1:]:
        by_section.setdefault(row[0], []).append(row)
    # Owed on 25 February as then known: 10,000.00 principal, 100.00 + 10 days' interest, 50.00 fee, 3.90 penalty.
    [balance] = by_section["BALANCE"]
    assert (balance[5], balance[7], balance[8]) == ("10000.00", "50.00", "3.90")
    assert by_section["INSTALLMENT"][0][:4] == ["INSTALLMENT", "1", "2026-02-15", "OVERDUE"]
    assert by_section["INSTALLMENT"][0][9:11] == ["0.00", "888.49"]
    assert str(late.transaction_id) not in {row[1] for row in by_section["TRANSACTION"]}

    now = rows()
    assert ["INSTALLMENT", "1", "2026-02-15", "PAID", "888.49", "788.49", "100.00", "0.00", "", "888.49", "0.00", ""] in now
    [repaid] = [row for row in now if row[1] == str(late.transaction_id)]
    assert repaid[:5] == ["TRANSACTION", str(late.transaction_id), "2026-02-15", "REPAYMENT", "888.49"]
    with pytest.raises(SystemExit) as refused:
        cli_main(args[:4] + ["--loan", "not-a-loan", "--as-of", "2026-02-25"])
    assert refused.value.code == 2
