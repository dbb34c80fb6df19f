"""The role x operation matrix, exhaustively: every role runs every root operation over HTTP, and
the outcome (allowed, or FORBIDDEN with nothing written) matches graphql_api.core.permissions."""
from __future__ import annotations

import uuid

import pytest

from graphql_api.core.permissions import operation_roles, pii_readers
from graphql_api.core.scalars import encode_id
from identity.model import Role
from tests.api.lending import CASH_PRODUCT, DISBURSED_ON, MUTATIONS, ZHANG_SAN, Desk, expect
from tests.api.reconciliation_desk import RECONCILIATION_MUTATIONS, reconciliation_input, reconciliation_reads

SCHEDULE = {"principal": "10000.00", "currency": "CNY", "annualRate": "0.12", "termPeriods": 12,
            "method": "EQUAL_INSTALLMENT", "disbursementDate": "2026-01-15"}
CAPITAL = {"effectiveDate": "2026-01-05", "description": "capital", "postings": [
    {"accountCode": "1100", "side": "DEBIT", "amount": "1.00", "currency": "CNY"},
    {"accountCode": "3100", "side": "CREDIT", "amount": "1.00", "currency": "CNY"},
]}
POST = "mutation($i: PostJournalEntryInput!) { postJournalEntry(input: $i) { __typename ... on PostJournalEntryPayload { request { id } } } }"
APPROVE = "mutation($i: ApproveJournalEntryInput!) { approveJournalEntry(input: $i) { __typename ... on ApproveJournalEntryPayload { entry { id } } } }"
REVERSE = "mutation($i: ReverseJournalEntryInput!) { reverseJournalEntry(input: $i) { __typename } }"
DECIDE = {
    name: f"mutation($i: {name[0].upper() + name[1:]}Input!) {{ {name}(input: $i) {{ __typename }} }}"
    for name in ("approveJournalEntry", "rejectJournalEntry", "cancelJournalEntry")
}


def pending_request(desk: Desk, maker: Role) -> str:
    body = desk.api.graphql(POST, {"i": CAPITAL}, token=desk.tokens[maker])
    return body["data"]["postJournalEntry"]["request"]["id"]


def journal_decision(name: str, desk: Desk, role: Role) -> tuple[str, dict]:
    """A pending request `role` may decide: made by someone else to approve or reject, by `role` itself to cancel."""
    other = Role.FINANCE if role is Role.ADMIN else Role.ADMIN
    maker = role if name == "cancelJournalEntry" and role in (Role.ADMIN, Role.FINANCE) else other
    extra = {"reason": "matrix"} if name == "rejectJournalEntry" else {}
    return DECIDE[name], {"i": {"requestId": pending_request(desk, maker), **extra}}


def cny(loan_id: str, amount: str = "1.00") -> dict:
    return {"loanId": loan_id, "amount": amount, "currency": "CNY", "effectiveDate": DISBURSED_ON}


