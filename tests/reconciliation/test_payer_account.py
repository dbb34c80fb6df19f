"""A bank line paid from a borrower's registered account, for the next installment, is that loan's repayment."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ledger.queries import account_postings
from ledger.unit_of_work import run_in_transaction
from loans.money import disburse_loan
from loans.queries import transactions_by_loan
from reconciliation import importing, queries, reconciling
from reconciliation.matching import Candidate, Line, reconcile
from tests.conftest import actor_for
from tests.loans.conftest import apply, book, cipher  # noqa: F401 (fixtures)
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

START = dt.date(2026, 1, 15)
PAID = dt.date(2026, 1, 16)  # the loan's open business date
ACCOUNT = "6222020200112233445"  # the borrower's registered account (tests/loans/conftest.py)


def test_the_payers_account_picks_the_borrowers_posting_among_equal_amounts() -> None:
    day = dt.date(2026, 3, 2)
    lines = [Line("l1", day, 88849, payer_loans=("loan-b",))]
    candidates = [Candidate(("e1", 1), day, 88849, references=("loan-a",)), Candidate(("e2", 1), day, 88849, references=("loan-b",))]
    (decision,) = reconcile(lines, candidates, [{"kind": "payer_account", "days": 3}, {"kind": "amount_date", "days": 3}])
    assert (decision.rule, decision.matched, decision.posting_keys) == ("payer_account", True, (("e2", 1),))


def test_a_line_from_the_borrowers_account_for_the_installment_is_booked_once(book, cipher) -> None:  # noqa: F811
    engine, tenant_id = book[0], book[1]
    finance = actor_for(tenant_id, "finance")
    loan_id = apply(book)  # 10,000.00 CNY over 12 months at 12 %: installments of 888.49
    run_in_transaction(engine, lambda c: disburse_loan(c, finance, loan_id, START))
    with engine.connect() as conn:
        (disbursement,) = account_postings(conn, tenant_id, "1100", "CNY", date_to=START)
    content = samples.camt053([
        Item(START, Decimal(disbursement.amount_minor) / 100, "D-1", end_to_end_id="DISB"),
        # No reference and no loan number: only the payer's account (spaced as banks print it) names the borrower.
        Item(PAID, Decimal("888.49"), "R-1", name="ZHANG SAN", remittance="March", account="6222 0202 0011 2233 445"),
        # The same account, but not the installment's amount: not known to be a repayment.
        Item(PAID, Decimal("100.00"), "R-2", name="ZHANG SAN", remittance="gift", account=ACCOUNT),
        # The installment's amount from an account nobody registered.
        Item(PAID, Decimal("888.49"), "S-1", name="A Stranger", remittance="March", account="6222999999999999999"),
    ])
    run_in_transaction(engine, lambda c: importing.import_statement(c, finance, "1100", content))

    # Without the cipher the payer cannot be looked up: nothing is booked on the account's word.
    blind = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, finance, "1100", PAID))
    assert (blind.matched, blind.repayments_booked) == (1, 0)
    done = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, finance, "1100", PAID, cipher=cipher))
    assert (done.matched, done.repayments_booked, done.unmatched) == (1, 1, 2)
    again = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, finance, "1100", PAID, cipher=cipher))
    assert (again.matched, again.repayments_booked) == (0, 0)

    with engine.connect() as conn:
        history = transactions_by_loan(conn, tenant_id, [loan_id], 10)[loan_id]
        rows = {row.bank_reference: row for row in queries.lines_page(conn, tenant_id, "1100")}
    repayments = [row for row in history if row.type == "REPAYMENT"]
    assert [(r.amount, r.effective_date) for r in repayments] == [(88849, PAID)]
    assert (rows["R-1"].status, rows["R-1"].match_rule) == ("MATCHED", "payer_account")
    assert (rows["R-2"].status, rows["S-1"].status) == ("UNMATCHED", "UNMATCHED")


def test_a_tenant_without_the_rule_books_nothing_by_account(book, cipher) -> None:  # noqa: F811
    engine, tenant_id = book[0], book[1]
    finance = actor_for(tenant_id, "finance")
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: disburse_loan(c, finance, loan_id, START))
    run_in_transaction(engine, lambda c: reconciling.save_rules(c, finance, [{"kind": "reference"}]))
    content = samples.camt053([Item(PAID, Decimal("888.49"), "R-1", account=ACCOUNT)], opening=Decimal("0"))
    run_in_transaction(engine, lambda c: importing.import_statement(c, finance, "1100", content))
    done = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, finance, "1100", PAID, cipher=cipher))
    assert (done.matched, done.repayments_booked) == (0, 0)


@pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
def test_the_migration_indexes_the_accounts_already_stored(fresh_engine, cipher) -> None:  # noqa: F811
    from alembic import command

    from loanbook.migrate import alembic_config, upgrade
    from tests.conftest import new_tenant

    engine = fresh_engine
    tenant_id = new_tenant(engine)
    config = alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0018_header_accounts_currency")
        conn.commit()
    borrower_id = uuid.uuid4()
    sealed = cipher.encrypt(ACCOUNT, context=f"borrower:{tenant_id}:{borrower_id}:bank_account")
    with engine.begin() as conn:  # a borrower as the code before the index wrote it
        conn.execute(sa.text(
            "INSERT INTO borrowers (tenant_id, id, kind, name, bank_account_enc, created_at, created_by) "
            "VALUES (:t, :b, 'INDIVIDUAL', 'Old Borrower', :enc, :now, 'officer')"),
            {"t": tenant_id, "b": borrower_id if engine.dialect.name == "postgresql" else borrower_id.hex, "enc": sealed,
             "now": dt.datetime.now(dt.timezone.utc)})
    with pytest.raises(RuntimeError, match="needs the encryption key"):
        upgrade(engine)
    upgrade(engine, cipher=cipher)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT bank_account_index FROM borrowers WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
    assert stored == cipher.blind_index("6222 0202 0011 2233 445")
