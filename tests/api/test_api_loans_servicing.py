"""Loan servicing over HTTP, on SQLite and PostgreSQL: replay across new schedules, restructured
loans under observation, flat schedules in whole yuan, and the fields a frontend reads.

The loans are the desk's: 10,000.00 at 12 % over 12 months from 15 January 2026 (installment 888.49),
2 % origination fee deducted, 0.05 % a day of penalty, a 50.00 late fee after 3 days' grace.
"""
from __future__ import annotations

from decimal import Decimal

from identity.model import Role
from tests.api.lending import Desk, expect, send

LOAN = """query($id: ID!) { loan(id: $id) {
  status firstDueDate daysPastDue class classFloor restructured restructuredOn observationEndsOn scheduleVersion
  balances { principal { amount } allowance { amount } writtenOff { amount } writtenOffPrincipal { amount } recovered { amount } }
  schedule { number dueDate principal { amount } interest { amount } total { amount } }
  latest: transactions(last: 3) { type }
  money: transactions(last: 10, moneyMovementsOnly: true) { type amount { amount } writeOff { total { amount } } }
  writeOffs: transactions(last: 10, types: [WRITE_OFF]) { type allocation { total { amount } } details
    writeOff { principal { amount } interest { amount } fee { amount } penalty { amount } interestSuspended { amount }
               penaltySuspended { amount } entry { amount } fromAllowance { amount } toExpense { amount } total { amount } } }
  none: transactions(last: 10, types: [FEE_CHARGE], moneyMovementsOnly: true) { type }
} }"""
POLICY = """mutation($i: SetClassificationPolicyInput!) { setClassificationPolicy(input: $i) { __typename
  ... on SetClassificationPolicyPayload { policy { restructureObservationMonths restructureObservationPeriods } }
  ... on Error { code message } } }"""
QUOTE = "query($id: ID!, $date: Date!) { payoffQuote(loanId: $id, date: $date) { ... on PayoffQuote { amount { amount } } } }"
PREVIEW = """query($i: ScheduleInput!) { previewSchedule(input: $i) { totalInterest installments { principal interest total } } }"""


def loan(api, token, loan_id):
    return api.graphql(LOAN, {"id": loan_id}, token=token)["data"]["loan"]


def cob(api, token, through):
    return expect(api, token, "runCloseOfBusiness", {"throughDate": through})


def postings(payload):
    return sorted((p["accountCode"], p["side"], p["amount"]["amount"]) for p in payload["journalEntry"]["postings"])


def money(loan_id, amount, day):
    return {"loanId": loan_id, "amount": amount, "currency": "CNY", "effectiveDate": day}


