"""Every loan mutation replays under its idempotency key: the same input returns the original result and
writes nothing; a different input under the same key is IDEMPOTENCY_CONFLICT."""
from __future__ import annotations

import pytest

from identity.model import Role
from tests.api.lending import CASH_PRODUCT, DISBURSED_ON, ZHANG_SAN, Desk, send

ON = DISBURSED_ON
HISTORY = "query($id: ID!) { loan(id: $id) { status transactions(last: 50) { id } } }"


def cny(amount: str) -> dict:
    return {"amount": amount, "currency": "CNY", "effectiveDate": ON}


def money_cases(desk: Desk) -> dict[str, tuple[Role, dict, dict]]:
    """mutation -> (role, input, a change that makes it a different request)."""
    charged = desk.active()
    send(desk.api, desk.tokens[Role.FINANCE], "chargeFee", {"loanId": charged, **cny("20.00")})
    repaid, repayment = desk.repaid()
    return {
        "disburseLoan": (Role.FINANCE, {"loanId": desk.approved(), "effectiveDate": ON}, {"effectiveDate": "2026-01-16"}),
        "recordRepayment": (Role.COLLECTOR, {"loanId": desk.active(), **cny("100.00")}, {"amount": "100.01"}),
        "payOffLoan": (Role.FINANCE, {"loanId": desk.active(), **cny("10000.00")}, {"amount": "10000.01"}),
        "prepayLoan": (Role.FINANCE, {"loanId": desk.active(), **cny("3000.00"), "mode": "REDUCE_TERM"}, {"mode": "REDUCE_INSTALLMENT"}),
        "chargeFee": (Role.FINANCE, {"loanId": desk.active(), **cny("15.00"), "reason": "statement copy"}, {"amount": "16.00"}),
        "waiveFee": (Role.FINANCE, {"loanId": charged, **cny("20.00"), "reason": "goodwill"}, {"amount": "19.00"}),
        "writeOffLoan": (Role.FINANCE, {"loanId": desk.active(), "effectiveDate": ON, "reason": "fraud"}, {"amount": "1.00", "currency": "CNY"}),
        "recordRecovery": (Role.COLLECTOR, {"loanId": desk.written_off(), **cny("300.00")}, {"amount": "301.00"}),
        "reverseRepayment": (Role.FINANCE, {"loanId": repaid, "transactionId": repayment, "effectiveDate": ON, "reason": "bounced"},
                             {"effectiveDate": "2026-01-16"}),
        "applyUnidentifiedReceipt": (Role.FINANCE, {"receiptId": desk.receipt("50.00"), "loanId": desk.active(), "effectiveDate": ON},
                                     {"receiptId": desk.receipt("50.00", "another payer")}),
        "restructureLoan": (Role.FINANCE, {"loanId": desk.active(), "effectiveDate": ON, "termPeriods": 24, "reason": "hardship"},
                            {"termPeriods": 18}),
    }


def test_every_money_mutation_replays_and_conflicts(api):
    desk = Desk(api)
    for mutation, (role, data, change) in money_cases(desk).items():
        token, key = desk.tokens[role], f"{mutation}-1"
        first = send(api, token, mutation, {**data, "idempotencyKey": key})
        assert first["__typename"].endswith("Payload") and first["replayed"] is False, (mutation, first)
        before = api.graphql(HISTORY, {"id": data["loanId"]}, token=token)["data"]["loan"]
        again = send(api, token, mutation, {**data, "idempotencyKey": key})
        assert again["replayed"] is True and again["transaction"]["id"] == first["transaction"]["id"], (mutation, again)
        assert again["allocation"] == first["allocation"] and again["journalEntry"] == first["journalEntry"], mutation
        conflict = send(api, token, mutation, {**data, **change, "idempotencyKey": key})
        assert (conflict["__typename"], conflict["code"]) == ("IdempotencyConflictError", "IDEMPOTENCY_CONFLICT"), (mutation, conflict)
        assert api.graphql(HISTORY, {"id": data["loanId"]}, token=token)["data"]["loan"] == before, mutation


@pytest.mark.parametrize("mutation", ["createLoanProduct", "createBorrower", "submitLoanApplication", "approveLoan", "rejectLoan",
                                      "withdrawLoanApplication", "runCloseOfBusiness"])
def test_every_other_loan_mutation_replays_and_conflicts(api, mutation):
    desk = Desk(api)
    role, data, change, result = {
        "createLoanProduct": lambda: (Role.ADMIN, CASH_PRODUCT, {"name": "renamed"}, lambda r: r["product"]),
        "createBorrower": lambda: (Role.LOAN_OFFICER, ZHANG_SAN, {"phone": "13900139000"}, lambda r: r["borrower"]["id"]),
        "submitLoanApplication": lambda: (Role.LOAN_OFFICER, {
            "borrowerId": desk.borrower(), "productCode": desk.product(), "principal": "5000", "annualRate": "0.1",
            "termPeriods": 6, "disbursementDate": ON}, {"principal": "5001"}, lambda r: r["loan"]["id"]),
        "approveLoan": lambda: (Role.APPROVER, {"loanId": desk.applied()}, {"reason": "other"}, lambda r: r["loan"]),
        "rejectLoan": lambda: (Role.APPROVER, {"loanId": desk.applied(), "reason": "income"}, {"reason": "debt"}, lambda r: r["loan"]),
        "withdrawLoanApplication": lambda: (Role.LOAN_OFFICER, {"loanId": desk.applied()}, {"reason": "changed mind"}, lambda r: r["loan"]),
        "runCloseOfBusiness": lambda: (Role.FINANCE, {"businessDate": "2026-01-20"}, {"businessDate": "2026-01-21"},
                                       lambda r: (r["businessDate"], r["loansProcessed"])),
    }[mutation]()
    token, key = desk.tokens[role], f"{mutation}-1"
    if mutation == "runCloseOfBusiness":
        desk.active()  # a loan for close of business to close
    first = send(api, token, mutation, {**data, "idempotencyKey": key})
    assert first["__typename"].endswith("Payload") and first["replayed"] is False, first
    again = send(api, token, mutation, {**data, "idempotencyKey": key})
    assert again["replayed"] is True and result(again) == result(first), again
    conflict = send(api, token, mutation, {**data, **change, "idempotencyKey": key})
    assert conflict["__typename"] == "IdempotencyConflictError", conflict
    # Without a key the command runs again: a second product version, a second borrower, or a refusal.
    if mutation == "createLoanProduct":
        assert send(api, token, mutation, data)["product"]["version"] == 2
    if mutation == "approveLoan":
        assert send(api, token, mutation, data)["__typename"] == "IllegalTransitionError"
