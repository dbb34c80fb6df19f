"""Loan servicing over HTTP against `loanbook serve`, on SQLite and PostgreSQL: a loan from borrower to payoff.

The numbers are those of tests/loans/test_loan_service.py's lifecycle, seen through the API: 10,000.00
at 12 % a year over 12 months, 2 % origination fee deducted, disbursed on 15 January 2026.
"""
from __future__ import annotations

from decimal import Decimal

from identity.model import Role
from tests.api.lending import DISBURSED_ON, LOAN_FIELDS, Desk, expect, send

LOAN = f"""
query($id: ID!) {{ loan(id: $id) {{
  {LOAN_FIELDS}
  borrower {{ name nationalId piiMasked }}
  product {{ code version originationFeeRate }}
  schedule {{ number dueDate principal {{ amount }} interest {{ amount }} total {{ amount }} paid: principalPaid {{ amount }}
             outstanding {{ amount }} status }}
  transactions(last: 10) {{ id type effectiveDate amount {{ amount }} reversedBy {{ id }} reverses {{ id }}
                           journalEntry {{ postings {{ accountCode side amount {{ amount }} }} }} }}
}} }}"""
QUOTE = """
query($id: ID!, $date: Date!) { payoffQuote(loanId: $id, date: $date) {
  __typename
  ... on PayoffQuote { date amount { amount currency } breakdown { principal { amount } interest { amount } fee { amount }
                                                                    penalty { amount } overpayment { amount } } }
  ... on Error { code message }
} }"""
PORTFOLIO = """
query($asOf: Date!) { portfolio(asOf: $asOf) {
  currency businessDate loans principal { amount } interest { amount } provisions { amount } par30 par90
  byBucket { bucket shortName count principal { amount } } byClass { class count }
} }"""
STATEMENT = """
query($id: ID!, $asOf: Date!) { loanStatement(loanId: $id, asOf: $asOf) {
  asOf loan { status } lines { number dueDate paid { amount } outstanding { amount } status } transactions { type }
} }"""


def lines(payload: dict) -> list[tuple[str, str, str]]:
    return [(p["accountCode"], p["side"], p["amount"]["amount"]) for p in payload["journalEntry"]["postings"]]


def cob(api, token: str, day: str) -> dict:
    return expect(api, token, "runCloseOfBusiness", {"businessDate": day})