def test_a_bounced_payment_after_a_prepayment_and_a_restructured_loan_under_observation(api):
    desk = Desk(api)
    finance, auditor = desk.tokens[Role.FINANCE], desk.tokens[Role.AUDITOR]
    prepaid_loan, restructured_loan = desk.active(), desk.active()
    cob(api, finance, "2026-02-14")
    paid = expect(api, finance, "recordRepayment", money(prepaid_loan, "888.49", "2026-02-15"))
    cob(api, finance, "2026-03-01")
    expect(api, finance, "prepayLoan", {**money(prepaid_loan, "3000.00", "2026-03-02"), "mode": "REDUCE_INSTALLMENT"})
    restructured = expect(api, finance, "restructureLoan", {
        "loanId": restructured_loan, "effectiveDate": "2026-03-02", "annualRate": "0.10", "termPeriods": 24, "reason": "hardship",
    })
    assert restructured["allocation"]["principal"]["amount"] == "204.81"  # February's arrears, capitalised
    cob(api, finance, "2026-03-20")

    # The February payment bounces: the prepayment now pays February first, less principal is
    # prepaid (7,204.81 left), and the new schedule's installments are 691.03 instead of 600.50.
    bounced = expect(api, finance, "reverseRepayment", {
        "loanId": prepaid_loan, "transactionId": paid["transaction"]["id"], "effectiveDate": "2026-03-21", "reason": "bounced",
    })
    assert postings(bounced) == sorted([
        ("1200", "DEBIT", "943.95"), ("1210", "DEBIT", "5.48"), ("1230", "DEBIT", "0.20"), ("5100", "DEBIT", "18.88"),
        ("1100", "CREDIT", "888.49"), ("1290", "CREDIT", "18.88"), ("4100", "CREDIT", "5.48"), ("4200", "CREDIT", "50.00"),
        ("4300", "CREDIT", "5.66"),
    ])
    undone = bounced["allocation"]
    assert (undone["interest"]["amount"], undone["principal"]["amount"], undone["total"]["amount"]) == ("100.00", "788.49", "888.49")
    after = loan(api, auditor, prepaid_loan)
    assert after["scheduleVersion"] == 3 and after["balances"]["principal"]["amount"] == "7204.81"
    assert [(i["number"], i["dueDate"], i["total"]["amount"]) for i in after["schedule"][2:4]] == [
        (3, "2026-03-15", "691.03"), (4, "2026-04-15", "691.03"),
    ]
    # Paid off on 21 March, the prepayment can no longer be reversed: without it the payoff falls short.
    quote = api.graphql(QUOTE, {"id": prepaid_loan, "date": "2026-03-21"}, token=auditor)["data"]["payoffQuote"]["amount"]["amount"]
    expect(api, finance, "payOffLoan", money(prepaid_loan, quote, "2026-03-21"))
    prepayment = next(t for t in after["money"] if t["type"] == "PREPAYMENT")
    assert prepayment["amount"]["amount"] == "3000.00"
    history = api.graphql("query($id: ID!) { loan(id: $id) { transactions(last: 10, types: [PREPAYMENT]) { id } } }",
                          {"id": prepaid_loan}, token=auditor)["data"]["loan"]["transactions"]
    conflict = send(api, finance, "reverseRepayment", {
        "loanId": prepaid_loan, "transactionId": history[0]["id"], "effectiveDate": "2026-03-21", "reason": "returned",
    })
    assert (conflict["__typename"], conflict["code"]) == ("ReplayConflictError", "REPLAY_CONFLICT")
    assert "PAYOFF of 2026-03-21" in conflict["message"]
    assert loan(api, auditor, prepaid_loan)["status"] == "PAID_OFF"

    # The restructured loan stays ACTIVE, current, and special mention (2 % provided) until its
    # observation period ends: 12 months from its first repayment date after the change.
    observed = loan(api, auditor, restructured_loan)
    assert {k: observed[k] for k in ("status", "daysPastDue", "class", "classFloor", "restructured", "restructuredOn",
                                    "observationEndsOn", "scheduleVersion")} == {
        "status": "ACTIVE", "daysPastDue": 0, "class": "SPECIAL_MENTION", "classFloor": "SPECIAL_MENTION", "restructured": True,
        "restructuredOn": "2026-03-02", "observationEndsOn": "2027-04-02", "scheduleVersion": 2,
    }
    assert observed["balances"]["allowance"]["amount"] == "204.10"
    assert observed["firstDueDate"] == "2026-02-15", "the loan's first due date, not the new schedule's"
    # The period's boundaries are the tenant's policy.
    policy = api.graphql(POLICY, {"i": {"restructureObservationMonths": 18, "restructureObservationPeriods": 3, "reason": "board"}},
                         token=finance)["data"]["setClassificationPolicy"]
    assert policy["policy"] == {"restructureObservationMonths": 18, "restructureObservationPeriods": 3}
    refused = api.graphql(POLICY, {"i": {"restructureObservationMonths": 121}}, token=finance)["data"]["setClassificationPolicy"]
    assert refused["code"] == "INVALID_CLASSIFICATION_POLICY"


