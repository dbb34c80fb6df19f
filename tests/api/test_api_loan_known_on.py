"""loanStatement(knownOn:) over HTTP: a repayment recorded late and backdated is absent before its recording.

The desk's loan: 10,000.00 at 12 % over 12 months from 15 January 2026, installment 888.49. Closed
through 25 February unpaid, installment 1 is 10 days overdue with 3.90 penalty and the 50.00 late
fee; the repayment dated 15 February then recorded makes it paid on time.
"""
from __future__ import annotations

import datetime as dt

from identity.model import Role
from tests.api.lending import Desk, expect

STATEMENT = """
query($id: ID!, $asOf: Date!, $knownOn: DateTime) { loanStatement(loanId: $id, asOf: $asOf, knownOn: $knownOn) {
  asOf knownOn lines { number status paid { amount } outstanding { amount } }
  balances { principal { amount } penalty { amount } fee { amount } }
  transactions { id type effectiveDate } transactionsTotal
} }"""


def statement(api, token, loan_id, known_on):
    body = api.graphql(STATEMENT, {"id": loan_id, "asOf": "2026-02-25", "knownOn": known_on}, token=token)
    assert "errors" not in body, body
    return body["data"]["loanStatement"]


def test_a_backdated_repayment_shows_only_when_known_on_is_after_its_recording(api):
    desk = Desk(api)
    finance, auditor = desk.tokens[Role.FINANCE], desk.tokens[Role.AUDITOR]
    loan_id = desk.active()
    expect(api, finance, "runCloseOfBusiness", {"businessDate": "2026-02-25"})
    before = dt.datetime.now(dt.timezone.utc).isoformat()
    paid = expect(api, finance, "recordRepayment", {"loanId": loan_id, "amount": "888.49", "currency": "CNY",
                                                    "effectiveDate": "2026-02-15"})
    after = dt.datetime.now(dt.timezone.utc).isoformat()

    then = statement(api, auditor, loan_id, before)
    assert paid["transaction"]["id"] not in {t["id"] for t in then["transactions"]}
    assert [(x["status"], x["paid"]["amount"]) for x in then["lines"][:2]] == [("OVERDUE", "0.00"), ("DUE", "0.00")]
    assert then["balances"] == {"principal": {"amount": "10000.00"}, "penalty": {"amount": "3.90"}, "fee": {"amount": "50.00"}}

    later = statement(api, auditor, loan_id, after)
    assert paid["transaction"]["id"] in {t["id"] for t in later["transactions"]}
    assert [(x["status"], x["paid"]["amount"]) for x in later["lines"][:2]] == [("PAID", "888.49"), ("DUE", "0.00")]
    assert later["balances"] == {"principal": {"amount": "9211.51"}, "penalty": {"amount": "0.00"}, "fee": {"amount": "0.00"}}
    assert later["transactionsTotal"] == then["transactionsTotal"] + 1
    now = statement(api, auditor, loan_id, None)
    assert now["knownOn"] is None and {k: v for k, v in now.items() if k != "knownOn"} == {k: v for k, v in later.items() if k != "knownOn"}

    naive = api.graphql(STATEMENT, {"id": loan_id, "asOf": "2026-02-25", "knownOn": "2026-02-25T00:00:00"}, token=auditor)
    assert "knownOn needs a time zone" in naive["errors"][0]["message"]
    unknown = statement(api, auditor, loan_id, "2020-01-01T00:00:00Z")
    assert unknown is None