def loan_mutation(name: str, desk: Desk) -> dict:
    """A valid input for each loan mutation, set up afresh where a mutation can only succeed once."""
    finance = desk.tokens[Role.FINANCE]
    if name == "reverseRepayment":
        loan_id = desk.shared("repaid", desk.active)
        paid = expect(desk.api, finance, "recordRepayment", cny(loan_id))
        return {"loanId": loan_id, "transactionId": paid["transaction"]["id"], "effectiveDate": DISBURSED_ON, "reason": "bounced"}
    if name == "waiveFee":
        loan_id = desk.shared("charged", desk.active)
        expect(desk.api, finance, "chargeFee", cny(loan_id))
        return {**cny(loan_id), "reason": "goodwill"}
    return {
        "createBorrower": lambda: ZHANG_SAN,
        "createLoanProduct": lambda: CASH_PRODUCT,
        "submitLoanApplication": lambda: {
            "borrowerId": desk.shared("borrower", desk.borrower), "productCode": desk.product(), "principal": "1000",
            "annualRate": "0.1", "termPeriods": 6, "disbursementDate": DISBURSED_ON,
        },
        "withdrawLoanApplication": lambda: {"loanId": desk.applied()},
        "approveLoan": lambda: {"loanId": desk.applied()},
        "rejectLoan": lambda: {"loanId": desk.applied(), "reason": "matrix"},
        "disburseLoan": lambda: {"loanId": desk.approved(), "effectiveDate": DISBURSED_ON},
        "recordRepayment": lambda: cny(desk.shared("active", desk.active)),
        "payOffLoan": lambda: cny(desk.active(), "10000.00"),
        "prepayLoan": lambda: cny(desk.shared("prepaid", desk.active), "100.00"),
        "chargeFee": lambda: cny(desk.shared("active", desk.active)),
        "writeOffLoan": lambda: {"loanId": desk.active(), "effectiveDate": DISBURSED_ON, "reason": "matrix"},
        "recordRecovery": lambda: cny(desk.shared("written off", desk.written_off)),
        "restructureLoan": lambda: {"loanId": desk.shared("restructured", desk.active), "effectiveDate": DISBURSED_ON,
                                    "termPeriods": 24, "reason": "matrix"},
        "runCloseOfBusiness": lambda: {"businessDate": "2026-01-20"},
        "openAccount": lambda: {"code": f"1190-{uuid.uuid4().hex[:8]}", "name": "Petty cash", "type": "ASSET", "parentCode": "1000"},
        "closeAccount": lambda: {"code": expect(desk.api, finance, "openAccount", {
            "code": f"1190-{uuid.uuid4().hex[:8]}", "name": "To close", "type": "ASSET", "parentCode": "1000"})["account"]["code"]},
        "createApiToken": lambda: {"role": "COLLECTOR"},
        "setClassificationPolicy": lambda: {"lossFromDpd": 365},
        "revokeApiToken": lambda: {"tokenId": expect(desk.api, desk.tokens[Role.ADMIN], "createApiToken", {"role": "AUDITOR"})["token"]["id"]},
        "receiveUnidentifiedReceipt": lambda: {"amount": "10.00", "currency": "CNY", "receivedOn": DISBURSED_ON, "reference": "matrix"},
        "applyUnidentifiedReceipt": lambda: {
            "receiptId": desk.receipt("1.00"), "loanId": desk.shared("active", desk.active), "effectiveDate": DISBURSED_ON,
        },
    }[name]()


