"""Period close over HTTP: finance closes, everyone sees it, every road then refuses the closed dates."""
from __future__ import annotations

from identity.model import Role
from tests.api.lending import DISBURSED_ON, Desk, expect
from tests.api.test_api_http import error_codes

RESULT = "__typename ... on Error { code message } ... on PeriodClosedError { closedThrough }"
CLOSE = "mutation($i: ClosePeriodInput!) { closePeriod(input: $i) { " + RESULT + " ... on PeriodClosurePayload { closure { seq throughDate reason closedBy } } } }"
REOPEN = "mutation($i: ReopenPeriodInput!) { reopenPeriod(input: $i) { " + RESULT + " ... on PeriodClosurePayload { closure { seq reopenReason } } } }"
REPAY = ("mutation($i: RecordRepaymentInput!) { recordRepayment(input: $i) { __typename ... on Error { code } } }")
CLOSED = "{ closedThrough periodClosures { seq throughDate reopenedAt } }"


def test_finance_closes_the_books_and_a_backdated_repayment_is_refused_until_an_admin_reopens(api):
    desk = Desk(api)
    loan_id = desk.active()
    finance, admin = desk.tokens[Role.FINANCE], desk.tokens[Role.ADMIN]
    closed = api.graphql(CLOSE, {"i": {"throughDate": DISBURSED_ON, "reason": "January closed"}}, token=finance)["data"]["closePeriod"]
    assert closed["__typename"] == "PeriodClosurePayload" and closed["closure"]["throughDate"] == DISBURSED_ON
    seen = api.graphql(CLOSED, token=desk.tokens[Role.COLLECTOR])["data"]
    assert seen["closedThrough"] == DISBURSED_ON and [c["seq"] for c in seen["periodClosures"]] == [1]
    refused = api.graphql(REPAY, {"i": {"loanId": loan_id, "amount": "10.00", "currency": "CNY", "effectiveDate": DISBURSED_ON}},
                          token=finance)["data"]["recordRepayment"]
    assert refused["code"] == "PERIOD_CLOSED"
    again = api.graphql(CLOSE, {"i": {"throughDate": DISBURSED_ON, "reason": "twice"}}, token=finance)["data"]["closePeriod"]
    assert again["__typename"] == "InvalidPeriodCloseError"
    assert error_codes(api.graphql(REOPEN, {"i": {"reason": "mine"}}, token=finance)) == ["FORBIDDEN"]
    reopened = api.graphql(REOPEN, {"i": {"reason": "bank fee found"}}, token=admin)["data"]["reopenPeriod"]
    assert reopened["closure"] == {"seq": 1, "reopenReason": "bank fee found"}
    expect(api, finance, "recordRepayment", {"loanId": loan_id, "amount": "10.00", "currency": "CNY", "effectiveDate": DISBURSED_ON})


DIGEST = "{ auditDigest { seq hash digest sealedAt } }"
VERIFY = "query($d: String) { verifyAudit(digest: $d) { ok discrepancies { source message } } }"
EVENTS = ("query($a: String, $from: DateTime, $before: DateTime) { auditEvents(first: 20, action: $a, occurredFrom: $from,"
          " occurredBefore: $before) { edges { node { action actor reason before after occurredAt } } } }")


