"""Reversals and backdated repayments replay the loan and post only the accounting differences."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger import errors as ledger_errors
from ledger.unit_of_work import run_in_transaction
from loans import money
from loans import suspense as suspense_commands
from loans.state import LoanStatus
from loans.store.repository import load_loan
from tests.loans.conftest import apply, check_books, cob, lines

D = dt.date

# Installment 1 of 10,000.00 at 12 % over 12 months is 888.49 = 100.00 interest + 788.49 principal.
# Unpaid from 15 Feb to 25 Feb it costs 10 days x round(788.49 x 0.05 %) = 3.90 penalty, a 50.00 late
# fee (past 3 grace days) and moves the loan to special mention: allowance 2 % of 10,000.00 instead
# of 1 % of 9,211.51 (92.12), i.e. 107.88 more.
unpaid_effect = [
    ("1200", 78849), ("1210", 10000), ("1220", 5000), ("1230", 390), ("5100", 10788),
    ("1100", -88849), ("1290", -10788), ("4200", -5000), ("4300", -390),
]


def mirror(entry_lines):
    flipped = [(code, -amount) for code, amount in entry_lines]
    return sorted(flipped, key=lambda item: (item[1] < 0, item[0]))


def test_a_bounced_repayment_is_reversed_by_replaying_the_loan(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    paid = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    cob(engine, tenant_id, D(2026, 2, 15), D(2026, 2, 25))
    check_books(engine, tenant_id)
    bounced = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 2, 26)))
    assert lines(engine, tenant_id, bounced.journal_entry_id) == unpaid_effect
    check_books(engine, tenant_id)
    with pytest.raises(ledger_errors.AlreadyReversed):
        run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 2, 26)))
    # Business goes on from the replayed state: the next close of business finds it 11 days late.
    cob(engine, tenant_id, D(2026, 2, 26), D(2026, 2, 26))
    check_books(engine, tenant_id)


def test_a_backdated_repayment_across_close_of_business_undoes_what_lateness_cost(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 25))
    late = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    assert late.allocation.interest == 10000 and late.allocation.principal == 78849
    assert lines(engine, tenant_id, late.journal_entry_id) == mirror(unpaid_effect)
    check_books(engine, tenant_id)
    # The open business date is still 26 Feb; the replayed loan is current again.
    with engine.begin() as conn:
        quote = money.payoff_quote(conn, tenant_id, loan_id, D(2026, 2, 26))
    assert quote.penalty == 0 and quote.fee == 0 and quote.principal == 921151


def test_reversing_a_payoff_reopens_the_loan(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 1, 31))
    with engine.begin() as conn:
        quote = money.payoff_quote(conn, tenant_id, loan_id, D(2026, 2, 1))
    amount = f"{quote.total // 100}.{quote.total % 100:02d}"
    payoff = run_in_transaction(engine, lambda c: money.pay_off_loan(c, officer, loan_id, amount, "CNY", D(2026, 2, 1)))
    assert payoff.status is LoanStatus.PAID_OFF
    undone = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, payoff.transaction_id, D(2026, 2, 3)))
    assert undone.status is LoanStatus.ACTIVE
    assert mirror(lines(engine, tenant_id, undone.journal_entry_id)) == lines(engine, tenant_id, payoff.journal_entry_id)
    check_books(engine, tenant_id)


def test_an_unidentified_receipt_waits_in_suspense_then_repays_a_loan(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    receipt = run_in_transaction(engine, lambda c: suspense_commands.receive_unidentified(c, officer, "888.49", "CNY", D(2026, 2, 15), "ZHANG S 0215"))
    applied = run_in_transaction(engine, lambda c: suspense_commands.apply_receipt(c, officer, receipt, loan_id, D(2026, 2, 15)))
    # Paid on its due date before that day's close: the last day's interest (3.23) is accrued as it is paid.
    assert lines(engine, tenant_id, applied.journal_entry_id) == [("2200", 88849), ("1200", -78849), ("1210", -9677), ("4100", -323)]
    with pytest.raises(ledger_errors.AlreadyReversed):
        run_in_transaction(engine, lambda c: suspense_commands.apply_receipt(c, officer, receipt, loan_id, D(2026, 2, 15)))
    from ledger import queries

    with engine.connect() as conn:
        assert sum(b.net_minor for b in queries.current_balances(conn, tenant_id, "2200")) == 0
    check_books(engine, tenant_id)


def test_a_reversed_suspense_repayment_returns_the_money_to_suspense_and_the_receipt_applies_again(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    receipt = run_in_transaction(engine, lambda c: suspense_commands.receive_unidentified(c, officer, "888.49", "CNY", D(2026, 2, 15), "ZHANG S 0215"))
    applied = run_in_transaction(engine, lambda c: suspense_commands.apply_receipt(c, officer, receipt, loan_id, D(2026, 2, 15)))
    undone = run_in_transaction(
        engine, lambda c: money.reverse_transaction(c, officer, loan_id, applied.transaction_id, D(2026, 2, 15))
    )
    reversal = lines(engine, tenant_id, undone.journal_entry_id)
    assert ("2200", -88849) in reversal  # the money is back in suspense, not paid out of the bank
    assert all(code != "1100" for code, _ in reversal)
    from ledger import queries

    def suspense():
        with engine.connect() as conn:
            return sum(b.net_minor for b in queries.current_balances(conn, tenant_id, "2200"))

    assert suspense() == -88849
    check_books(engine, tenant_id)
    again = run_in_transaction(engine, lambda c: suspense_commands.apply_receipt(c, officer, receipt, loan_id, D(2026, 2, 15)))
    assert lines(engine, tenant_id, again.journal_entry_id)[0] == ("2200", 88849)
    assert suspense() == 0
    with pytest.raises(ledger_errors.AlreadyReversed):
        run_in_transaction(engine, lambda c: suspense_commands.apply_receipt(c, officer, receipt, loan_id, D(2026, 2, 15)))
    check_books(engine, tenant_id)


@pytest.mark.parametrize("statement", ["UPDATE loan_transactions SET amount = amount + 1", "DELETE FROM loan_transactions"])
def test_loan_transactions_stay_insert_only_after_the_migrations(book, statement):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    with pytest.raises(sa.exc.DBAPIError, match="immutable"):
        with engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_a_payment_dated_the_disbursement_date_after_a_later_one_is_replayed_in_date_order(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    # No close of business yet: the open business date is 16 January. A 50.00 fee charged on it,
    # then 50.00 received dated 15 January: that day nothing was owed, so the money is the
    # borrower's credit and the fee charged the day after stays receivable.
    run_in_transaction(engine, lambda c: money.charge_fee(c, officer, loan_id, "50.00", "CNY", D(2026, 1, 16)))
    early = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "50.00", "CNY", D(2026, 1, 15)))
    assert (early.allocation.fee, early.allocation.overpayment) == (0, 5000)
    assert lines(engine, tenant_id, early.journal_entry_id) == [("1100", 5000), ("2100", -5000)]
    # The stored loan is what its history replays to: a reversal finds it so.
    undone = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, early.transaction_id, D(2026, 1, 16)))
    assert lines(engine, tenant_id, undone.journal_entry_id) == [("2100", 5000), ("1100", -5000)]
    check_books(engine, tenant_id)


def test_a_payoff_reversed_weeks_later_reopens_the_loan_serviced_through_the_days_since(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 1, 31))
    with engine.begin() as conn:
        quote = money.payoff_quote(conn, tenant_id, loan_id, D(2026, 2, 1))
    amount = f"{quote.total // 100}.{quote.total % 100:02d}"
    payoff = run_in_transaction(engine, lambda c: money.pay_off_loan(c, officer, loan_id, amount, "CNY", D(2026, 2, 1)))
    cob(engine, tenant_id, D(2026, 2, 1), D(2026, 2, 20))  # the tenant's days go on; the paid-off loan sits them out
    # The payoff bounces on 21 February: the loan is ACTIVE again and serviced through 20 February,
    # the tenant's last closed date. February's 888.49 has been due since the 15th: 5 days of
    # round(788.49 x 0.05 %) = 0.39 penalty, the 50.00 late fee (past 3 days' grace), February's
    # 100.00 interest and 5 of March's 28 days of 92.12 (16.45); special mention, 2 % provided.
    undone = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, payoff.transaction_id, D(2026, 2, 21)))
    assert undone.status is LoanStatus.ACTIVE
    entry = dict(lines(engine, tenant_id, undone.journal_entry_id))
    assert (entry["1100"], entry["1200"], entry["1210"], entry["1220"], entry["1230"]) == (-quote.total, 1000000, 10000 + 1645, 5000, 195)
    with engine.connect() as conn:
        loan = load_loan(conn, tenant_id, loan_id, lock=False)
    assert (loan.last_cob_date, loan.dpd, loan.loan_class, loan.allowance, loan.closed_on) == (D(2026, 2, 20), 5, "SPECIAL_MENTION", 20000, None)
    check_books(engine, tenant_id)
    # Business goes on from the tenant's open date: the borrower pays February on 21 February.
    paid = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 21)))
    assert paid.allocation.penalty == 195 and paid.allocation.fee == 5000
    cob(engine, tenant_id, D(2026, 2, 21), D(2026, 2, 22))
    check_books(engine, tenant_id)
