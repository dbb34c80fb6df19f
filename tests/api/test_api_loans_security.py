"""Borrower PII (masked, or unmasked and audited), tenant isolation of loans and borrowers, the audit log."""
from __future__ import annotations

import base64
import uuid

from identity.model import Role
from tests.api.lending import DISBURSED_ON, ZHANG_SAN, Desk, expect, send

BORROWER = """query($id: ID!, $masked: Boolean! = false, $reason: String) {
  borrower(id: $id, masked: $masked, reason: $reason) { id name kind nationalId phone bankAccount piiMasked } }"""
BORROWER_NAME = "query($id: ID!) { borrower(id: $id) { id name piiMasked } }"
BORROWERS = """query($nationalId: String) { borrowers(first: 10, nationalId: $nationalId) {
  edges { node { id nationalId phone bankAccount piiMasked } } } }"""
LOAN = "query($id: ID!) { loan(id: $id) { id borrower { nationalId phone piiMasked } } }"
LOANS = "query($status: LoanStatus) { loans(first: 10, status: $status) { edges { node { id status } } pageInfo { hasNextPage } } }"
AUDIT = """query($entityId: ID, $action: String, $first: Int! = 50, $after: String) {
  auditEvents(first: $first, after: $after, entityId: $entityId, action: $action) {
    edges { node { action actor entityType entityId reason requestId after } }
    pageInfo { hasNextPage endCursor }
  } }"""
REPAY = """mutation($i: RecordRepaymentInput!) { recordRepayment(input: $i) { __typename ... on Error { code message }
  ... on InvalidInputError { field } ... on WrongCurrencyError { field } ... on AmountNotPositiveError { field }
  ... on AmountTooPreciseError { field } ... on DateBeforeDisbursementError { field } ... on DateAfterBusinessDateError { field } } }"""
MASKED = {"nationalId": "110***********1234", "phone": "138****8000", "bankAccount": "622************3445"}
PLAIN = {"nationalId": ZHANG_SAN["nationalId"], "phone": ZHANG_SAN["phone"], "bankAccount": ZHANG_SAN["bankAccount"]}


def reveals(api, desk: Desk, borrower_id: str) -> list[dict]:
    edges = api.graphql(AUDIT, {"entityId": borrower_id, "action": "borrower.pii_revealed"}, token=desk.tokens[Role.AUDITOR])
    return [edge["node"] for edge in edges["data"]["auditEvents"]["edges"]]


def test_pii_is_masked_unless_the_role_may_see_it_and_every_unmasked_read_is_audited(api):
    desk = Desk(api)
    borrower_id = desk.borrower()
    for role in (Role.FINANCE, Role.APPROVER, Role.AUDITOR):
        masked = api.graphql(BORROWER, {"id": borrower_id}, token=desk.tokens[role])["data"]["borrower"]
        assert {k: masked[k] for k in MASKED} == MASKED and masked["piiMasked"] is True, role
    assert reveals(api, desk, borrower_id) == []

    for role in (Role.LOAN_OFFICER, Role.COLLECTOR, Role.ADMIN):
        body = api.graphql(BORROWER, {"id": borrower_id, "reason": f"{role.value} check"}, token=desk.tokens[role], **{"X-Request-ID": f"req-{role.value}"})
        plain = body["data"]["borrower"]
        assert {k: plain[k] for k in PLAIN} == PLAIN and plain["piiMasked"] is False, role
    # One audit event per unmasked read (not one per field), with the reason and the request id.
    events = reveals(api, desk, borrower_id)
    assert sorted((e["reason"], e["requestId"]) for e in events) == [
        ("admin check", "req-admin"), ("collector check", "req-collector"), ("loan_officer check", "req-loan_officer"),
    ]
    assert all(e["entityType"] == "borrower" and e["entityId"] == borrower_id and e["after"] is None for e in events)

    # Asking for masked values, or not selecting a sensitive field, reveals nothing and writes nothing.
    officer = desk.tokens[Role.LOAN_OFFICER]
    assert api.graphql(BORROWER, {"id": borrower_id, "masked": True}, token=officer)["data"]["borrower"]["nationalId"] == MASKED["nationalId"]
    assert api.graphql(BORROWER_NAME, {"id": borrower_id}, token=officer)["data"]["borrower"]["piiMasked"] is False
    # Lists and nested borrowers are masked for everyone: no query dumps a book's PII.
    listed = api.graphql(BORROWERS, token=desk.tokens[Role.ADMIN])["data"]["borrowers"]["edges"]
    assert [{k: e["node"][k] for k in MASKED} for e in listed] == [MASKED]
    loan_id = desk.applied(borrower=borrower_id)
    nested = api.graphql(LOAN, {"id": loan_id}, token=officer)["data"]["loan"]["borrower"]
    assert nested == {"nationalId": MASKED["nationalId"], "phone": MASKED["phone"], "piiMasked": True}
    assert len(reveals(api, desk, borrower_id)) == 3

    # Exact lookup by national ID goes through the blind index; spaces and case do not matter.
    found = api.graphql(BORROWERS, {"nationalId": "1101 0519 9001 011234"}, token=officer)["data"]["borrowers"]["edges"]
    assert [e["node"]["id"] for e in found] == [borrower_id]
    assert api.graphql(BORROWERS, {"nationalId": "110105199001019999"}, token=officer)["data"]["borrowers"]["edges"] == []
    # Stored ciphertext only.
    with api.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT * FROM borrowers WHERE name = '张三'").first()
    assert not any(value in " ".join(str(v) for v in row) for value in PLAIN.values())


