"""The role x operation matrix, exhaustively: every role runs every root operation over HTTP, and
the outcome (allowed, or FORBIDDEN with nothing written) matches graphql_api.permissions."""
from __future__ import annotations

import uuid

import pytest

from graphql_api.permissions import operation_roles
from graphql_api.scalars import encode_id
from identity.model import Role

SCHEDULE = {"principal": "10000.00", "currency": "CNY", "annualRate": "0.12", "termPeriods": 12,
            "method": "EQUAL_INSTALLMENT", "disbursementDate": "2026-01-15"}
CAPITAL = {"effectiveDate": "2026-01-05", "description": "capital", "postings": [
    {"accountCode": "1100", "side": "DEBIT", "amount": "1.00", "currency": "CNY"},
    {"accountCode": "3100", "side": "CREDIT", "amount": "1.00", "currency": "CNY"},
]}
POST = "mutation($i: PostJournalEntryInput!) { postJournalEntry(input: $i) { __typename ... on PostJournalEntryPayload { entry { id } } } }"
REVERSE = "mutation($i: ReverseJournalEntryInput!) { reverseJournalEntry(input: $i) { __typename } }"


def operation(name: str, api, admin_token: str) -> tuple[str, dict]:
    """A minimal, valid document for each root field."""
    if name == "reverseJournalEntry":
        entry_id = api.graphql(POST, {"i": CAPITAL}, token=admin_token)["data"]["postJournalEntry"]["entry"]["id"]
        return REVERSE, {"i": {"entryId": entry_id, "effectiveDate": "2026-01-06", "reason": "matrix"}}
    documents = {
        "me": ("{ me { role permissions } }", {}),
        "accounts": ("{ accounts(first: 2) { edges { node { code } } } }", {}),
        "account": ('{ account(code: "1100") { code } }', {}),
        "trialBalance": ("{ trialBalance { balanced } }", {}),
        "journalEntries": ("{ journalEntries(first: 1) { edges { cursor } } }", {}),
        "journalEntry": ("query($id: ID!) { journalEntry(id: $id) { id } }", {"id": encode_id("JournalEntry", uuid.uuid4())}),
        "previewSchedule": ("query($i: ScheduleInput!) { previewSchedule(input: $i) { totalPayment } }", {"i": SCHEDULE}),
        "postJournalEntry": (POST, {"i": CAPITAL}),
    }
    return documents[name]


@pytest.mark.parametrize("name", sorted(operation_roles))
def test_every_role_against_every_operation(api, name):
    books = api.tenant(*Role)
    admin = books.tokens[Role.ADMIN]
    for role in Role:
        document, variables = operation(name, api, admin)
        body = api.graphql(document, variables, token=books.tokens[role])
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
        if role in operation_roles[name]:
            assert "errors" not in body and body["data"] is not None, (role, body)
            assert "Error" not in str(body["data"]), (role, body)
        else:
            assert body["data"] is None and codes == ["FORBIDDEN"], (role, body)
    me = api.graphql("{ me { permissions } }", token=books.tokens[Role.AUDITOR])["data"]["me"]
    assert "postJournalEntry" not in me["permissions"] and "journalEntries" in me["permissions"]


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