def test_write_off_components_recovery_cap_and_the_history_filters(api):
    desk = Desk(api)
    finance, collector, auditor = desk.tokens[Role.FINANCE], desk.tokens[Role.COLLECTOR], desk.tokens[Role.AUDITOR]
    loan_id = desk.approved()
    assert loan(api, auditor, loan_id)["firstDueDate"] is None, "the application gave none and nothing is booked yet"
    expect(api, finance, "disburseLoan", {"loanId": loan_id, "effectiveDate": "2026-01-15"})
    cob(api, finance, "2026-02-25")  # February unpaid: ten days of penalty and close-of-business rows
    before = loan(api, auditor, loan_id)
    assert before["firstDueDate"] == "2026-02-15", "from the booked schedule"
    assert [t["type"] for t in before["latest"]] == ["CLOSE_OF_BUSINESS"] * 3
    assert [t["type"] for t in before["money"]] == ["DISBURSEMENT"] and before["none"] == []

    # Written off on 26 February: principal 10,000.00, interest 132.90 (February's 100.00 and 10 of
    # March's 28 days of 92.12), the 50.00 late fee and 10 x 0.39 of penalty: 10,186.80, of which
    # the 200.00 allowance (2 %) takes the first part and expense the rest.
    written = expect(api, finance, "writeOffLoan", {"loanId": loan_id, "effectiveDate": "2026-02-26", "reason": "fraud"})
    parts = {k: v["amount"] for k, v in written["allocation"].items()}
    assert parts == {"penalty": "3.90", "fee": "50.00", "interest": "132.90", "principal": "10000.00", "overpayment": "0.00",
                     "total": "10186.80"}
    assert postings(written) == sorted([
        ("1290", "DEBIT", "200.00"), ("5100", "DEBIT", "9986.80"),
        ("1200", "CREDIT", "10000.00"), ("1210", "CREDIT", "132.90"), ("1220", "CREDIT", "50.00"), ("1230", "CREDIT", "3.90"),
    ])
    # A recovery is capped at what was written off and not yet recovered, and shows where it went.
    first = expect(api, collector, "recordRecovery", money(loan_id, "1000.00", "2026-03-01"))
    assert first["allocation"]["principal"]["amount"] == "1000.00" and first["allocation"]["total"]["amount"] == "1000.00"
    assert postings(first) == [("1100", "DEBIT", "1000.00"), ("4400", "CREDIT", "1000.00")]
    too_much = send(api, finance, "recordRecovery", money(loan_id, "10000.00", "2026-03-02"))
    assert (too_much["__typename"], too_much["code"]) == ("RecoveryExceedsWrittenOffError", "RECOVERY_EXCEEDS_WRITTEN_OFF")
    assert "9186.80" in too_much["message"]
    rest = expect(api, finance, "recordRecovery", money(loan_id, "9186.80", "2026-03-02"))
    assert {k: v["amount"] for k, v in rest["allocation"].items()} == {
        "penalty": "3.90", "fee": "50.00", "interest": "132.90", "principal": "9000.00", "overpayment": "0.00", "total": "9186.80",
    }
    nothing_left = send(api, finance, "recordRecovery", money(loan_id, "0.01", "2026-03-03"))
    assert nothing_left["code"] == "RECOVERY_EXCEEDS_WRITTEN_OFF"
    # The first recovery was a mistake: its reversal reads what it undid, 1,000.00 of principal.
    undone = expect(api, finance, "reverseRepayment", {
        "loanId": loan_id, "transactionId": first["transaction"]["id"], "effectiveDate": "2026-03-03", "reason": "misposted",
    })
    assert undone["allocation"]["principal"]["amount"] == "1000.00" and undone["allocation"]["total"]["amount"] == "1000.00"
    after = loan(api, auditor, loan_id)
    assert after["status"] == "WRITTEN_OFF"
    assert {k: v["amount"] for k, v in after["balances"].items()} == {
        "principal": "0.00", "allowance": "0.00", "writtenOff": "10186.80", "writtenOffPrincipal": "10000.00", "recovered": "9186.80",
    }
    assert [t["type"] for t in after["money"]] == ["REVERSAL", "RECOVERY", "RECOVERY", "DISBURSEMENT"]
    [write_off] = after["writeOffs"]
    assert write_off["allocation"]["total"]["amount"] == "10186.80"
    details = write_off["details"]
    assert (details["entry"], details["from_allowance"], details["to_expense"], details["total"]) == (1018680, 20000, 998680, 1018680)
    assert (details["interest_suspended"], details["penalty_suspended"]) == (0, 0)
    assert {k: v["amount"] for k, v in write_off["writeOff"].items()} == {
        "principal": "10000.00", "interest": "132.90", "fee": "50.00", "penalty": "3.90", "interestSuspended": "0.00",
        "penaltySuspended": "0.00", "entry": "10186.80", "fromAllowance": "200.00", "toExpense": "9986.80", "total": "10186.80",
    }
    assert [t["writeOff"] for t in after["money"]] == [None] * 4, "only a write-off has parts"