def test_a_loan_from_borrower_to_payoff(api):
    desk = Desk(api)
    officer, approver, finance = desk.tokens[Role.LOAN_OFFICER], desk.tokens[Role.APPROVER], desk.tokens[Role.FINANCE]
    product = expect(api, desk.tokens[Role.ADMIN], "createLoanProduct", {
        "code": "CASH12", "name": "Cash loan 12m", "currency": "CNY", "originationFeeRate": "0.02",
        "penaltyDailyRate": "0.0005", "lateFee": "50", "lateFeeGraceDays": 3,
    })
    assert product["product"] == {"code": "CASH12", "version": 1}
    desk._product = True
    borrower = desk.borrower()

    application = {"borrowerId": borrower, "productCode": "CASH12", "principal": "10000", "annualRate": "0.12",
                   "termPeriods": 12, "disbursementDate": DISBURSED_ON}
    loan_id = expect(api, officer, "submitLoanApplication", application)["loan"]["id"]
    # Maker-checker: whoever submitted cannot approve, even holding a role that could.
    admin_submitted = expect(api, desk.tokens[Role.ADMIN], "submitLoanApplication", application)["loan"]["id"]
    refused = send(api, desk.tokens[Role.ADMIN], "approveLoan", {"loanId": admin_submitted})
    assert (refused["__typename"], refused["code"]) == ("MakerCheckerViolationError", "MAKER_CHECKER_VIOLATION")
    approved = expect(api, approver, "approveLoan", {"loanId": loan_id, "reason": "income verified"})
    assert approved["loan"]["status"] == "APPROVED" and approved["loan"]["decidedBy"].startswith("approver-")

    # Disbursement: Dr loans receivable 10,000.00; Cr bank 9,800.00, fee income 200.00.
    disbursed = expect(api, finance, "disburseLoan", {"loanId": loan_id, "effectiveDate": DISBURSED_ON, "idempotencyKey": "d-1"})
    assert lines(disbursed) == [("1200", "DEBIT", "10000.00"), ("1100", "CREDIT", "9800.00"), ("4200", "CREDIT", "200.00")]
    assert disbursed["loan"]["status"] == "ACTIVE"

    # Close of business runs every day from the disbursement up to the date asked for, then one date after another.
    assert cob(api, finance, "2026-02-14")["loansProcessed"] == 1
    assert cob(api, finance, "2026-02-15")["loansProcessed"] == 1
    assert cob(api, finance, "2026-02-15")["alreadyDone"] is True
    out_of_order = send(api, finance, "runCloseOfBusiness", {"businessDate": "2026-02-20"})
    assert out_of_order["__typename"] == "CobOutOfOrderError"

    loan = api.graphql(LOAN, {"id": loan_id}, token=desk.tokens[Role.COLLECTOR])["data"]["loan"]
    assert (loan["status"], loan["businessDate"], loan["daysPastDue"], loan["bucket"], loan["class"]) == (
        "ACTIVE", "2026-02-15", 0, "CURRENT", "NORMAL",
    )
    assert loan["balances"]["principal"]["amount"] == "10000.00" and loan["balances"]["interest"]["amount"] == "100.00"
    assert len(loan["schedule"]) == 12 and loan["schedule"][0]["total"]["amount"] == "888.49"
    assert loan["schedule"][0]["status"] == "DUE" and loan["schedule"][0]["dueDate"] == "2026-02-15"
    assert loan["borrower"] == {"name": "张三", "nationalId": "110***********1234", "piiMasked": True}
    assert loan["product"] == {"code": "CASH12", "version": 1, "originationFeeRate": "0.02"}
    # A performing loan's days leave no transaction rows (accruals are in the COB batch entries and snapshots).
    assert [t["type"] for t in loan["transactions"]] == ["DISBURSEMENT"]

    # The repayment bounces; the reversal posts the exact opposite, then the borrower pays again.
    repay = {"loanId": loan_id, "amount": "888.49", "currency": "CNY", "effectiveDate": "2026-02-16"}
    paid = expect(api, finance, "recordRepayment", {**repay, "idempotencyKey": "r-1"})
    assert lines(paid) == [("1100", "DEBIT", "888.49"), ("1200", "CREDIT", "788.49"), ("1210", "CREDIT", "100.00")]
    assert paid["allocation"]["interest"]["amount"] == "100.00" and paid["allocation"]["principal"]["amount"] == "788.49"
    bounced = expect(api, finance, "reverseRepayment", {
        "loanId": loan_id, "transactionId": paid["transaction"]["id"], "effectiveDate": "2026-02-16", "reason": "cheque bounced",
    })
    assert sorted(lines(bounced)) == [("1100", "CREDIT", "888.49"), ("1200", "DEBIT", "788.49"), ("1210", "DEBIT", "100.00")]
    assert bounced["reversedTransaction"]["id"] == paid["transaction"]["id"]
    assert bounced["reversedTransaction"]["reversedBy"]["id"] == bounced["transaction"]["id"]
    assert bounced["loan"]["balances"]["principal"]["amount"] == "10000.00"
    expect(api, desk.tokens[Role.COLLECTOR], "recordRepayment", repay)

    # One day into the second period: 9,211.51 principal and 92.12 x 1/28 of interest.
    quote = api.graphql(QUOTE, {"id": loan_id, "date": "2026-02-16"}, token=desk.tokens[Role.AUDITOR])["data"]["payoffQuote"]
    assert quote["__typename"] == "PayoffQuote" and quote["amount"] == {"amount": "9214.80", "currency": "CNY"}
    assert (quote["breakdown"]["principal"]["amount"], quote["breakdown"]["interest"]["amount"]) == ("9211.51", "3.29")
    short = send(api, finance, "payOffLoan", {"loanId": loan_id, "amount": "9000.00", "currency": "CNY", "effectiveDate": "2026-02-16"})
    assert short["__typename"] == "AmountNotPositiveError" and short["code"] == "AMOUNT_NOT_POSITIVE"
    payoff = expect(api, finance, "payOffLoan", {"loanId": loan_id, "amount": "9214.80", "currency": "CNY", "effectiveDate": "2026-02-16"})
    assert payoff["loan"]["status"] == "PAID_OFF" and ("1100", "DEBIT", "9214.80") in lines(payoff)
    closed = send(api, finance, "recordRepayment", repay)
    assert (closed["__typename"], closed["code"]) == ("LoanClosedError", "LOAN_CLOSED")

    statement = api.graphql(STATEMENT, {"id": loan_id, "asOf": "2026-02-16"}, token=desk.tokens[Role.AUDITOR])["data"]["loanStatement"]
    assert statement["loan"]["status"] == "PAID_OFF" and statement["lines"][0]["status"] == "PAID"
    assert [t["type"] for t in statement["transactions"]][-4:] == ["REPAYMENT", "REVERSAL", "REPAYMENT", "PAYOFF"]
    [book] = api.graphql(PORTFOLIO, {"asOf": "2026-02-15"}, token=desk.tokens[Role.AUDITOR])["data"]["portfolio"]
    assert (book["currency"], book["businessDate"], book["loans"], book["principal"]["amount"]) == ("CNY", "2026-02-15", 1, "10000.00")
    assert book["par30"] == "0.0000" and book["byBucket"][0] == {"bucket": "CURRENT", "shortName": "M0", "count": 1,
                                                                 "principal": {"amount": "10000.00"}}
    verified = api.graphql("{ verifyAudit { ok discrepancies { source message } chainedEvents } }", token=desk.tokens[Role.AUDITOR])
    assert verified["data"]["verifyAudit"]["ok"] is True, verified


