"""Loan servicing through the database on SQLite and PostgreSQL: journal lines, bad input, COB, sub-ledger = GL."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from ledger import errors as ledger_errors
from ledger import queries
from ledger.unit_of_work import run_in_transaction
from loans import applications, catalogue, errors, money, policy
from loans import borrowers as borrower_commands
from loans.cob import run_close_of_business
from loans.delinquency import Bucket, LoanClass
from loans.portfolio import portfolio, statement
from loans.state import LoanStatus
from ledger.money import from_minor
from ledger.store.tables import audit_events
from loans.store.tables import borrowers, loan_transactions, loans
from tests.conftest import actor_for, new_tenant
from tests.loans.conftest import apply, check_books, cob, lines
from tests.ledger.test_journal import snapshot

D = dt.date


def test_lifecycle_from_application_to_payoff_posts_exact_lines(book):
    engine, tenant_id, officer, approver, _ = book
    loan_id = apply(book)
    disbursed = run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    assert lines(engine, tenant_id, disbursed.journal_entry_id) == [("1200", 1000000), ("1100", -980000), ("4200", -20000)]
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 15))
    paid = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 16)))
    assert lines(engine, tenant_id, paid.journal_entry_id) == [("1100", 88849), ("1200", -78849), ("1210", -10000)]
    check_books(engine, tenant_id)
    with engine.begin() as conn:
        quote = money.payoff_quote(conn, tenant_id, loan_id, D(2026, 2, 16))
    # One day into the second period: 9,211.51 principal and 92.12 x 1/28 of interest.
    assert (quote.principal, quote.interest) == (921151, 329)
    payoff = run_in_transaction(engine, lambda c: money.pay_off_loan(c, officer, loan_id, "9214.80", "CNY", D(2026, 2, 16)))
    assert payoff.status is LoanStatus.PAID_OFF
    payoff_lines = lines(engine, tenant_id, payoff.journal_entry_id)
    assert ("1100", 921480) in payoff_lines and ("1200", -921151) in payoff_lines
    check_books(engine, tenant_id)
    with engine.connect() as conn:
        row = conn.execute(sa.select(loans).where(loans.c.id == loan_id)).one()
    assert row.status == "PAID_OFF" and row.principal == 0 and row.allowance == 0 and row.closed_on == D(2026, 2, 16)


def test_write_off_then_recovery(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 3, 20))
    written = run_in_transaction(engine, lambda c: money.write_off_loan(c, officer, loan_id, D(2026, 3, 21)))
    assert written.status is LoanStatus.WRITTEN_OFF
    written_lines = dict(lines(engine, tenant_id, written.journal_entry_id))
    assert written_lines["1200"] == -1000000 and written_lines["1290"] > 0
    recovered = run_in_transaction(engine, lambda c: money.record_recovery(c, officer, loan_id, "1000", "CNY", D(2026, 4, 1)))
    assert lines(engine, tenant_id, recovered.journal_entry_id) == [("1100", 100000), ("4400", -100000)]
    with pytest.raises(errors.LoanClosed):
        run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "1", "CNY", D(2026, 4, 2)))
    check_books(engine, tenant_id)


def test_bad_input_gets_typed_errors_and_writes_nothing(book):
    engine, tenant_id, officer, approver, borrower = book
    loan_id = apply(book)
    applied = run_in_transaction(engine, lambda c: applications.submit_application(
        c, officer, borrower_id=borrower, product_code="CASH12", principal="5000", annual_rate="0.10",
        term_periods=6, disbursement_date=D(2026, 1, 15),
    ))
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    before = snapshot(engine, tenant_id)
    cases = [
        (errors.IllegalTransition, lambda c: money.disburse_loan(c, officer, applied, D(2026, 1, 15))),
        (errors.IllegalTransition, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 16))),
        (errors.WrongCurrency, lambda c: money.record_repayment(c, officer, loan_id, "10", "USD", D(2026, 1, 16))),
        (errors.AmountNotPositive, lambda c: money.record_repayment(c, officer, loan_id, "0", "CNY", D(2026, 1, 16))),
        (errors.AmountNotPositive, lambda c: money.record_repayment(c, officer, loan_id, "-5", "CNY", D(2026, 1, 16))),
        (ledger_errors.FloatAmountRefused, lambda c: money.record_repayment(c, officer, loan_id, 10.5, "CNY", D(2026, 1, 16))),
        (ledger_errors.AmountTooPrecise, lambda c: money.record_repayment(c, officer, loan_id, "10.001", "CNY", D(2026, 1, 16))),
        (errors.DateBeforeDisbursement, lambda c: money.record_repayment(c, officer, loan_id, "10", "CNY", D(2026, 1, 1))),
        (errors.UnknownLoan, lambda c: money.record_repayment(c, officer, uuid.uuid4(), "10", "CNY", D(2026, 1, 16))),
        (errors.MakerChecker, lambda c: applications.decide_application(c, officer, applied, LoanStatus.APPROVED)),
        (errors.OutsideProductRange, lambda c: applications.submit_application(
            c, officer, borrower_id=borrower, product_code="CASH12", principal="10000", annual_rate="0.36",
            term_periods=12, disbursement_date=D(2026, 1, 15))),
        (errors.UnknownProduct, lambda c: applications.submit_application(
            c, officer, borrower_id=borrower, product_code="NOPE", principal="10000", annual_rate="0.1",
            term_periods=12, disbursement_date=D(2026, 1, 15))),
        (errors.UnknownBorrower, lambda c: applications.submit_application(
            c, officer, borrower_id=uuid.uuid4(), product_code="CASH12", principal="10000", annual_rate="0.1",
            term_periods=12, disbursement_date=D(2026, 1, 15))),
        (errors.InvalidProduct, lambda c: catalogue.create_product(c, officer, {"code": "X", "name": "x", "currency": "CNY", "gl_accounts": {"bank": "9999"}})),
    ]
    for error, command in cases:
        with pytest.raises(error) as caught:
            run_in_transaction(engine, command)
        assert caught.value.code and caught.value.message
    assert snapshot(engine, tenant_id) == before
    other = actor_for(new_tenant(engine), "intruder")
    with pytest.raises(errors.UnknownLoan):
        run_in_transaction(engine, lambda c: money.record_repayment(c, other, loan_id, "10", "CNY", D(2026, 1, 16)))


def test_idempotent_repayment_replays_and_conflicts(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15), idempotency_key="d-1"))
    again = run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15), idempotency_key="d-1"))
    assert again.replayed
    first = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "100", "CNY", D(2026, 1, 16), "r-1"))
    before = snapshot(engine, tenant_id)
    replay = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "100", "CNY", D(2026, 1, 16), "r-1"))
    assert replay.replayed and replay.transaction_id == first.transaction_id and replay.allocation == first.allocation
    with pytest.raises(ledger_errors.IdempotencyConflict):
        run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "101", "CNY", D(2026, 1, 16), "r-1"))
    assert snapshot(engine, tenant_id) == before


def test_cob_is_idempotent_ordered_and_keeps_subledger_equal_to_gl(book):
    engine, tenant_id, officer, _, _ = book
    ids = [apply(book, principal=str(1000 + 500 * n), term=6 + n) for n in range(10)]
    for loan_id in ids:
        run_in_transaction(engine, lambda c, l=loan_id: money.disburse_loan(c, officer, l, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 20))
    before = snapshot(engine, tenant_id)
    assert run_close_of_business(engine, tenant_id, D(2026, 2, 20)).already_done
    assert snapshot(engine, tenant_id) == before
    with pytest.raises(errors.CobOutOfOrder):
        run_close_of_business(engine, tenant_id, D(2026, 2, 25))
    with pytest.raises(errors.CobOutOfOrder):
        run_close_of_business(engine, tenant_id, D(2026, 2, 1))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(loans.c.dpd, loans.c.bucket, loans.c.loan_class).where(loans.c.tenant_id == tenant_id)).all()
    assert {(r.dpd, r.bucket, r.loan_class) for r in rows} == {(5, "DPD_1_30", "SPECIAL_MENTION")}
    check_books(engine, tenant_id)
    with engine.connect() as conn:
        [now] = portfolio(conn, tenant_id, D(2026, 2, 20))
        [then] = portfolio(conn, tenant_id, D(2026, 2, 10))
        gl_principal = sum(b.net_minor for b in queries.current_balances(conn, tenant_id, "1200"))
        one = statement(conn, tenant_id, ids[0], D(2026, 2, 20))
    assert now.business_date == D(2026, 2, 20) and now.loans == 10 and now.principal == gl_principal
    assert now.by_bucket[Bucket.DPD_1_30].count == 10 and now.by_class[LoanClass.SPECIAL_MENTION].count == 10
    assert now.provisions == sum(round(p * 2 / 100) for p in [1000 * 100 + 50000 * n for n in range(10)])
    assert now.par30 == "0.0000" and now.par90 == "0.0000"
    assert then.by_bucket[Bucket.CURRENT].count == 10 and then.provisions == now.provisions // 2
    assert [line.status for line in one.installments[:2]] == ["OVERDUE", "DUE"]
    assert [t.type for t in one.transactions][:2] == ["DISBURSEMENT", "CLOSE_OF_BUSINESS"]


def test_pii_is_encrypted_at_rest_and_revealed_with_an_audit_event(book, cipher):
    engine, tenant_id, officer, _, borrower = book
    with engine.connect() as conn:
        row = conn.execute(sa.select(borrowers).where(borrowers.c.id == borrower)).one()
        everything = " ".join(str(v) for v in row)
    assert "110105199001011234" not in everything and "13800138000" not in everything
    revealed = run_in_transaction(engine, lambda c: borrower_commands.reveal_borrower(c, actor_for(tenant_id, "auditor", reason="KYC review"), cipher, borrower))
    assert revealed == {"national_id": "110105199001011234", "phone": "13800138000", "bank_account": "6222020200112233445"}
    with engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action, reason FROM audit_events WHERE tenant_id = :t AND action = 'borrower.pii_revealed'"), {"t": tenant_id}).all()
    assert [tuple(a) for a in actions] == [("borrower.pii_revealed", "KYC review")]


def test_tenant_classification_policy_drives_class_and_provision(book):
    engine, tenant_id, officer, _, _ = book
    run_in_transaction(engine, lambda c: policy.set_classification_policy(c, officer, {
        "special_mention_from_dpd": 1, "substandard_from_dpd": 4, "doubtful_from_dpd": 60, "loss_from_dpd": 90,
        "provision_rates": {"SUBSTANDARD": "0.30"},
    }))
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 20))  # 5 days past due
    with engine.connect() as conn:
        row = conn.execute(sa.select(loans).where(loans.c.id == loan_id)).one()
    assert (row.dpd, row.loan_class, row.allowance) == (5, "SUBSTANDARD", 300000)
    with pytest.raises(errors.InvalidClassificationPolicy):
        run_in_transaction(engine, lambda c: policy.set_classification_policy(c, officer, {"doubtful_from_dpd": 2}))
    check_books(engine, tenant_id)


def test_a_product_version_from_a_rolled_back_transaction_is_not_remembered(engine):
    """Money commands read product versions from a per-process cache; only committed versions may enter it."""
    officer = actor_for(new_tenant(engine), "officer")
    draft = {"code": "FLEX", "name": "Flexible", "currency": "CNY", "late_fee": "50"}

    class RolledBack(Exception):
        pass

    def create_and_read(conn):
        catalogue.create_product(conn, officer, draft)
        assert catalogue.get_product(conn, officer.tenant_id, "FLEX", 1).late_fee == 50
        raise RolledBack()

    with pytest.raises(RolledBack):
        run_in_transaction(engine, create_and_read)
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, {**draft, "late_fee": "80"}))
    for _ in range(2):  # the first read fills the cache, the second is served from it
        assert run_in_transaction(engine, lambda c: catalogue.get_product(c, officer.tenant_id, "FLEX", 1)).late_fee == 80


def test_money_commands_hand_back_what_they_stored_and_audit_with_the_entry(book):
    """The API shows a command's loan and transaction without reading them again: they must be what is stored."""
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)

    def stored(result):
        with engine.connect() as conn:
            loan = conn.execute(sa.select(loans).where(loans.c.tenant_id == tenant_id, loans.c.id == loan_id)).one()
            transaction = conn.execute(sa.select(loan_transactions).where(
                loan_transactions.c.tenant_id == tenant_id, loan_transactions.c.id == result.transaction_id)).one()
            events = conn.execute(sa.select(audit_events.c.action, audit_events.c.after).where(
                audit_events.c.tenant_id == tenant_id, audit_events.c.entity_id == str(loan_id))).all()
        assert {k: getattr(result.loan, k) for k in loans.c.keys()} == dict(loan._mapping)
        assert {k: getattr(result.transaction, k) for k in loan_transactions.c.keys()} == dict(transaction._mapping)
        return [(action, json.loads(after)["transaction"]) for action, after in events if "transaction" in json.loads(after)]

    def run(command):
        result = run_in_transaction(engine, command)
        return result, stored(result)

    disbursed, _ = run(lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    assert (disbursed.loan.status, disbursed.loan.transactions_recorded, disbursed.transaction.sequence) == ("ACTIVE", 1, 1)
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 20))
    paid, _ = run(lambda c: money.record_repayment(c, officer, loan_id, "100", "CNY", D(2026, 2, 21), "pay-1"))
    assert (paid.loan.transactions_recorded, paid.transaction.sequence, paid.transaction.amount) == (2, 2, 10000)
    replayed, _ = run(lambda c: money.record_repayment(c, officer, loan_id, "100", "CNY", D(2026, 2, 21), "pay-1"))
    assert replayed.replayed and replayed.transaction_id == paid.transaction_id and replayed.loan.transactions_recorded == 2
    backdated, _ = run(lambda c: money.record_repayment(c, officer, loan_id, "50", "CNY", D(2026, 2, 16)))
    reversed_, _ = run(lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 2, 21)))
    assert reversed_.transaction.reverses_transaction_id == paid.transaction_id
    quote = run_in_transaction(engine, lambda c: money.payoff_quote(c, tenant_id, loan_id, D(2026, 2, 21)))
    payoff, events = run(lambda c: money.pay_off_loan(c, officer, loan_id, str(from_minor(quote.total, "CNY")), "CNY", D(2026, 2, 21)))
    assert (payoff.loan.status, payoff.loan.closed_on, payoff.loan.principal) == ("PAID_OFF", D(2026, 2, 21), 0)
    # One audit event per transaction (the replay wrote none), each naming its transaction.
    assert sorted(events) == sorted([
        ("loan.disbursement", str(disbursed.transaction_id)), ("loan.repayment", str(paid.transaction_id)),
        ("loan.repayment", str(backdated.transaction_id)), ("loan.reversal", str(reversed_.transaction_id)),
        ("loan.payoff", str(payoff.transaction_id)),
    ])
    check_books(engine, tenant_id)


