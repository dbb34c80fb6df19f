"""Any sequence of repayments (on the business date or backdated), partial prepayments, restructures,
fees, waivers, reversals and close-of-business days keeps the sub-ledger equal to the GL, the trial
balance at zero, and the stored loan equal to what its history replays to."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import errors as ledger_errors
from ledger import queries
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from loans import applications, borrowers, catalogue, errors
from loans import money as loan_money
from loans.cob import run_close_of_business
from loans.pii import FieldCipher
from loans.replay import ReplayConflict, ReplayMismatch
from loans.restructuring import RestructureNotAllowed
from loans.state import LoanStatus
from loans.store.repository import load_loan
from loans.verify import verify_subledger
from loanbook.db import make_engine
from tests.conftest import actor_for, new_tenant

prepayment_modes = st.sampled_from(["REDUCE_INSTALLMENT", "REDUCE_TERM"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("cob"), st.integers(1, 45)),
        st.tuples(st.just("repay"), st.integers(1, 300_000)),
        st.tuples(st.just("fee"), st.integers(1, 10_000)),
        st.tuples(st.just("waive"), st.integers(1, 10_000)),
        # Either ends the loan (until reversed): one branch between them, so most sequences go on.
        st.tuples(st.sampled_from(["payoff", "write_off"]), st.just(0)),
        st.tuples(st.just("reverse"), st.integers(0, 10)),
        # (days back from the open business date, amount)
        st.tuples(st.just("backdated_repay"), st.tuples(st.integers(1, 60), st.integers(1, 300_000))),
        # (days back, amount, mode): a partial prepayment re-schedules the rest
        st.tuples(st.just("prepay"), st.tuples(st.integers(0, 30), st.integers(1, 300_000), prepayment_modes)),
        # (days back, new term, new rate or the same)
        st.tuples(st.just("restructure"), st.tuples(st.integers(0, 30), st.integers(2, 12), st.sampled_from([None, "0.12"]))),
    ),
    min_size=1,
    max_size=12,
)
methods = st.sampled_from(["EQUAL_INSTALLMENT", "EQUAL_PRINCIPAL", "INTEREST_ONLY", "FLAT"])
orders = st.sampled_from(["PENALTY_FEE_INTEREST_PRINCIPAL", "INSTALLMENT_BY_INSTALLMENT"])


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def exercise(engine, method, order, ops):
    tenant_id = new_tenant(engine, "lp")
    officer, approver = actor_for(tenant_id, "officer"), actor_for(tenant_id, "approver")
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, {
        "code": "P", "name": "p", "currency": "CNY", "method": method, "allocation_order": order, "non_accrual_dpd": 20,
        "penalty_daily_rate": "0.001", "late_fee": "30", "late_fee_grace_days": 2, "term_max": 12,
    }))
    borrower = run_in_transaction(engine, lambda c: borrowers.create_borrower(c, officer, FieldCipher(b"p" * 32), name="B"))
    loan = run_in_transaction(engine, lambda c: applications.submit_application(
        c, officer, borrower_id=borrower, product_code="P", principal="5000", annual_rate="0.18", term_periods=6,
        disbursement_date=dt.date(2026, 1, 31),
    ))
    run_in_transaction(engine, lambda c: applications.decide_application(c, approver, loan, LoanStatus.APPROVED))
    run_in_transaction(engine, lambda c: loan_money.disburse_loan(c, officer, loan, dt.date(2026, 1, 31)))
    day = disbursed = dt.date(2026, 1, 31)
    reversible = []
    for kind, value in ops:
        try:
            if kind == "cob":
                for _ in range(value):
                    day += dt.timedelta(days=1)
                    run_close_of_business(engine, tenant_id, day)
                continue
            business_day = day + dt.timedelta(days=1)
            if kind == "repay":
                paid = run_in_transaction(engine, lambda c: loan_money.record_repayment(c, officer, loan, money(value), "CNY", business_day))
                reversible.append(paid.transaction_id)
            elif kind == "backdated_repay":
                back, amount = value
                on = max(disbursed, business_day - dt.timedelta(days=back))
                paid = run_in_transaction(engine, lambda c: loan_money.record_repayment(c, officer, loan, money(amount), "CNY", on))
                reversible.append(paid.transaction_id)
            elif kind == "prepay":
                back, amount, mode = value
                on = max(disbursed, business_day - dt.timedelta(days=back))
                prepaid = run_in_transaction(engine, lambda c: loan_money.prepay_loan(c, officer, loan, money(amount), "CNY", on, mode))
                reversible.append(prepaid.transaction_id)
            elif kind == "restructure":
                back, term, rate = value
                on = max(disbursed, business_day - dt.timedelta(days=back))
                run_in_transaction(engine, lambda c: loan_money.restructure_loan(c, officer, loan, on, annual_rate=rate, term_periods=term))
            elif kind == "reverse":
                if not reversible:
                    continue
                target = reversible.pop(value % len(reversible))
                run_in_transaction(engine, lambda c: loan_money.reverse_transaction(c, officer, loan, target, business_day))
            elif kind == "fee":
                run_in_transaction(engine, lambda c: loan_money.charge_fee(c, officer, loan, money(value), "CNY", business_day))
            elif kind == "waive":
                run_in_transaction(engine, lambda c: loan_money.waive_charge(c, officer, loan, "FEE", money(value), "CNY", business_day))
            elif kind == "payoff":
                with engine.begin() as conn:
                    quote = loan_money.payoff_quote(conn, tenant_id, loan, business_day)
                paid = run_in_transaction(engine, lambda c: loan_money.pay_off_loan(c, officer, loan, money(quote.total), "CNY", business_day))
                reversible.append(paid.transaction_id)
            elif kind == "write_off":
                written = run_in_transaction(engine, lambda c: loan_money.write_off_loan(c, officer, loan, business_day))
                reversible.append(written.transaction_id)
        except ReplayMismatch:
            raise
        except errors.AmountNotPositive:
            if kind != "prepay":  # a prepayment that would repay everything is a payoff's job
                raise
        except (errors.LoanClosed, errors.NothingToWaive, RestructureNotAllowed, ReplayConflict):
            # Refusals a user can meet: a closed loan, nothing to waive, a restructure of a loan in
            # non-accrual, or a history that no longer replays (a reversal that would break a later
            # payoff). Each left the books untouched.
            pass
        except ledger_errors.LedgerError as exc:  # anything else is a bug in the sequence or the code
            raise AssertionError(f"{kind} {value}: {exc}") from exc
    with engine.connect() as conn:
        assert verify_books(conn, [tenant_id]).discrepancies == []
        assert verify_subledger(conn, tenant_id) == []
        assert queries.trial_balance(conn, tenant_id).balanced
        stored = load_loan(conn, tenant_id, loan, lock=False)
    if stored.status is LoanStatus.ACTIVE and stored.last_cob_date > disbursed:
        # A quote for a closed date replays the loan's history and refuses (REPLAY_STATE_MISMATCH)
        # unless it gives the stored state.
        with engine.connect() as conn:
            loan_money.payoff_quote(conn, tenant_id, loan, stored.last_cob_date)


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_sequences_keep_subledger_equal_to_gl(request, db):
    engine = make_engine(request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url"))

    @settings(max_examples=15 if db == "sqlite" else 10, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(methods, orders, operations)
    def run(method, order, ops):
        exercise(engine, method, order, ops)

    try:
        run()
    finally:
        engine.dispose()