def operation(name: str, desk: Desk, role: Role) -> tuple[str, dict]:
    """A minimal, valid document for each root field, for `role` to run."""
    api, admin = desk.api, desk.tokens[Role.ADMIN]
    if name in MUTATIONS:
        return MUTATIONS[name], {"i": loan_mutation(name, desk)}
    if name in RECONCILIATION_MUTATIONS:
        return RECONCILIATION_MUTATIONS[name], {"i": reconciliation_input(name, desk)}
    if name in reconciliation_reads:
        document, variables = reconciliation_reads[name]
        return document, variables if variables is not None else {"id": encode_id("BankStatement", uuid.uuid4())}
    if name in DECIDE:
        return journal_decision(name, desk, role)
    if name == "reopenPeriod":
        closing = {"i": {"throughDate": "2025-06-30", "reason": "to reopen"}}
        closed = api.graphql("mutation($i: ClosePeriodInput!) { closePeriod(input: $i) { __typename } }", closing, token=admin)
        assert closed["data"]["closePeriod"]["__typename"] == "PeriodClosurePayload", closed
        return "mutation($i: ReopenPeriodInput!) { reopenPeriod(input: $i) { __typename } }", {"i": {"reason": "matrix"}}
    if name == "reverseJournalEntry":
        approved = api.graphql(APPROVE, {"i": {"requestId": pending_request(desk, Role.FINANCE)}}, token=admin)
        entry_id = approved["data"]["approveJournalEntry"]["entry"]["id"]
        return REVERSE, {"i": {"entryId": entry_id, "effectiveDate": "2026-01-06", "reason": "matrix"}}
    nowhere = encode_id("Loan", uuid.uuid4())
    documents = {
        "me": ("{ me { role permissions } }", {}),
        "accounts": ("{ accounts(first: 2) { edges { node { code } } } }", {}),
        "account": ('{ account(code: "1100") { code } }', {}),
        "trialBalance": ("{ trialBalance { balanced } }", {}),
        "journalEntries": ("{ journalEntries(first: 1) { edges { cursor } } }", {}),
        "journalEntry": ("query($id: ID!) { journalEntry(id: $id) { id } }", {"id": encode_id("JournalEntry", uuid.uuid4())}),
        "previewSchedule": ("query($i: ScheduleInput!) { previewSchedule(input: $i) { totalPayment } }", {"i": SCHEDULE}),
        "postJournalEntry": (POST, {"i": CAPITAL}),
        "journalEntryRequests": ("{ journalEntryRequests(status: PENDING, first: 1) { edges { node { id status } } } }", {}),
        "journalEntryRequest": ("query($id: ID!) { journalEntryRequest(id: $id) { id } }",
                                {"id": encode_id("JournalEntryRequest", uuid.uuid4())}),
        "borrowers": ("{ borrowers(first: 1) { edges { node { id nationalId } } } }", {}),
        "borrower": ("query($id: ID!) { borrower(id: $id) { nationalId piiMasked } }", {"id": desk.shared("borrower", desk.borrower)}),
        "loanProducts": ("{ loanProducts { edges { node { code version } } } }", {}),
        "loanProduct": ('{ loanProduct(code: "CASH12") { code } }', {}),
        "loans": ("{ loans(first: 1) { edges { node { id status } } } }", {}),
        "loan": ("query($id: ID!) { loan(id: $id) { id } }", {"id": nowhere}),
        "loanStatement": ('query($id: ID!) { loanStatement(loanId: $id, asOf: "2026-01-15") { asOf } }', {"id": nowhere}),
        "payoffQuote": ('query($id: ID!) { payoffQuote(loanId: $id, date: "2026-01-15") { __typename } }',
                        {"id": desk.shared("active", desk.active)}),
        "restructurePreview": ("query($i: RestructurePreviewInput!) { restructurePreview(input: $i) { __typename } }",
                               {"i": {"loanId": desk.shared("active", desk.active), "effectiveDate": DISBURSED_ON, "termPeriods": 24}}),
        "portfolio": ('{ portfolio(asOf: "2026-01-15") { currency } }', {}),
        "classificationPolicy": ("{ classificationPolicy { lossFromDpd provisionRates { loanClass rate } } }", {}),
        "apiTokens": ("{ apiTokens(first: 5) { edges { node { id name role active } } } }", {}),
        "unidentifiedReceipts": ("{ unidentifiedReceipts(status: UNAPPLIED, first: 1) { edges { node { id status } } } }", {}),
        "unidentifiedReceipt": ("query($id: ID!) { unidentifiedReceipt(id: $id) { id } }", {"id": encode_id("UnidentifiedReceipt", uuid.uuid4())}),
        "closeOfBusinessRuns": ("{ closeOfBusinessRuns(first: 1) { edges { node { id status } } } }", {}),
        "closeOfBusinessRun": ("query($id: ID!) { closeOfBusinessRun(id: $id) { id } }", {"id": encode_id("CloseOfBusinessRun", uuid.uuid4())}),
        "auditEvents": ("{ auditEvents(first: 1) { edges { node { action } } } }", {}),
        "verifyAudit": ("{ verifyAudit { ok } }", {}),
        "auditDigest": ("{ auditDigest { digest seq } }", {}),
        "balanceSheet": ('{ balanceSheet(asOf: "2026-01-31") { balanced } }', {}),
        "incomeStatement": ('{ incomeStatement(dateFrom: "2026-01-01", dateTo: "2026-01-31") { netIncome { amount } } }', {}),
        "generalLedgerDetail": ('{ generalLedgerDetail(accountCode: "1100", currency: "CNY", dateFrom: "2026-01-01",'
                                ' dateTo: "2026-01-31") { openingBalance { amount } } }', {}),
        "loanTape": ('{ loanTape(asOf: "2026-01-31") { loanId } }', {}),
        "classificationSummary": ('{ classificationSummary(asOf: "2026-01-31") { loanClass } }', {}),
        "closedThrough": ("{ closedThrough }", {}),
        "periodClosures": ("{ periodClosures { seq } }", {}),
        # Each allowed role closes later than the one before (roles come in enum order).
        "closePeriod": ("mutation($i: ClosePeriodInput!) { closePeriod(input: $i) { __typename } }",
                        {"i": {"throughDate": f"2025-{list(Role).index(role) + 1:02d}-28", "reason": "matrix"}}),
        "closeFiscalYear": ("mutation($i: CloseFiscalYearInput!) { closeFiscalYear(input: $i) { __typename } }",
                            {"i": {"year": 2020 + list(Role).index(role), "reason": "matrix"}}),
    }
    return documents[name]