def test_a_repayment_classifies_the_loan_by_the_policy_in_force_when_it_runs(book):
    """Another process may change the tenant's policy between two commands; nothing may hold on to the old one."""
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 20))  # 5 days past due
    first = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "1", "CNY", D(2026, 2, 21)))
    assert (first.loan.dpd, first.loan.loan_class) == (5, "SPECIAL_MENTION")
    run_in_transaction(engine, lambda c: policy.set_classification_policy(c, officer, {"substandard_from_dpd": 4}))
    second = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "1", "CNY", D(2026, 2, 21)))
    assert (second.loan.dpd, second.loan.loan_class) == (5, "SUBSTANDARD")


@pytest.mark.parametrize("command", ["record_repayment", "pay_off_loan"])
def test_the_same_keyed_payment_twice_at_once_is_recorded_once(pg_engine, cipher, command):
    """The second request waits for the loan's lock while the first commits, then answers as its replay (a paid-off
    loan must not make the duplicate of its payoff a LOAN_CLOSED)."""
    engine = pg_engine
    tenant_id = new_tenant(engine, "lend")
    officer, approver = actor_for(tenant_id, "officer"), actor_for(tenant_id, "approver")
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, {"code": "CASH12", "name": "Cash loan 12m", "currency": "CNY"}))
    borrower = run_in_transaction(engine, lambda c: borrower_commands.create_borrower(c, officer, cipher, name="张三"))
    loan_id = apply((engine, tenant_id, officer, approver, borrower))
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    quote = run_in_transaction(engine, lambda c: money.payoff_quote(c, tenant_id, loan_id, D(2026, 1, 16)))
    amount = str(from_minor(quote.total, "CNY")) if command == "pay_off_loan" else "100"
    repay = lambda c: getattr(money, command)(c, officer, loan_id, amount, "CNY", D(2026, 1, 16), "pay-once")  # noqa: E731
    first_in, first_may_commit = threading.Event(), threading.Event()
    results, failures = {}, []

    def first_holding_the_lock(c):
        result = repay(c)
        first_in.set()
        assert first_may_commit.wait(30)
        return result

    def run(name, work):
        try:
            results[name] = run_in_transaction(engine, work)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    first = threading.Thread(target=run, args=("first", first_holding_the_lock))
    first.start()
    assert first_in.wait(30)
    second = threading.Thread(target=run, args=("second", repay))
    second.start()
    with engine.connect() as conn:
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        for _ in range(1000):
            if conn.execute(sa.text(waiting)).scalar():
                break
            # PostgreSQL keeps a transaction's first view of pg_stat_activity: look again in a new one.
            conn.rollback()
            time.sleep(0.01)
        else:
            pytest.fail("the second repayment never waited for the loan's lock")
    first_may_commit.set()
    first.join(30)
    second.join(30)
    assert not failures, failures
    assert not results["first"].replayed and results["second"].replayed
    assert results["second"].transaction_id == results["first"].transaction_id
    assert results["second"].allocation == results["first"].allocation
    with engine.connect() as conn:
        keyed = conn.execute(sa.select(sa.func.count()).select_from(loan_transactions).where(
            loan_transactions.c.tenant_id == tenant_id, loan_transactions.c.idempotency_key == "pay-once")).scalar()
    assert keyed == 1
    check_books(engine, tenant_id)


def test_loan_side_rows_get_time_ordered_ids(book):
    """Borrowers, loans and loan transactions (close of business writes one per loan per day) take version 7
    ids, minted in order, so their primary-key indexes grow at the right-hand edge (ledger.ids)."""
    engine, tenant_id, officer, _, _ = book
    first, second = apply(book), apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, first, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 20))  # a month of close of business, past the first due date
    with engine.connect() as conn:
        borrower_ids = conn.execute(sa.select(borrowers.c.id).where(borrowers.c.tenant_id == tenant_id)).scalars().all()
        transactions = conn.execute(
            sa.select(loan_transactions.c.id).where(loan_transactions.c.tenant_id == tenant_id)
            .order_by(loan_transactions.c.effective_date)  # one loan: the disbursement, then at most one per day
        ).scalars().all()
    assert first.version == second.version == 7 and first < second
    assert borrower_ids and all(i.version == 7 for i in borrower_ids)
    assert len(transactions) >= 2 and all(i.version == 7 for i in transactions)
    assert transactions == sorted(transactions)