def test_a_first_due_date_the_disbursement_passed_is_the_schedule_s(api):
    desk = Desk(api)
    application = {"borrowerId": desk.borrower(), "productCode": desk.product(), "principal": "10000", "annualRate": "0.12",
                   "termPeriods": 12, "disbursementDate": "2026-01-15", "firstDueDate": "2026-02-10"}
    loan_id = expect(api, desk.tokens[Role.LOAN_OFFICER], "submitLoanApplication", application)["loan"]["id"]
    assert loan(api, desk.tokens[Role.AUDITOR], loan_id)["firstDueDate"] == "2026-02-10"
    expect(api, desk.tokens[Role.APPROVER], "approveLoan", {"loanId": loan_id})
    # Disbursed late, on 12 February: the schedule falls due a month later, on 12 March.
    expect(api, desk.tokens[Role.FINANCE], "disburseLoan", {"loanId": loan_id, "effectiveDate": "2026-02-12"})
    booked = loan(api, desk.tokens[Role.AUDITOR], loan_id)
    assert booked["firstDueDate"] == booked["schedule"][0]["dueDate"] == "2026-03-12"


def test_flat_schedules_round_to_the_multiple_and_equal_principal_refuses_it(api):
    token = api.tenant(Role.LOAN_OFFICER).tokens[Role.LOAN_OFFICER]
    terms = {"principal": "5000", "currency": "CNY", "annualRate": "0.12", "termPeriods": 18, "method": "FLAT",
             "disbursementDate": "2026-01-15", "installmentMultiple": "1"}
    flat = api.graphql(PREVIEW, {"i": terms}, token=token)["data"]["previewSchedule"]
    assert flat["totalInterest"] == "900.00"
    assert [i["total"] for i in flat["installments"]] == ["328.00"] * 17 + ["324.00"]
    assert flat["installments"][-1] == {"principal": "274.00", "interest": "50.00", "total": "324.00"}
    refused = api.graphql(PREVIEW, {"i": {**terms, "method": "EQUAL_PRINCIPAL"}}, token=token)
    assert refused["data"] is None
    [problem] = refused["errors"][0]["extensions"]["problems"]
    assert (problem["field"], problem["code"]) == ("installmentMultiple", "MULTIPLE_NOT_APPLICABLE")


def test_a_write_off_in_non_accrual_lists_what_was_owed_off_the_books(api):
    desk = Desk(api)
    finance, auditor = desk.tokens[Role.FINANCE], desk.tokens[Role.AUDITOR]
    expect(api, desk.tokens[Role.ADMIN], "createLoanProduct", {
        "code": "SHORT6", "name": "Short loan", "currency": "CNY", "penaltyDailyRate": "0.0005", "lateFee": "50",
        "lateFeeGraceDays": 3, "nonAccrualDpd": 30, "termMax": 12,
    })
    application = {"borrowerId": desk.borrower(), "productCode": "SHORT6", "principal": "6000", "annualRate": "0.12",
                   "termPeriods": 6, "disbursementDate": "2026-01-15"}
    loan_id = expect(api, desk.tokens[Role.LOAN_OFFICER], "submitLoanApplication", application)["loan"]["id"]
    expect(api, desk.tokens[Role.APPROVER], "approveLoan", {"loanId": loan_id})
    expect(api, finance, "disburseLoan", {"loanId": loan_id, "effectiveDate": "2026-01-15"})
    cob(api, finance, "2026-04-01")  # nothing paid: non-accrual from 31 days past due
    written = expect(api, finance, "writeOffLoan", {"loanId": loan_id, "effectiveDate": "2026-04-02", "reason": "absconded"})
    parts = api.graphql(LOAN, {"id": loan_id}, token=auditor)["data"]["loan"]["writeOffs"][0]["writeOff"]
    amounts = {k: Decimal(v["amount"]) for k, v in parts.items()}
    assert amounts["interestSuspended"] > 0 and amounts["penaltySuspended"] > 0, "suspended amounts are listed"
    assert amounts["entry"] == amounts["principal"] + amounts["interest"] + amounts["fee"] + amounts["penalty"] == Decimal(
        written["allocation"]["total"]["amount"])
    assert amounts["total"] == amounts["entry"] + amounts["interestSuspended"] + amounts["penaltySuspended"]
    assert amounts["fromAllowance"] + amounts["toExpense"] == amounts["entry"] and parts["principal"]["amount"] == "6000.00"
    credited = sum(Decimal(p["amount"]["amount"]) for p in written["journalEntry"]["postings"] if p["side"] == "CREDIT")
    assert credited == amounts["entry"]
    balances = api.graphql(LOAN, {"id": loan_id}, token=auditor)["data"]["loan"]["balances"]
    assert balances["writtenOff"]["amount"] == parts["total"]["amount"]