def test_an_auditor_takes_a_digest_proves_it_and_filters_the_trail_by_time(api):
    desk = Desk(api)
    auditor, finance = desk.tokens[Role.AUDITOR], desk.tokens[Role.FINANCE]
    closing = {"i": {"throughDate": "2026-01-31", "reason": "January closed"}}
    assert api.graphql(CLOSE, closing, token=finance)["data"]["closePeriod"]["__typename"] == "PeriodClosurePayload"
    head = api.graphql(DIGEST, token=auditor)["data"]["auditDigest"]
    assert head["digest"] == f"{head['seq']}:{head['hash']}" and head["seq"] > 0 and head["sealedAt"]
    proved = api.graphql(VERIFY, {"d": head["digest"]}, token=auditor)["data"]["verifyAudit"]
    assert proved == {"ok": True, "discrepancies": []}
    wrong = head["digest"][:-4] + ("0000" if not head["digest"].endswith("0000") else "1111")
    refuted = api.graphql(VERIFY, {"d": wrong}, token=auditor)["data"]["verifyAudit"]
    assert refuted["ok"] is False and refuted["discrepancies"][0]["source"] == "DIGEST"
    assert error_codes(api.graphql(VERIFY, {"d": "nonsense"}, token=auditor)) == ["BAD_USER_INPUT"]
    (event,) = [e["node"] for e in api.graphql(EVENTS, {"a": "period.closed"}, token=auditor)["data"]["auditEvents"]["edges"]]
    assert (event["reason"], event["before"], event["after"]) == ("January closed", {"closed_through": None},
                                                                 {"closed_through": "2026-01-31", "seq": 1})
    at = event["occurredAt"]
    assert len(api.graphql(EVENTS, {"a": "period.closed", "from": at}, token=auditor)["data"]["auditEvents"]["edges"]) == 1
    assert api.graphql(EVENTS, {"a": "period.closed", "before": at}, token=auditor)["data"]["auditEvents"]["edges"] == []


REPORTS = """query($known: DateTime) {
  balanceSheet(asOf: "2026-01-31", knownOn: $known) { balanced assets { totals { amount currency } } currentEarnings { amount } }
  incomeStatement(dateFrom: "2026-01-01", dateTo: "2026-01-31") { netIncome { amount currency } }
  generalLedgerDetail(accountCode: "1200", currency: "CNY", dateFrom: "2026-01-01", dateTo: "2026-01-31", first: 1) {
    openingBalance { amount } lines { amount { amount } runningBalance { amount } } closingBalance { amount } endCursor }
}"""


def test_finance_reads_the_statements_over_the_api(api):
    desk = Desk(api)
    desk.active()  # disbursed 10,000.00 on 15 January with a 2 % fee deducted
    body = api.graphql(REPORTS, {"known": None}, token=desk.tokens[Role.AUDITOR])
    assert "errors" not in body, body
    data = body["data"]
    assert data["balanceSheet"]["balanced"] is True
    assert data["incomeStatement"]["netIncome"] == [{"amount": "200.00", "currency": "CNY"}]
    assert data["balanceSheet"]["currentEarnings"] == [{"amount": "200.00"}]
    gl = data["generalLedgerDetail"]
    assert gl["openingBalance"] == {"amount": "0.00"} and gl["lines"][0]["runningBalance"] == {"amount": "10000.00"}
    before = api.graphql(REPORTS, {"known": "2000-01-01T00:00:00Z"}, token=desk.tokens[Role.FINANCE])["data"]
    assert before["balanceSheet"]["assets"]["totals"] == [] and before["balanceSheet"]["balanced"] is True
    assert set(error_codes(api.graphql(REPORTS, {"known": None}, token=desk.tokens[Role.COLLECTOR]))) == {"FORBIDDEN"}


def test_the_trial_balance_as_known_on_a_moment_leaves_out_later_entries(api):
    desk = Desk(api)
    desk.active()
    query = 'query($k: DateTime) { trialBalance(asOf: "2026-01-31", knownOn: $k) { balanced lines { account { code } } } }'
    now = api.graphql(query, {"k": "2999-01-01T00:00:00Z"}, token=desk.tokens[Role.FINANCE])["data"]["trialBalance"]
    then = api.graphql(query, {"k": "2000-01-01T00:00:00Z"}, token=desk.tokens[Role.FINANCE])["data"]["trialBalance"]
    assert now["balanced"] and {"1100", "1200"} <= {line["account"]["code"] for line in now["lines"]}
    assert then == {"balanced": True, "lines": []}
