"""A bank line that pays a loan the books do not have yet becomes that loan's repayment, once."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from ledger.queries import account_postings
from ledger.unit_of_work import run_in_transaction
from loans.money import disburse_loan
from loans.queries import transactions_by_loan
from reconciliation import importing, queries, reconciling
from reconciliation.report import reconciliation_report
from tests.conftest import actor_for
from tests.loans.conftest import apply, book, cipher  # noqa: F401 (fixtures)
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

START = dt.date(2026, 1, 15)
PAID = dt.date(2026, 1, 16)  # the loan's open business date


def test_a_repayment_named_by_loan_id_is_booked_matched_and_never_twice(book) -> None:  # noqa: F811
    engine, tenant_id = book[0], book[1]
    finance = actor_for(tenant_id, "finance")
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: disburse_loan(c, finance, loan_id, START))
    with engine.connect() as conn:
        (disbursement,) = account_postings(conn, tenant_id, "1100", "CNY", date_to=START)
    content = samples.camt053([
        Item(START, Decimal(disbursement.amount_minor) / 100, "D-1", end_to_end_id="DISB"),
        Item(PAID, Decimal("888.49"), "R-1", name="张三", remittance=f"repayment {loan_id}"),
        Item(PAID, Decimal("50.00"), "S-1", name="A Stranger", remittance="for invoice 17"),
    ])
    run_in_transaction(engine, lambda c: importing.import_statement(c, finance, "1100", content))
    done = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, finance, "1100", PAID))
    assert (done.matched, done.repayments_booked, done.unmatched) == (2, 1, 1)
    again = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, finance, "1100", PAID))
    assert (again.matched, again.repayments_booked) == (0, 0)
    with engine.connect() as conn:
        history = transactions_by_loan(conn, tenant_id, [loan_id], 10)[loan_id]
        rows = {row.bank_reference: row for row in queries.lines_page(conn, tenant_id, "1100")}
    repayments = [row for row in history if row.type == "REPAYMENT"]
    assert len(repayments) == 1 and repayments[0].amount == 88849
    assert rows["R-1"].match_rule == "loan_repayment" and rows["D-1"].match_rule == "amount_date"

    # The stranger's transfer goes to suspense through the unidentified-receipt path, matched to it.
    run_in_transaction(engine, lambda c: reconciling.book_line(c, finance, "1100", rows["S-1"].id, "SUSPENSE", None, "unknown payer"))
    with engine.connect() as conn:
        report = reconciliation_report(conn, tenant_id, "1100", PAID)
        receipts = conn.execute(sa.text("SELECT count(*) FROM suspense_receipts WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
    assert receipts == 1
    assert (report.unbooked_bank_items_minor, report.deposits_in_transit_minor, report.difference_minor) == (0, 0, 0)