def test_another_tenant_cannot_see_or_touch_loans_and_borrowers_even_with_their_ids(api):
    ours, theirs = Desk(api), Desk(api)
    loan_id = ours.active()
    borrower_id = ours.borrower()
    repayment = expect(api, ours.tokens[Role.FINANCE], "recordRepayment",
                       {"loanId": loan_id, "amount": "50.00", "currency": "CNY", "effectiveDate": DISBURSED_ON})
    admin = theirs.tokens[Role.ADMIN]

    assert api.graphql(LOAN, {"id": loan_id}, token=admin) == {"data": {"loan": None}}
    assert api.graphql(BORROWER, {"id": borrower_id}, token=admin) == {"data": {"borrower": None}}
    assert api.graphql(LOANS, token=admin)["data"]["loans"]["edges"] == []
    assert api.graphql(BORROWERS, {"nationalId": ZHANG_SAN["nationalId"]}, token=admin)["data"]["borrowers"]["edges"] == []
    statement = "query($id: ID!) { loanStatement(loanId: $id, asOf: \"2026-01-15\") { asOf } }"
    assert api.graphql(statement, {"id": loan_id}, token=admin) == {"data": {"loanStatement": None}}
    quote = 'query($id: ID!) { payoffQuote(loanId: $id, date: "2026-01-15") { __typename ... on UnknownLoanError { code loanId } } }'
    assert api.graphql(quote, {"id": loan_id}, token=admin)["data"]["payoffQuote"] == {
        "__typename": "UnknownLoanError", "code": "UNKNOWN_LOAN", "loanId": loan_id,
    }
    assert reveals(api, theirs, borrower_id) == []

    # Reported exactly like ids that exist nowhere: no hint that another tenant has them.
    nowhere = base64.urlsafe_b64encode(f"Loan:{uuid.uuid4()}".encode()).decode().rstrip("=")
    for probe in (loan_id, nowhere):
        repay = send(api, admin, "recordRepayment", {"loanId": probe, "amount": "1.00", "currency": "CNY", "effectiveDate": DISBURSED_ON})
        assert (repay["__typename"], repay["code"]) == ("UnknownLoanError", "UNKNOWN_LOAN")
        assert probe in repay["message"]
        assert send(api, admin, "approveLoan", {"loanId": probe})["__typename"] == "UnknownLoanError"
        assert send(api, admin, "disburseLoan", {"loanId": probe, "effectiveDate": DISBURSED_ON})["__typename"] == "UnknownLoanError"
    reverse = send(api, admin, "reverseRepayment", {"loanId": theirs.active(), "transactionId": repayment["transaction"]["id"],
                                                     "effectiveDate": DISBURSED_ON, "reason": "probe"})
    assert reverse["__typename"] == "UnknownTransactionError"
    application = send(api, theirs.tokens[Role.LOAN_OFFICER], "submitLoanApplication", {
        "borrowerId": borrower_id, "productCode": theirs.product(), "principal": "1000", "annualRate": "0.1",
        "termPeriods": 6, "disbursementDate": DISBURSED_ON,
    })
    assert (application["__typename"], application["borrowerId"]) == ("UnknownBorrowerError", borrower_id)
    assert api.graphql(AUDIT, {"entityId": loan_id}, token=theirs.tokens[Role.AUDITOR])["data"]["auditEvents"]["edges"] == []

    # Our loan is untouched.
    mine = api.graphql(LOANS, {"status": "ACTIVE"}, token=ours.tokens[Role.AUDITOR])["data"]["loans"]["edges"]
    assert [e["node"]["id"] for e in mine] == [loan_id]