SCHEDULES = """query($id: ID!) { loan(id: $id) {
  scheduleVersion balances { principal { amount } }
  schedule { number dueDate principal { amount } total { amount } }
  original: schedule(version: 1) { number }
  transactions { type allocation { principal { amount } } }
} }"""
PREVIEW = """query($i: RestructurePreviewInput!) { restructurePreview(input: $i) {
  __typename ... on RestructurePreview { schedule { installments { number } totalPrincipal } } ... on Error { code message } } }"""


def test_prepayment_and_restructure_reschedule_and_keep_the_old_schedule(api):
    desk = Desk(api)
    finance = desk.tokens[Role.FINANCE]
    loan_id = desk.active()
    prepaid = expect(api, finance, "prepayLoan", {"loanId": loan_id, "amount": "4000.00", "currency": "CNY",
                                                   "effectiveDate": DISBURSED_ON, "mode": "REDUCE_TERM"})
    assert prepaid["allocation"]["principal"]["amount"] == "4000.00" and lines(prepaid) == [
        ("1100", "DEBIT", "4000.00"), ("1200", "CREDIT", "4000.00"),
    ]
    loan = api.graphql(SCHEDULES, {"id": loan_id}, token=finance)["data"]["loan"]
    assert loan["scheduleVersion"] == 2 and loan["balances"]["principal"]["amount"] == "6000.00"
    assert len(loan["original"]) == 12 and len(loan["schedule"]) < 12, "REDUCE_TERM keeps the installment and ends sooner"
    assert sum(Decimal(i["principal"]["amount"]) for i in loan["schedule"]) == Decimal("6000.00")

    preview = api.graphql(PREVIEW, {"i": {"loanId": loan_id, "effectiveDate": DISBURSED_ON, "termPeriods": 24}}, token=desk.tokens[Role.AUDITOR])
    proposed = preview["data"]["restructurePreview"]
    assert proposed["__typename"] == "RestructurePreview" and len(proposed["schedule"]["installments"]) == 24
    assert proposed["schedule"]["totalPrincipal"] == "6000.00"
    assert api.graphql(SCHEDULES, {"id": loan_id}, token=finance)["data"]["loan"]["scheduleVersion"] == 2, "a preview writes nothing"
    restructured = expect(api, finance, "restructureLoan", {"loanId": loan_id, "effectiveDate": DISBURSED_ON, "termPeriods": 24,
                                                              "reason": "hardship"})
    assert restructured["transaction"]["type"] == "RESTRUCTURE" and restructured["journalEntry"] is None
    loan = api.graphql(SCHEDULES, {"id": loan_id}, token=finance)["data"]["loan"]
    assert loan["scheduleVersion"] == 3 and len(loan["schedule"]) == 24 and len(loan["original"]) == 12
    assert [t["type"] for t in loan["transactions"]] == ["RESTRUCTURE", "PREPAYMENT", "DISBURSEMENT"]