@pytest.mark.parametrize("name", sorted(operation_roles))
def test_every_role_against_every_operation(api, name):
    desk = Desk(api)
    prepared = None
    for role in Role:
        if role in operation_roles[name] or prepared is None:
            # A fresh input for each allowed role; a refused role never gets as far as reading its input.
            prepared = operation(name, desk, role)
        document, variables = prepared
        body = api.graphql(document, variables, token=desk.tokens[role])
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
        if role in operation_roles[name]:
            assert "errors" not in body and body["data"] is not None, (role, body)
            assert "Error" not in str(body["data"]), (role, body)
        else:
            # A nullable root field comes back null next to the error; a non-null one nulls `data`.
            assert not any((body["data"] or {}).values()) and codes == ["FORBIDDEN"], (role, body)
    me = api.graphql("{ me { permissions } }", token=desk.tokens[Role.AUDITOR])["data"]["me"]
    assert "postJournalEntry" not in me["permissions"] and "journalEntries" in me["permissions"]
    assert "auditEvents" in me["permissions"] and "recordRepayment" not in me["permissions"]


def test_only_pii_readers_see_unmasked_values(api):
    desk = Desk(api)
    borrower_id = desk.borrower()
    for role in Role:
        found = api.graphql("query($id: ID!) { borrower(id: $id) { nationalId piiMasked } }", {"id": borrower_id}, token=desk.tokens[role])
        unmasked = role in pii_readers
        assert found["data"]["borrower"] == {
            "nationalId": ZHANG_SAN["nationalId"] if unmasked else "110***********1234", "piiMasked": not unmasked,
        }, role


def test_preview_schedule_over_http(api):
    token = api.tenant(Role.LOAN_OFFICER).tokens[Role.LOAN_OFFICER]
    query = """query($i: ScheduleInput!) { previewSchedule(input: $i) {
        totalPrincipal totalInterest annualizedRate installments { number dueDate principal interest total balanceAfter } } }"""
    schedule = api.graphql(query, {"i": SCHEDULE}, token=token)["data"]["previewSchedule"]
    # 10,000 at 12 % a year over 12 months, annuity: 888.49 a month (the last one absorbs rounding).
    assert schedule["totalPrincipal"] == "10000.00"
    assert schedule["installments"][0] == {
        "number": 1, "dueDate": "2026-02-15", "principal": "788.49", "interest": "100.00", "total": "888.49", "balanceAfter": "9211.51",
    }
    assert schedule["installments"][-1]["balanceAfter"] == "0.00"

    bad = api.graphql(query, {"i": {**SCHEDULE, "principal": "0", "termPeriods": 601}}, token=token)
    assert bad["data"] is None
    extensions = bad["errors"][0]["extensions"]
    assert extensions["code"] == "BAD_USER_INPUT" and extensions["field"] == "principal"
    assert [(p["field"], p["code"]) for p in extensions["problems"]] == [
        ("principal", "PRINCIPAL_NOT_POSITIVE"), ("termPeriods", "TERM_OUT_OF_RANGE"),
    ]
    too_precise = api.graphql(query, {"i": {**SCHEDULE, "principal": "100.001"}}, token=token)
    assert too_precise["errors"][0]["extensions"]["problems"][0]["code"] == "AMOUNT_TOO_PRECISE"
    as_number = api.graphql(query, {"i": {**SCHEDULE, "annualRate": 0.12}}, token=token)
    assert as_number["data"] is None and as_number["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not a JSON number" in as_number["errors"][0]["message"]


def test_the_readme_matrix_is_the_permissions_module():
    from pathlib import Path

    from graphql_api.core.role_matrix import matrix_rows

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("| operation | admin |")
    table = readme[start:readme.index("\n\n", start)].splitlines()
    assert table == matrix_rows(), "README's role matrix is stale: paste `python -m graphql_api.core.role_matrix` into it"