def test_malformed_ids_and_bad_amounts_are_typed_errors_that_write_nothing(api):
    desk = Desk(api)
    loan_id = desk.active()
    finance = desk.tokens[Role.FINANCE]
    repay = {"loanId": loan_id, "amount": "10.00", "currency": "CNY", "effectiveDate": "2026-01-16"}
    cases = [
        ({"loanId": "not-an-id"}, "InvalidInputError", "loanId"),
        ({"loanId": base64.urlsafe_b64encode(f"Borrower:{uuid.uuid4()}".encode()).decode()}, "InvalidInputError", "loanId"),
        ({"currency": "USD"}, "WrongCurrencyError", "currency"),
        ({"amount": "0"}, "AmountNotPositiveError", "amount"),
        ({"amount": "-5.00"}, "AmountNotPositiveError", "amount"),
        ({"amount": "10.001"}, "AmountTooPreciseError", "amount"),
        ({"effectiveDate": "2026-01-01"}, "DateBeforeDisbursementError", "effectiveDate"),
        ({"effectiveDate": "2026-03-01"}, "DateAfterBusinessDateError", "effectiveDate"),
        ({"idempotencyKey": "k" * 201}, "InvalidInputError", "idempotencyKey"),
    ]
    for change, typename, field in cases:
        result = api.graphql(REPAY, {"i": {**repay, **change}}, token=finance)["data"]["recordRepayment"]
        assert (result["__typename"], result["field"]) == (typename, field), (change, result)
    as_number = api.graphql(
        "mutation($i: RecordRepaymentInput!) { recordRepayment(input: $i) { __typename } }", {"i": {**repay, "amount": 10.5}}, token=finance,
    )
    assert as_number["data"] is None and "not a JSON number" in as_number["errors"][0]["message"]
    transactions = "query($id: ID!) { loan(id: $id) { transactions { type } } }"
    assert api.graphql(transactions, {"id": loan_id}, token=finance)["data"]["loan"]["transactions"] == [{"type": "DISBURSEMENT"}]
    too_big = send(api, desk.tokens[Role.LOAN_OFFICER], "submitLoanApplication", {
        "borrowerId": desk.borrower(), "productCode": desk.product(), "principal": "10000", "annualRate": "0.36",
        "termPeriods": 12, "disbursementDate": DISBURSED_ON,
    })
    assert (too_big["__typename"], too_big["field"]) == ("OutsideProductRangeError", "annualRate")
    bad_product = send(api, desk.tokens[Role.ADMIN], "createLoanProduct", {
        "code": "X", "name": "x", "currency": "CNY", "glAccounts": [{"role": "BANK", "accountCode": "9999"}],
    })
    assert (bad_product["__typename"], bad_product["field"]) == ("InvalidProductError", "glAccounts")


def test_audit_events_page_and_filter(api):
    desk = Desk(api)
    loan_id = desk.active()
    auditor = desk.tokens[Role.AUDITOR]
    history = api.graphql(AUDIT, {"entityId": loan_id}, token=auditor)["data"]["auditEvents"]["edges"]
    assert [e["node"]["action"] for e in history] == ["loan.disbursement", "loan.approved", "loan.submitted"]
    seen, after = [], None
    while True:
        page = api.graphql(AUDIT, {"first": 2, "after": after}, token=auditor)["data"]["auditEvents"]
        seen += [(e["node"]["action"], e["node"]["entityId"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    everything = api.graphql(AUDIT, {"first": 100}, token=auditor)["data"]["auditEvents"]["edges"]
    assert len(seen) == len(everything) > 5
    refused = api.graphql(AUDIT, token=desk.tokens[Role.FINANCE])
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = api.graphql(AUDIT, {"entityId": "bm9wZQ"}, token=auditor)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
